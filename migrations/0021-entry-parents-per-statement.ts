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
  // One trigger per parent: the arguments name the entries' column and the table it refers to.
  await sql`
    CREATE FUNCTION payment_list_entry_parent() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      referencing text := TG_ARGV[0];
      parent_table text := TG_ARGV[1];
      parents bigint[];
      locked bigint[];
      missing bigint;
    BEGIN
      EXECUTE format('SELECT ARRAY(SELECT DISTINCT %I FROM new_rows ORDER BY 1)', referencing) INTO parents;
      -- What is locked is what exists: one statement, so a parent committed after the lock
      -- cannot pass the check unlocked.
      EXECUTE format('SELECT ARRAY(SELECT p.id FROM (SELECT id FROM %I WHERE id = ANY ($1) ORDER BY id FOR KEY SHARE) p)', parent_table)
        INTO locked USING parents;
      SELECT k INTO missing FROM unnest(parents) k WHERE k <> ALL (locked) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "payment_list_entries" violates foreign key constraint "payment_list_entries_%_fkey"', referencing
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (%s)=(%s) is not present in table "%s".', referencing, missing, parent_table);
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
  for (const [parent, column] of [['payment_lists', 'list_id'], ['activations', 'activation_id']] as const) {
    for (const event of ['INSERT', 'UPDATE'] as const) {
      await sql`CREATE TRIGGER ${sql.raw(`payment_list_entries_${event.toLowerCase()}_${column}`)} AFTER ${sql.raw(event)} ON payment_list_entries
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_entry_parent(${sql.lit(column)}, ${sql.lit(parent)})`.execute(db);
    }
    await sql`CREATE TRIGGER ${sql.raw(`${parent}_entries_on_delete`)} AFTER DELETE ON ${sql.table(parent)}
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_entries_referenced(${sql.lit(column)})`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${parent}_entries_on_renumber`)} AFTER UPDATE OF id ON ${sql.table(parent)}
      FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION payment_list_entries_referenced(${sql.lit(column)})`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${parent}_entries_on_truncate`)} BEFORE TRUNCATE ON ${sql.table(parent)}
      FOR EACH STATEMENT EXECUTE FUNCTION payment_list_entries_kept_on_truncate()`.execute(db);
  }
}
