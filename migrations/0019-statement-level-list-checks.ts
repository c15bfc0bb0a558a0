import { sql, type Kysely } from 'kysely';

/**
 * The checks on a list's entries, once per statement instead of once per entry: at a million
 * households the row-level ones were most of the time spent inserting a list's entries
 * (bench/lists.ts; before and after in bench/results/lists.md).
 *
 * The freeze of a decided list's entries and areas: the statement triggers read the lists the
 * statement touched from its transition tables, lock them FOR SHARE (serialised with an approval,
 * as before) and refuse with the same messages: a list that is not a draft, or a draft whose first
 * approval names a content hash. An UPDATE is checked on its old and new rows, so an entry cannot
 * be moved out of or into a frozen list either. The check runs after the rows are written, within
 * the statement: a refusal undoes the whole statement, as before.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // A trigger with a transition table has a single event, so three triggers share this function.
  await sql`
    CREATE FUNCTION payment_list_rows_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      lists bigint[];
      list record;
    BEGIN
      IF TG_OP = 'INSERT' THEN
        lists := ARRAY(SELECT DISTINCT list_id FROM new_rows);
      ELSIF TG_OP = 'DELETE' THEN
        lists := ARRAY(SELECT DISTINCT list_id FROM old_rows);
      ELSE
        lists := ARRAY(SELECT list_id FROM old_rows UNION SELECT list_id FROM new_rows);
      END IF;
      FOR list IN SELECT id, status, content_sha256 FROM payment_lists WHERE id = ANY (lists) ORDER BY id FOR SHARE LOOP
        IF list.status <> 'draft' THEN
          RAISE EXCEPTION 'payment list % is %: its entries cannot change', list.id, list.status;
        END IF;
        IF list.content_sha256 IS NOT NULL THEN
          RAISE EXCEPTION 'payment list % has an approval of content sha256 %: its entries cannot change until it is regenerated', list.id, list.content_sha256;
        END IF;
      END LOOP;
      RETURN NULL;
    END $$`.execute(db);
  for (const table of ['payment_list_entries', 'payment_list_areas']) {
    await sql`DROP TRIGGER ${sql.raw(`${table}_frozen`)} ON ${sql.table(table)}`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_inserted_frozen`)} AFTER INSERT ON ${sql.table(table)}
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_rows_frozen()`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_updated_frozen`)} AFTER UPDATE ON ${sql.table(table)}
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_rows_frozen()`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_deleted_frozen`)} AFTER DELETE ON ${sql.table(table)}
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_rows_frozen()`.execute(db);
  }
  await sql`DROP FUNCTION payment_list_frozen()`.execute(db);

  // The entries' reference to their household, checked once per statement too. The foreign key
  // checked each entry on its own and locked its household row (FOR KEY SHARE), which writes to
  // every listed household's page: the larger part of inserting a list's entries. The same
  // guarantee, both ways, with the same error (SQLSTATE 23503): an entry names a household that
  // exists, and a listed household cannot be deleted or renumbered. A delete waits for lists being
  // written (SHARE on the entries conflicts with their inserts until they commit), then looks.
  await sql`ALTER TABLE payment_list_entries DROP CONSTRAINT payment_list_entries_household_id_fkey`.execute(db);
  await sql`
    CREATE FUNCTION payment_list_household_reference() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      household bigint;
    BEGIN
      -- A foreign key also sees rows committed after the snapshot; this check sees only the
      -- statement's snapshot, which under READ COMMITTED is fresh and under a longer one is not.
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'list entries and the households they name are written under READ COMMITTED only (this transaction is %)', current_setting('transaction_isolation')
          USING ERRCODE = 'serialization_failure';
      END IF;
      IF TG_TABLE_NAME = 'payment_list_entries' THEN
        SELECT n.household_id INTO household FROM new_rows n
         WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.id = n.household_id) LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'insert or update on table "payment_list_entries" violates foreign key constraint "payment_list_entries_household_id_fkey"'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (household_id)=(%s) is not present in table "households".', household);
        END IF;
        RETURN NULL;
      END IF;
      LOCK TABLE payment_list_entries IN SHARE MODE;
      IF TG_OP = 'DELETE' THEN
        SELECT e.household_id INTO household FROM payment_list_entries e JOIN old_rows o ON o.id = e.household_id LIMIT 1;
      ELSE
        SELECT e.household_id INTO household FROM payment_list_entries e WHERE e.household_id = OLD.id LIMIT 1;
      END IF;
      IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "households" violates foreign key constraint "payment_list_entries_household_id_fkey" on table "payment_list_entries"'
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (id)=(%s) is still referenced from table "payment_list_entries".', household);
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER payment_list_entries_inserted_households AFTER INSERT ON payment_list_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_household_reference()`.execute(db);
  await sql`CREATE TRIGGER payment_list_entries_updated_households AFTER UPDATE ON payment_list_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_household_reference()`.execute(db);
  await sql`CREATE TRIGGER households_listed_kept_on_delete AFTER DELETE ON households
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_household_reference()`.execute(db);
  // The foreign key also refused TRUNCATE of households (or cascaded it into every list); a
  // statement trigger does not see TRUNCATE, so it is refused while any list names a household.
  await sql`
    CREATE FUNCTION households_listed_kept_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM payment_list_entries) THEN
        RAISE EXCEPTION 'cannot truncate table "households": payment list entries refer to its households'
          USING ERRCODE = 'foreign_key_violation';
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER households_listed_kept_on_truncate BEFORE TRUNCATE ON households
    FOR EACH STATEMENT EXECUTE FUNCTION households_listed_kept_on_truncate()`.execute(db);
  await sql`CREATE TRIGGER households_listed_kept_on_renumber AFTER UPDATE OF id ON households
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION payment_list_household_reference()`.execute(db);
}
