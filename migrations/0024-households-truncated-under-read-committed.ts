import { sql, type Kysely } from 'kysely';

/**
 * Truncating households is refused outside READ COMMITTED.
 *
 * The guard of 0019/0020 (households truncated away only while nothing refers to them) looks for
 * referring rows with a query; under REPEATABLE READ or SERIALIZABLE that query sees the snapshot
 * taken at the transaction's first statement and can miss rows committed since, which a foreign
 * key, checked from the catalogue, never would. 0021 refuses the same way for lists and
 * activations. A trigger of its own, on households and on each of its partitions (a truncate of
 * households fires theirs too), so the guard's list of referring tables is not written twice; its
 * name sorts before the guard's, so it fires first (PostgreSQL fires a table's triggers by name).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION truncated_under_read_committed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'table "%" is truncated under READ COMMITTED only (this transaction is %)', TG_TABLE_NAME, current_setting('transaction_isolation')
          USING ERRCODE = 'serialization_failure', HINT = 'What refers to its rows is looked up, and an older snapshot could miss it.';
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_class c
     WHERE c.relname = 'households' AND c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'public.households'::regclass
     ORDER BY 1`.execute(db);
  for (const { name } of rows) {
    await sql`CREATE TRIGGER ${sql.raw(`${name}_isolation_on_truncate`)} BEFORE TRUNCATE ON ${sql.table(name)}
      FOR EACH STATEMENT EXECUTE FUNCTION truncated_under_read_committed()`.execute(db);
  }
}
