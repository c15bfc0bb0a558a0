import type { RawConnection } from '../../db/raw.ts';
import type { HouseholdSql } from '../household-sql.ts';
import type { ResponseComponent } from '../../rules/schema.ts';
import { DECIDED_STATUSES } from './prior-payments.ts';

/**
 * Deduplication by an identifier (`households.dedupe_by`, e.g. `{ attribute: national_id }`): one
 * entry per identifier value per list and per shock. Two registry records with the same national
 * ID are one family: the best-ranked by the rule's priority order is kept (ties by registry id) and
 * the others are left out as "duplicate <identifier>"; a record whose identifier is already on a
 * decided list of the rule for the same shock is left out too. Values are compared without
 * surrounding spaces and without regard to case; a household with no value is never a duplicate
 * (it is listed or left out on its own merits).
 *
 * The identifiers already on lists are collected once per generation into a temporary table
 * indexed by value, so each household is one index lookup, not a scan of earlier lists.
 */
export interface Dedupe {
  /** The reason a duplicate is left out with, e.g. "duplicate national_id". */
  reason: string;
  /** SQL over `h`: the normalised identifier value, NULL when the household has none. */
  key: string;
  /** SQL boolean over `h` (a matched household with its `shock_key`): another record with the same value is on a decided list of the rule for this shock. */
  onEarlierList: string;
  /**
   * SQL boolean over `h`: a record with the same value is on a live list of another rule (whose id
   * is the placeholder `rule`), for the household's shock (`'shock'`) or in the cycle whose
   * placeholder is given. Used by exclusive overlaps with a rule.
   */
  onListOf(rule: string, scope: { shock: true } | { cycle: string }): string;
}

/**
 * Collects the identifier values of the households on the live lists of `ruleIds` (this rule and
 * the rules it is exclusive with), other than this list, into `list_identifiers`, and returns the
 * SQL pieces over `h` for the generation query. Null when the rule does not deduplicate.
 */
export async function prepareDedupe(
  raw: RawConnection, q: HouseholdSql, households: ResponseComponent['households'], refs: { ruleId: string; listId: number; ruleIds: string[] },
): Promise<Dedupe | null> {
  const by = households.dedupe_by;
  if (!by) return null;
  const name = 'attribute' in by ? by.attribute : by.field;
  const field = 'field' in by ? by.field : null; // a registry column, from the schema's closed list
  const identifier = (alias: string, attribute: string) =>
    `nullif(upper(btrim(${field ? `${alias}.${field}::text` : `${alias}.attributes ->> ${attribute}`})), '')`;

  await raw.query(`DROP TABLE IF EXISTS list_identifiers`);
  await raw.query(
    `CREATE TEMP TABLE list_identifiers ON COMMIT DROP AS
     SELECT l.rule_id, l.status, l.cycle, a.shock_key, e.household_id, ${identifier('x', '$1::text')} AS identifier
       FROM payment_list_entries e
       JOIN payment_lists l ON l.id = e.list_id
       JOIN activations a ON a.id = e.activation_id
       JOIN households x ON x.id = e.household_id AND x.region = e.region
      WHERE l.rule_id = ANY ($2::text[]) AND l.status <> 'cancelled' AND l.id <> $3::bigint
        AND ${identifier('x', '$1::text')} IS NOT NULL`,
    ['attribute' in by ? by.attribute : null, refs.ruleIds, refs.listId],
  );
  await raw.query(`CREATE INDEX ON list_identifiers (identifier)`);
  await raw.query(`ANALYZE list_identifiers`);

  const key = identifier('h', 'attribute' in by ? q.param(by.attribute, 'text') : '');
  return {
    reason: `duplicate ${name}`,
    key,
    onEarlierList: `EXISTS (SELECT 1 FROM list_identifiers li
                             WHERE li.identifier = ${key} AND li.rule_id = ${q.param(refs.ruleId, 'text')}
                               AND li.status IN ${DECIDED_STATUSES} AND li.shock_key = h.shock_key AND li.household_id <> h.id)`,
    onListOf: (rule, scope) => `EXISTS (SELECT 1 FROM list_identifiers li
                                          WHERE li.identifier = ${key} AND li.rule_id = ${rule}
                                            AND ${'shock' in scope ? 'li.shock_key = h.shock_key' : `li.cycle = ${scope.cycle}`})`,
  };
}
