import { sql, type Kysely } from 'kysely';

/**
 * A list entry's list and activation, checked once per statement instead of by two foreign keys
 * that checked (and locked) the parent row once per entry: at 1,000,000 households the two took
 * 9.8 of the 13.8 s spent inserting a list's 300,997 entries (bench/results/national.md).
 *
 * The same guarantee both ways, with the foreign keys' errors (SQLSTATE 23503):
 * - an entry names a list and an activation that exist. The statement locks each distinct parent
 *   FOR KEY SHARE, as the foreign key did for each row, and a parent it could not lock (never
 *   there, or deleted meanwhile) is refused: neither can be deleted before the entries commit.
 * - deleting a list deletes its entries (ON DELETE CASCADE); an activation named by an entry
 *   cannot be deleted; neither can be renumbered while named, nor truncated away.
 * The parent side (delete, renumber, truncate) reads the entries in the statement's snapshot, so
 * it runs under READ COMMITTED only: a longer snapshot could miss an entry committed since.
 * Nothing in the engine deletes a list or an activation; these keep SQL by hand honest.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION payment_list_entry_parents() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      list_ids bigint[];
      activation_ids bigint[];
      locked bigint[];
      missing bigint;
    BEGIN
      list_ids := ARRAY(SELECT DISTINCT list_id FROM new_rows ORDER BY list_id);
      activation_ids := ARRAY(SELECT DISTINCT activation_id FROM new_rows ORDER BY activation_id);
      -- What is locked is what exists: one statement, so a parent committed after the lock
      -- cannot pass the check unlocked.
      locked := ARRAY(SELECT p.id FROM (SELECT id FROM payment_lists WHERE id = ANY (list_ids) ORDER BY id FOR KEY SHARE) p);
      SELECT l INTO missing FROM unnest(list_ids) l WHERE l <> ALL (locked) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "payment_list_entries" violates foreign key constraint "payment_list_entries_list_id_fkey"'
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (list_id)=(%s) is not present in table "payment_lists".', missing);
      END IF;
      locked := ARRAY(SELECT a.id FROM (SELECT id FROM activations WHERE id = ANY (activation_ids) ORDER BY id FOR KEY SHARE) a);
      SELECT a INTO missing FROM unnest(activation_ids) a WHERE a <> ALL (locked) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "payment_list_entries" violates foreign key constraint "payment_list_entries_activation_id_fkey"'
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (activation_id)=(%s) is not present in table "activations".', missing);
      END IF;
      RETURN NULL;
    END $$`.execute(db);

  // Fired on payment_lists or activations: the argument names the entries' column that refers to it.
  await sql`
    CREATE FUNCTION payment_list_entries_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      referencing text := TG_ARGV[0];
      parent bigint;
    BEGIN
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'lists and activations named by list entries are deleted or renumbered under READ COMMITTED only (this transaction is %)', current_setting('transaction_isolation')
          USING ERRCODE = 'serialization_failure';
      END IF;
      IF TG_OP = 'DELETE' AND referencing = 'list_id' THEN
        DELETE FROM payment_list_entries e USING old_rows o WHERE e.list_id = o.id;
        RETURN NULL;
      END IF;
      IF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT o.id FROM old_rows o WHERE EXISTS (SELECT 1 FROM payment_list_entries e WHERE e.%I = o.id) LIMIT 1', referencing) INTO parent;
      ELSE
        EXECUTE format('SELECT e.%I FROM payment_list_entries e WHERE e.%I = $1 LIMIT 1', referencing, referencing) INTO parent USING OLD.id;
      END IF;
      IF parent IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "payment_list_entries_%_fkey" on table "payment_list_entries"', TG_TABLE_NAME, referencing
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (id)=(%s) is still referenced from table "payment_list_entries".', parent);
      END IF;
      RETURN NULL;
    END $$`.execute(db);

  await sql`
    CREATE FUNCTION payment_list_entries_kept_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- A foreign key refuses from the catalogue; this looks, and a longer snapshot could miss entries.
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'lists and activations are truncated under READ COMMITTED only (this transaction is %)', current_setting('transaction_isolation')
          USING ERRCODE = 'serialization_failure';
      END IF;
      IF EXISTS (SELECT 1 FROM payment_list_entries) THEN
        RAISE EXCEPTION 'cannot truncate table "%": payment list entries refer to it', TG_TABLE_NAME
          USING ERRCODE = 'foreign_key_violation';
      END IF;
      RETURN NULL;
    END $$`.execute(db);

  await sql`ALTER TABLE payment_list_entries DROP CONSTRAINT payment_list_entries_list_id_fkey`.execute(db);
  await sql`ALTER TABLE payment_list_entries DROP CONSTRAINT payment_list_entries_activation_id_fkey`.execute(db);
  await sql`CREATE TRIGGER payment_list_entries_inserted_parents AFTER INSERT ON payment_list_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_entry_parents()`.execute(db);
  await sql`CREATE TRIGGER payment_list_entries_updated_parents AFTER UPDATE ON payment_list_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_entry_parents()`.execute(db);
  for (const [parent, column] of [['payment_lists', 'list_id'], ['activations', 'activation_id']] as const) {
    await sql`CREATE TRIGGER ${sql.raw(`${parent}_entries_on_delete`)} AFTER DELETE ON ${sql.table(parent)}
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_entries_referenced(${sql.lit(column)})`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${parent}_entries_on_renumber`)} AFTER UPDATE OF id ON ${sql.table(parent)}
      FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION payment_list_entries_referenced(${sql.lit(column)})`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${parent}_entries_on_truncate`)} BEFORE TRUNCATE ON ${sql.table(parent)}
      FOR EACH STATEMENT EXECUTE FUNCTION payment_list_entries_kept_on_truncate()`.execute(db);
  }
}
