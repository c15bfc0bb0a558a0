import { sql, type Kysely } from 'kysely';

/**
 * The partitions of households, enrolments and list entries are written through their table only.
 *
 * The checks that stand in for foreign keys and unique constraints on these tables (0019–0021: a
 * registry id held once nationally, a row naming an existing household, list and activation, the
 * freeze of a decided list) are statement triggers, and PostgreSQL fires a statement trigger only
 * on the table a statement names. A statement naming a partition (`UPDATE payment_list_entries_r3
 * SET amount = …`) would pass none of them. A statement trigger on each partition refuses it; a
 * statement through the partitioned table does not fire it, whichever partitions its rows reach.
 *
 * TRUNCATE is different: truncating a table fires its partitions' TRUNCATE triggers too, so a
 * partition cannot tell. A households partition gets the households' own guard (truncated away
 * only while nothing refers to a household); the others are not guarded against TRUNCATE, as the
 * partitioned tables themselves are not.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION partition_written_through_parent() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'rows of "%" are written through that table, not through its partition "%"', TG_ARGV[0], TG_TABLE_NAME
        USING ERRCODE = 'wrong_object_type', HINT = 'The checks on its rows run on the partitioned table only.';
    END $$`.execute(db);
  const { rows } = await sql<{ parent: string; partition: string }>`
    SELECT p.relname AS parent, c.relname AS partition
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_class p ON p.oid = i.inhparent
     WHERE p.relname IN ('households', 'enrolments', 'payment_list_entries') AND p.relnamespace = 'public'::regnamespace
     ORDER BY p.relname, c.relname`.execute(db);
  if (rows.length === 0) throw new Error('0022: households, enrolments and payment_list_entries have no partitions (0020 not applied?)');
  for (const { parent, partition } of rows) {
    await sql`CREATE TRIGGER ${sql.raw(`${partition}_through_parent`)} BEFORE INSERT OR UPDATE OR DELETE ON ${sql.table(partition)}
      FOR EACH STATEMENT EXECUTE FUNCTION partition_written_through_parent(${sql.lit(parent)})`.execute(db);
    if (parent === 'households') {
      await sql`CREATE TRIGGER ${sql.raw(`${partition}_named_kept_on_truncate`)} BEFORE TRUNCATE ON ${sql.table(partition)}
        FOR EACH STATEMENT EXECUTE FUNCTION households_listed_kept_on_truncate()`.execute(db);
    }
  }
}
