import { parse } from 'libpg-query';
import { Kysely } from 'kysely';
import { RawPoolDialect } from '../../src/db/dialect.ts';
import type { RawConnection } from '../../src/db/raw.ts';
import type { Store } from '../../src/db/store.ts';

/**
 * The tables at household grain: on Citus distributed on `region` and co-located
 * (docs/scaling.md §4), with the working tables generation fills from them. Named lists' households
 * (other agencies' lists, small) are a reference table there.
 */
export const DISTRIBUTED = new Set([
  'households', 'enrolments', 'payment_list_entries', 'release_ids', 'payment_statuses', 'disbursement_items',
  'list_matched', 'list_decided',
]);

/**
 * Where a statement relates two relations at household grain (distributed tables, or CTEs and
 * subqueries over them) without an equality on `region` between the same two, beside it in the
 * same conjunction: on Citus, such a join or correlated predicate cannot run on one node.
 * Parsed with PostgreSQL's own parser (libpg-query). Each violation reads `a.col = b.col` (a and b
 * the aliases) with the statement's first words.
 */
export async function regionKeyViolations(statement: string): Promise<string[]> {
  const tree = (await parse(statement)) as { stmts: { stmt: Node }[] };
  const violations: string[] = [];
  const ctes = new Map<string, boolean>();
  for (const { stmt } of tree.stmts) visit(stmt, undefined, ctes, violations);
  const head = statement.replace(/\s+/g, ' ').trim().slice(0, 80);
  return violations.map((v) => `${v}   in: ${head}…`);
}

type Node = Record<string, unknown>;
interface Scope { aliases: Map<string, boolean>; parent?: Scope }

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null;

function grainOf(scope: Scope | undefined, alias: string): boolean | undefined {
  for (let s = scope; s; s = s.parent) if (s.aliases.has(alias)) return s.aliases.get(alias);
  return undefined;
}

/**
 * Whether the rows of a query are at household grain: it reads such a relation in its FROM list
 * and does not aggregate them (a GROUP BY's rows, a budget's totals per area, are a few; Citus
 * computes them once and joins them anywhere, as it would a reference table).
 */
function readsHouseholdGrain(node: unknown, ctes: Map<string, boolean>): boolean {
  if (!isObject(node)) return false;
  const select = node.SelectStmt as Node | undefined;
  if (!select) return false;
  if (select.op && select.op !== 'SETOP_NONE') return readsHouseholdGrain(select.larg, ctes) || readsHouseholdGrain(select.rarg, ctes);
  if ((select.groupClause as unknown[] | undefined)?.length) return false;
  return ((select.fromClause as unknown[] | undefined) ?? []).some((item) => fromItemGrain(item, ctes));
}

function fromItemGrain(item: unknown, ctes: Map<string, boolean>): boolean {
  if (!isObject(item)) return false;
  if (item.RangeVar) {
    const name = String((item.RangeVar as Node).relname);
    return DISTRIBUTED.has(name) || ctes.get(name) === true;
  }
  if (item.RangeSubselect) return readsHouseholdGrain((item.RangeSubselect as Node).subquery, ctes);
  if (item.JoinExpr) return fromItemGrain((item.JoinExpr as Node).larg, ctes) || fromItemGrain((item.JoinExpr as Node).rarg, ctes);
  return false;
}

/** The aliases a FROM list brings into scope, and the join conditions inside it. */
function addFrom(items: unknown[], scope: Scope, ctes: Map<string, boolean>, quals: unknown[]): void {
  for (const item of items) {
    if (!isObject(item)) continue;
    if (item.RangeVar) {
      const r = item.RangeVar as Node;
      const name = String(r.relname);
      const alias = (r.alias as Node | undefined)?.aliasname as string | undefined;
      scope.aliases.set(alias ?? name, DISTRIBUTED.has(name) || ctes.get(name) === true);
    } else if (item.RangeSubselect) {
      const r = item.RangeSubselect as Node;
      const alias = (r.alias as Node | undefined)?.aliasname as string | undefined;
      if (alias) scope.aliases.set(alias, readsHouseholdGrain(r.subquery, ctes));
    } else if (item.RangeFunction) {
      const alias = ((item.RangeFunction as Node).alias as Node | undefined)?.aliasname as string | undefined;
      if (alias) scope.aliases.set(alias, false);
    } else if (item.JoinExpr) {
      const j = item.JoinExpr as Node;
      addFrom([j.larg, j.rarg], scope, ctes, quals);
      if (j.quals) quals.push(j.quals);
    }
  }
}

function conjuncts(expr: unknown): unknown[] {
  if (isObject(expr) && isObject(expr.BoolExpr) && (expr.BoolExpr as Node).boolop === 'AND_EXPR') {
    return ((expr.BoolExpr as Node).args as unknown[]).flatMap(conjuncts);
  }
  return [expr];
}

/** The qualified column references in an expression, as [alias, column]. */
function columns(node: unknown, into: [string, string][] = []): [string, string][] {
  if (Array.isArray(node)) for (const n of node) columns(n, into);
  else if (isObject(node)) {
    if (node.SubLink) return into; // a subquery has its own scope, checked on its own
    const ref = node.ColumnRef as Node | undefined;
    if (ref) {
      const fields = (ref.fields as Node[]).map((f) => (f.String as Node | undefined)?.sval as string | undefined);
      if (fields.length === 2 && fields[0] && fields[1]) into.push([fields[0], fields[1]]);
      return into;
    }
    for (const v of Object.values(node)) columns(v, into);
  }
  return into;
}

function isRegionEquality(expr: unknown): [string, string] | null {
  if (!isObject(expr) || !isObject(expr.A_Expr)) return null;
  const a = expr.A_Expr as Node;
  const op = ((a.name as Node[])?.[0]?.String as Node | undefined)?.sval;
  if (op !== '=') return null;
  const [l, r] = [columns(a.lexpr), columns(a.rexpr)];
  if (l.length !== 1 || r.length !== 1 || l[0][1] !== 'region' || r[0][1] !== 'region') return null;
  return [l[0][0], r[0][0]];
}

function check(expr: unknown, scope: Scope, violations: string[]): void {
  const parts = conjuncts(expr);
  const pairs = new Set(parts.map(isRegionEquality).filter((p): p is [string, string] => p !== null).flatMap(([a, b]) => [`${a}|${b}`, `${b}|${a}`]));
  for (const part of parts) {
    const refs = columns(part);
    const grain = [...new Set(refs.map(([alias]) => alias))].filter((alias) => grainOf(scope, alias) === true);
    for (let i = 0; i < grain.length; i++) {
      for (let k = i + 1; k < grain.length; k++) {
        if (!pairs.has(`${grain[i]}|${grain[k]}`)) {
          violations.push(`${grain[i]} and ${grain[k]} related without ${grain[i]}.region = ${grain[k]}.region: ${refs.map((r) => r.join('.')).join(', ')}`);
        }
      }
    }
  }
}

function visit(node: unknown, parent: Scope | undefined, ctes: Map<string, boolean>, violations: string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) visit(n, parent, ctes, violations);
    return;
  }
  if (!isObject(node)) return;
  const statement = (node.SelectStmt ?? node.UpdateStmt ?? node.DeleteStmt ?? node.InsertStmt) as Node | undefined;
  if (!statement) {
    for (const v of Object.values(node)) visit(v, parent, ctes, violations);
    return;
  }
  const withClause = statement.withClause as Node | undefined;
  for (const cte of (withClause?.ctes as Node[] | undefined) ?? []) {
    const c = cte.CommonTableExpr as Node;
    visit(c.ctequery, parent, ctes, violations);
    ctes.set(String(c.ctename), readsHouseholdGrain(c.ctequery, ctes));
  }
  const scope: Scope = { aliases: new Map(), parent };
  const quals: unknown[] = [];
  if (statement.relation) addFrom([{ RangeVar: statement.relation }], scope, ctes, quals);
  addFrom([...((statement.fromClause as unknown[]) ?? []), ...((statement.usingClause as unknown[]) ?? [])], scope, ctes, quals);
  for (const q of [statement.whereClause, statement.havingClause, ...quals]) if (q) check(q, scope, violations);
  // Set operations (UNION) have their arms in larg/rarg; subqueries anywhere get this scope as parent.
  for (const [key, value] of Object.entries(statement)) {
    if (key === 'withClause') continue;
    visit(value, scope, ctes, violations);
  }
}

/**
 * A store that records the text of every statement run through it (the transactions' raw
 * connections and the Kysely queries inside them), to check what an engine function runs.
 */
export function tracing(store: Store, into: Set<string>): Store {
  const wrap = (raw: RawConnection): RawConnection => {
    const traced = Object.create(raw) as RawConnection;
    traced.query = ((text: string, params?: readonly unknown[]) => {
      into.add(text);
      return raw.query(text, params);
    }) as RawConnection['query'];
    traced.release = () => raw.release();
    return traced;
  };
  const transaction: Store['transaction'] = (work) =>
    store.transaction((tx) => {
      const raw = wrap(tx.raw);
      return work({ ...tx, raw, db: new Kysely({ dialect: RawPoolDialect.forConnection(raw) }) as typeof tx.db });
    });
  const traced = Object.create(store) as Store;
  Object.defineProperty(traced, 'transaction', { value: transaction });
  return traced;
}
