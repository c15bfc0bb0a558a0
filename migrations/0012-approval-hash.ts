import { sql, type Kysely } from 'kysely';

/**
 * Approve what you saw. A list carries a version (raised by each regeneration) and the hash of its
 * entries as generated, which the reviewer is shown; an approval names the hash reviewed and the
 * database holds it to that:
 * - the content hash is one SQL function, used by the engine and by the checks below;
 * - at commit, a list approved (first, second or only approval) must have entries that hash to the
 *   hash the approval names (a deferred constraint trigger, re-reading the entries as committed);
 * - a list's entries and areas change only while it is a draft with no approval recorded: a
 *   regeneration voids a first approval before it replaces the entries, and each change takes a
 *   share lock on the list's row, so it waits for an approval in progress (which holds the row)
 *   and then sees its outcome;
 * - a second approval names the same hash as the first.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The canonical content (see listContentHash in src/lists/lifecycle.ts), unchanged from before.
  await sql`
    CREATE FUNCTION payment_list_content_hash(bigint) RETURNS text LANGUAGE sql STABLE AS $$
      SELECT encode(sha256(convert_to(
               concat_ws(E'\\n',
                 (SELECT concat_ws('|', v.hash, l.component, l.kind, l.programme_code, l.cycle, l.currency) FROM payment_lists l
                    JOIN rule_versions v ON v.id = l.rule_version_id WHERE l.id = $1),
                 (SELECT string_agg(concat_ws('|', e.registry_id, e.admin_pcode, e.pcode, coalesce(e.tier, ''), e.rank,
                                              to_char(e.amount, 'FM999999999990.00'), e.currency, coalesce(e.payments::text, ''),
                                              coalesce(to_char(e.first_payment, 'YYYY-MM-DD'), ''),
                                              coalesce(e.payment_channel, ''), coalesce(e.payment_account, '')),
                                    E'\\n' ORDER BY e.pcode COLLATE "C", e.rank, e.registry_id COLLATE "C")
                    FROM payment_list_entries e WHERE e.list_id = $1)), 'UTF8')), 'hex')
    $$`.execute(db);

  await sql`
    ALTER TABLE payment_lists
      ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
      ADD COLUMN entries_sha256 text CHECK (entries_sha256 ~ '^[0-9a-f]{64}$'),
      ADD COLUMN second_approved_sha256 text,
      ADD CONSTRAINT payment_lists_second_approval_same_hash
        CHECK (second_approved_by IS NULL OR second_approved_sha256 = content_sha256)`.execute(db);
  await sql`UPDATE payment_lists SET entries_sha256 = payment_list_content_hash(id)`.execute(db);

  await sql`
    CREATE FUNCTION payment_list_approval_matches() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      named text;
      actual text;
    BEGIN
      -- The row as it is at commit: a later statement of the transaction may have voided the approval.
      SELECT content_sha256 INTO named FROM payment_lists WHERE id = NEW.id;
      IF named IS NULL THEN RETURN NULL; END IF;
      actual := payment_list_content_hash(NEW.id);
      IF actual IS DISTINCT FROM named THEN
        RAISE EXCEPTION 'payment list % changed while it was being approved: the approval names content sha256 %, its entries hash to %', NEW.id, named, actual
          USING ERRCODE = 'serialization_failure', HINT = 'review the list again and approve the hash it shows now';
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE CONSTRAINT TRIGGER payment_lists_approval_matches_insert AFTER INSERT ON payment_lists
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.content_sha256 IS NOT NULL)
      EXECUTE FUNCTION payment_list_approval_matches()`.execute(db);
  await sql`
    CREATE CONSTRAINT TRIGGER payment_lists_approval_matches AFTER UPDATE ON payment_lists
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (OLD.status = 'draft' AND NEW.status IN ('draft', 'approved') AND NEW.content_sha256 IS NOT NULL)
      EXECUTE FUNCTION payment_list_approval_matches()`.execute(db);

  // Replaces 0005's function: also frozen while an approval is recorded, and serialised with approvals by the row lock.
  await sql`
    CREATE OR REPLACE FUNCTION payment_list_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      list_status text;
      approved_hash text;
    BEGIN
      SELECT status, content_sha256 INTO list_status, approved_hash FROM payment_lists WHERE id = COALESCE(NEW.list_id, OLD.list_id) FOR SHARE;
      IF list_status IS NOT NULL AND list_status <> 'draft' THEN
        RAISE EXCEPTION 'payment list % is %: its entries cannot change', COALESCE(NEW.list_id, OLD.list_id), list_status;
      END IF;
      IF approved_hash IS NOT NULL THEN
        RAISE EXCEPTION 'payment list % has an approval of content sha256 %: its entries cannot change until it is regenerated', COALESCE(NEW.list_id, OLD.list_id), approved_hash;
      END IF;
      RETURN COALESCE(NEW, OLD);
    END $$`.execute(db);

  // What a reviewer was shown stays as it was once the list is decided.
  await sql`
    CREATE FUNCTION payment_list_review_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'payment list % is %: its version and hashes cannot change', OLD.id, OLD.status;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER payment_lists_review_frozen BEFORE UPDATE ON payment_lists FOR EACH ROW
      WHEN (OLD.status <> 'draft' AND (NEW.version, NEW.entries_sha256, NEW.second_approved_sha256)
                                      IS DISTINCT FROM (OLD.version, OLD.entries_sha256, OLD.second_approved_sha256))
      EXECUTE FUNCTION payment_list_review_frozen()`.execute(db);
}
