import type { Tx } from '../db/store.ts';

/**
 * The bulk path of a first load. Into an empty registry, maintaining the secondary indexes row by
 * row (the GiST index on the points above all) costs more than the inserts themselves; built once
 * over the loaded rows they are several times cheaper (bench/results/national.md). So when
 * `households` is empty, the indexes of `households` and `enrolments` that back no constraint are
 * dropped inside the import's transaction and rebuilt, from their own definitions, before it
 * commits. Constraints (primary keys, `registry_id`'s uniqueness, foreign keys) stay in force
 * throughout: the upsert relies on them, and they are what keeps a bad file out.
 *
 * Imports take turns (an advisory lock held to the end of the import's transaction); the drop
 * happens under an exclusive lock on both tables, so no other session sees the registry without
 * its indexes; a failure rolls the drop back with the rest of the import.
 */
const TABLES = ['households', 'enrolments'] as const;

export async function withIndexesDeferredOnFirstLoad<T>({ raw }: Tx, work: () => Promise<T>): Promise<{ result: T; firstLoad: boolean }> {
  // Imports take turns here: two first loads that both looked (a shared lock each) and then both
  // asked for the exclusive lock would deadlock.
  await raw.query(`SELECT pg_advisory_xact_lock(hashtext('asp-engine:registry-import'))`);
  if (!(await isEmpty(raw))) return { result: await work(), firstLoad: false };
  await raw.query(`LOCK TABLE ${TABLES.join(', ')} IN ACCESS EXCLUSIVE MODE`);

  const { rows: indexes } = await raw.query<{ name: string; definition: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i
      WHERE i.indrelid = ANY (ARRAY[${TABLES.map((t) => `'${t}'::regclass`).join(', ')}])
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY 1`,
  );
  for (const index of indexes) await raw.query(`DROP INDEX ${index.name}`);
  const result = await work();
  // A partitioned table's index is defined "ON ONLY" the parent; built without ONLY, it is built
  // on every partition too.
  for (const index of indexes) await raw.query(index.definition.replace(/ ON ONLY /, ' ON '));
  return { result, firstLoad: true };
}

/** Whether the registry holds no household yet. */
export async function isEmpty(raw: Tx['raw']): Promise<boolean> {
  const { rows } = await raw.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM households) AS empty`);
  return rows[0].empty;
}
