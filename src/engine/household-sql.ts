import type { HouseholdCondition, HouseholdField } from '../rules/schema.ts';

/**
 * Compiles a rule's household conditions and priority order to parameterised SQL over an alias
 * `h` of `households`, so selection runs inside PostgreSQL (estimates, and later payment lists
 * built with INSERT … SELECT) and no household row passes through Node.
 *
 * ```ts
 * const q = new HouseholdSql();                       // or new HouseholdSql(params) to append
 * const where = q.condition(rule.response[0].households.eligibility);
 * const order = q.orderBy(rule.response[0].households.priority);
 * const sql = `WITH hh AS (${q.households()})
 *              SELECT h.registry_id FROM hh h WHERE ${where} ORDER BY ${order}`;
 * await raw.query(sql, q.params);
 * ```
 *
 * Conventions:
 * - Every value, attribute name and programme code is a bind parameter (`$n`), never spliced in.
 * - A compiled condition is true or false, never NULL. Inside it, logic is three-valued like the
 *   trigger evaluator: a comparison whose operand is missing (NULL, empty text, absent attribute)
 *   or not comparable (text against a number) is unknown, `not` of unknown stays unknown, and
 *   only the whole condition is coalesced to false. So a missing value never matches a
 *   comparison nor its negation; `exists` / `missing` test presence explicitly.
 * - Attributes are text in jsonb. A number in the rule compares numerically (a value that does
 *   not look like a number does not match, it never throws); text compares as text (byte order,
 *   `COLLATE "C"`, the same on every server); true/false compare with the text 'true'/'false'.
 * - `percentile` needs a window over whole areas (percent_rank), which a row-level expression
 *   cannot compute: the condition reads a column `h.percentile_N` that {@link households} adds.
 *   So select from `(${q.households()}) h` (typically as a CTE), never straight from
 *   `households h`, once a percentile has been compiled. Call `households()` after the
 *   conditions, since it emits the windows they asked for.
 */
export class HouseholdSql {
  readonly params: unknown[];
  private readonly windows: { key: string; score: ScoreSource; level: number }[] = [];

  constructor(params: unknown[] = []) {
    this.params = params;
  }

  /** Appends a bind parameter and returns its placeholder with a cast, e.g. `$3::numeric`. */
  param(value: unknown, type: string): string {
    this.params.push(value);
    return `$${this.params.length}::${type}`;
  }

  /** A boolean SQL expression over `h` that is true or false, never NULL; `undefined` is true. */
  condition(condition: HouseholdCondition | undefined): string {
    return condition === undefined ? 'true' : `coalesce(${this.expression(condition)}, false)`;
  }

  /** Three-valued: NULL where the household lacks the value a comparison needs. */
  private expression(condition: HouseholdCondition): string {
    if ('all' in condition) return condition.all.length ? `(${condition.all.map((c) => this.expression(c)).join(' AND ')})` : 'true';
    if ('any' in condition) return condition.any.length ? `(${condition.any.map((c) => this.expression(c)).join(' OR ')})` : 'false';
    if ('not' in condition) return `(NOT ${this.expression(condition.not)})`;
    if ('enrolled_in' in condition) return this.enrolledIn(condition.enrolled_in, condition.status ?? 'active');
    if ('percentile' in condition) return this.percentile(condition.percentile);
    return this.compare(this.operand(condition), condition.op, condition.value);
  }

  /**
   * `EXISTS` an enrolment of `h` in any of `programmes` with `status` (the same test the
   * estimate uses for "current beneficiaries of").
   */
  enrolledIn(programmes: string[], status: 'active' | 'suspended' = 'active'): string {
    return `EXISTS (SELECT 1 FROM enrolments e WHERE e.household_id = h.id AND e.region = h.region AND e.programme_code = ANY (${this.param(programmes, 'text[]')}) AND e.status = ${this.param(status, 'text')})`;
  }

  /** A field or attribute as text: NULL when missing or empty (e.g. the class of a by_class benefit). */
  text(ref: ValueRef): string {
    return this.operand(ref).text;
  }

  /** A field or attribute as numeric: NULL when missing or not a number (e.g. a per_member count). */
  number(ref: ValueRef): string {
    const operand = this.operand(ref);
    return operand.number ?? numberOf(operand.text);
  }

  /**
   * ORDER BY items (without the keyword) for the priority keys, earlier keys first. Missing values
   * rank last whatever the direction; attributes order numerically when they look like numbers
   * (those first), then as text. `h.registry_id` is always the final tie-break, so the order is
   * total and the same on every run and back end.
   */
  orderBy(priority: PriorityKey[] | undefined): string {
    const items: string[] = [];
    for (const key of priority ?? []) {
      const operand = this.operand(key);
      const direction = key.order === 'descending' ? 'DESC' : 'ASC';
      if (operand.number) items.push(`${operand.number} ${direction} NULLS LAST`);
      if (!operand.numericOnly) items.push(`${operand.text} COLLATE "C" ${direction} NULLS LAST`);
    }
    items.push(`h.registry_id COLLATE "C"`);
    return items.join(', ');
  }

  /**
   * The relation to select households from, as alias `h`: plain `SELECT h.* FROM households h`,
   * or with one `percentile_N` column per percentile the compiled conditions use. Each is
   * percent_rank (0 = lowest score, 1 = highest) of the household's score among all registered
   * households of its ancestor area at the given admin level that have a score; NULL without a
   * score or without such an ancestor (so the condition does not hold).
   */
  households(): string {
    if (this.windows.length === 0) return 'SELECT h.* FROM households h';
    const inner = this.windows.map((w, i) => {
      const level = this.param(w.level, 'int');
      const score = w.score.attribute !== undefined ? numberOf(`(h.attributes ->> ${this.param(w.score.attribute, 'text')})`) : FIELDS[w.score.field!].number!;
      return `(SELECT x.ancestor_pcode FROM admin_area_ancestors x JOIN admin_areas a ON a.pcode = x.ancestor_pcode
                WHERE x.pcode = h.admin_pcode AND a.level = ${level} LIMIT 1) AS percentile_${i}_area,
              ${score} AS percentile_${i}_score`;
    });
    // Households without a score get their own partition, so they do not shift the others' ranks.
    const outer = this.windows.map(
      (_, i) => `CASE WHEN h.percentile_${i}_area IS NOT NULL AND h.percentile_${i}_score IS NOT NULL
                 THEN percent_rank() OVER (PARTITION BY h.percentile_${i}_area, h.percentile_${i}_score IS NULL ORDER BY h.percentile_${i}_score)
                 END AS percentile_${i}`,
    );
    return `SELECT h.*, ${outer.join(', ')} FROM (SELECT h.*, ${inner.join(', ')} FROM households h) h`;
  }

  private percentile(p: { field?: HouseholdField; attribute?: string; within_admin_level: number; op: string; value: number }): string {
    if ((p.field === undefined) === (p.attribute === undefined)) throw new Error('a percentile needs exactly one of field or attribute');
    if (p.field !== undefined && !FIELDS[p.field].number) throw new Error(`a percentile needs a numeric score; ${p.field} is text`);
    const score: ScoreSource = p.field !== undefined ? { field: p.field } : { attribute: p.attribute };
    const key = JSON.stringify([score.field ?? null, score.attribute ?? null, p.within_admin_level]);
    let index = this.windows.findIndex((w) => w.key === key);
    if (index < 0) index = this.windows.push({ key, score, level: p.within_admin_level }) - 1;
    return `(h.percentile_${index} ${SQL_OP[p.op]} (${this.param(p.value, 'float8')} / 100))`;
  }

  private operand(ref: ValueRef): Operand {
    if ('attribute' in ref) {
      const text = `nullif(h.attributes ->> ${this.param(ref.attribute, 'text')}, '')`;
      return { text, number: numberOf(text), numericOnly: false };
    }
    const known = FIELDS[ref.field];
    if (!known) throw new Error(`unknown household field ${ref.field}`);
    return known;
  }

  private compare(operand: Operand, op: string, value: Value | Value[] | undefined): string {
    if (op === 'exists') return `(${operand.text} IS NOT NULL)`;
    if (op === 'missing') return `(${operand.text} IS NULL)`;
    if (op === 'in' || op === 'not_in') {
      const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
      const numbers = values.filter((v): v is number => typeof v === 'number');
      const texts = values.filter((v) => typeof v !== 'number').map(String);
      const number = operand.number ?? numberOf(operand.text);
      let inList: string;
      if (numbers.length && !texts.length) inList = `(${number} = ANY (${this.param(numbers, 'numeric[]')}))`;
      else if (texts.length && !numbers.length) inList = `(${operand.text} = ANY (${this.param(texts, 'text[]')}))`;
      else {
        // A mixed (or empty) list: any present value is comparable, numbers as numbers, text as text.
        const parts = [
          ...(numbers.length ? [`coalesce(${number} = ANY (${this.param(numbers, 'numeric[]')}), false)`] : []),
          ...(texts.length ? [`coalesce(${operand.text} = ANY (${this.param(texts, 'text[]')}), false)`] : []),
        ];
        inList = `(CASE WHEN ${operand.text} IS NULL THEN NULL ELSE ${parts.length ? parts.join(' OR ') : 'false'} END)`;
      }
      return op === 'in' ? inList : `(NOT ${inList})`;
    }
    const sqlOp = SQL_OP[op];
    if (!sqlOp) throw new Error(`unknown comparison ${op}`);
    if (value === undefined || Array.isArray(value)) throw new Error(`comparison ${op} needs exactly one value (use in / not_in for a list)`);
    if (typeof value === 'number') return `(${operand.number ?? numberOf(operand.text)} ${sqlOp} ${this.param(value, 'numeric')})`;
    const collate = op === 'eq' || op === 'ne' ? '' : ' COLLATE "C"';
    return `(${operand.text}${collate} ${sqlOp} ${this.param(String(value), 'text')})`;
  }
}

/** One key of a rule's `priority` list. */
export type PriorityKey = { field: HouseholdField; order: 'ascending' | 'descending' } | { attribute: string; order: 'ascending' | 'descending' };

/** A registry field or a household attribute. */
export type ValueRef = { field: HouseholdField } | { attribute: string };

type Value = string | number | boolean;
type ScoreSource = { field?: HouseholdField; attribute?: string };

/** A household value as text (NULL when missing or empty) and, when it can be one, as a number. */
interface Operand {
  text: string;
  number: string | null;
  /** A numeric column: its text form is not a separate ordering key. */
  numericOnly: boolean;
}

// Decimal numbers only (no NaN, Infinity, hex); the exponent is bounded so the numeric cast cannot fail.
const NUMBER = String.raw`^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$`;

/** `text` as numeric when it looks like a number, otherwise NULL: a cast that never throws. */
function numberOf(text: string): string {
  return `(CASE WHEN ${text} ~ '${NUMBER}' THEN (${text})::numeric END)`;
}

const FIELDS: Record<HouseholdField, Operand> = {
  size: { text: 'h.size::text', number: 'h.size::numeric', numericOnly: true },
  pmt_score: { text: 'h.pmt_score::text', number: `(CASE WHEN h.pmt_score = 'NaN' THEN NULL ELSE h.pmt_score::numeric END)`, numericOnly: true },
  admin_pcode: { text: 'h.admin_pcode', number: null, numericOnly: false },
  payment_channel: { text: `nullif(h.payment_channel, '')`, number: null, numericOnly: false },
  payment_account: { text: `nullif(h.payment_account, '')`, number: null, numericOnly: false },
};

const SQL_OP: Record<string, string> = { eq: '=', ne: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };
