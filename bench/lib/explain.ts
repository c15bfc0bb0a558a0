/**
 * The plans behind an engine function's time: the same store, but each statement run through a
 * transaction's raw connection is also run under EXPLAIN (ANALYZE, BUFFERS), so that a slow step
 * can be read without a profiler. A statement whose rows the caller reads (SELECT, RETURNING) is
 * explained first and then run as itself (so it runs twice); any other statement (CREATE TABLE AS,
 * INSERT, UPDATE, DELETE) is run only as its EXPLAIN ANALYZE, which does its work all the same.
 * Timings taken through it are not the function's: use it for one extra run, after the measured ones.
 *
 * Not a bench itself: it exports no `main`.
 */
import type { RawConnection } from '../../src/db/raw.ts';
import type { Store } from '../../src/db/store.ts';

export interface Plan {
  /** The statement's first words. */
  statement: string;
  /** "Execution Time" of the plan, in ms. */
  ms: number;
  plan: string;
}

const MODIFIES = /\b(INSERT\s+INTO|UPDATE\s+\w+(\s+\w+)?\s+SET|DELETE\s+FROM)\b/i;
/** Only rows, no change: explained, then run as itself. */
const isRead = (sql: string) => /^\s*(SELECT|WITH)\b/i.test(sql) && !MODIFIES.test(sql);
/** A change whose result is not read: run once, as its EXPLAIN ANALYZE. (RETURNING is left alone: it would run twice.) */
const isWrite = (sql: string) =>
  /^\s*(INSERT|UPDATE|DELETE|CREATE\s+TEMP(ORARY)?\s+TABLE\b[\s\S]*?\bAS\b)/i.test(sql) && !/\bRETURNING\b/i.test(sql);

export function explaining(store: Store, into: Plan[]): Store {
  const wrap = (raw: RawConnection): RawConnection => {
    const explained = Object.create(raw) as RawConnection;
    explained.query = (async (sql: string, params?: readonly unknown[]) => {
      if (!(isRead(sql) || isWrite(sql)) || /pg_advisory/.test(sql)) return raw.query(sql, params);
      const result = await raw.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      const plan = result.rows.map((r) => r['QUERY PLAN']).join('\n');
      const ms = Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? 0);
      into.push({ statement: sql.replace(/\s+/g, ' ').trim().slice(0, 100), ms, plan });
      // Rows the caller reads: run it as itself too. Anything else has done its work under EXPLAIN ANALYZE.
      if (isRead(sql)) return raw.query(sql, params);
      return { ...result, rows: [], rowCount: 0 };
    }) as RawConnection['query'];
    explained.release = () => raw.release();
    return explained;
  };
  const transaction: Store['transaction'] = (work) => store.transaction((tx) => work({ ...tx, raw: wrap(tx.raw) }));
  const explainedStore = Object.create(store) as Store;
  Object.defineProperty(explainedStore, 'transaction', { value: transaction });
  return explainedStore;
}

/** The `most` slowest plans as markdown, slowest first. */
export function slowestPlans(plans: Plan[], most: number): string {
  return [...plans]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, most)
    .map((p) => `#### ${(p.ms / 1000).toFixed(2)} s: \`${p.statement}…\`\n\n\`\`\`\n${p.plan}\n\`\`\`\n`)
    .join('\n');
}
