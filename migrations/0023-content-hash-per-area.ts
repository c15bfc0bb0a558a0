import { sql, type Kysely } from 'kysely';

/**
 * A list's content hash, version 2: a hash of per-area hashes.
 *
 * Version 1 (0012) is the sha256 of one text value: the header line and every entry line joined.
 * PostgreSQL caps a text value at 1 GB, and an entry line is about 100 bytes, so a list of about
 * ten million entries (a third of Pakistan's registry) could not be hashed, and so not generated.
 *
 * Version 2 hashes each block of an area's entries on its own: the entries of one matched area
 * (`pcode`) whose rank falls in the same block of 100,000 ranks, in (rank, registry id) order, one
 * line each exactly as in version 1. The list's hash is the sha256 of the header line (as in
 * version 1) followed by one line per block, in (area, block) order: `pcode|block|entries|sha256`.
 * Every text value is then bounded by the block, whatever the list's size. The same content gives
 * the same hash; any change to an entry changes its block's hash and so the list's.
 *
 * A list records the version its hash was computed with: lists generated before this migration
 * keep version 1, so an approval already recorded (or about to be given on a hash already shown)
 * is checked against the hash it named. A generation from now on, a regeneration of an old draft
 * included, computes version 2.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE payment_lists ADD COLUMN content_hash_version smallint NOT NULL DEFAULT 1
              CONSTRAINT payment_lists_content_hash_version CHECK (content_hash_version IN (1, 2))`.execute(db);
  await sql`ALTER TABLE payment_lists ALTER COLUMN content_hash_version SET DEFAULT 2`.execute(db);
  // A decided list's hash version is frozen with its hashes (0012): changed, its stored hash would
  // no longer be what its entries hash to.
  await sql`DROP TRIGGER payment_lists_review_frozen ON payment_lists`.execute(db);
  await sql`
    CREATE TRIGGER payment_lists_review_frozen BEFORE UPDATE ON payment_lists FOR EACH ROW
      WHEN (OLD.status <> 'draft' AND (NEW.version, NEW.entries_sha256, NEW.second_approved_sha256, NEW.content_hash_version)
                                      IS DISTINCT FROM (OLD.version, OLD.entries_sha256, OLD.second_approved_sha256, OLD.content_hash_version))
      EXECUTE FUNCTION payment_list_review_frozen()`.execute(db);
  await sql`ALTER FUNCTION payment_list_content_hash(bigint) RENAME TO payment_list_content_hash_v1`.execute(db);

  await sql`
    CREATE FUNCTION payment_list_content_hash_v2(list bigint, block_ranks integer DEFAULT 100000) RETURNS text LANGUAGE sql STABLE AS $$
      WITH blocks AS (
        SELECT e.pcode, div(e.rank - 1, block_ranks) AS block, count(*) AS entries,
               encode(sha256(convert_to(
                 string_agg(concat_ws('|', e.registry_id, e.admin_pcode, e.pcode, coalesce(e.tier, ''), e.rank,
                                      to_char(e.amount, 'FM999999999990.00'), e.currency, coalesce(e.payments::text, ''),
                                      coalesce(to_char(e.first_payment, 'YYYY-MM-DD'), ''),
                                      coalesce(e.payment_channel, ''), coalesce(e.payment_account, '')),
                            E'\\n' ORDER BY e.rank, e.registry_id COLLATE "C"), 'UTF8')), 'hex') AS sha256
          FROM payment_list_entries e
         WHERE e.list_id = list
         GROUP BY e.pcode, div(e.rank - 1, block_ranks)
      )
      SELECT encode(sha256(convert_to(
               concat_ws(E'\\n',
                 (SELECT concat_ws('|', v.hash, l.component, l.kind, l.programme_code, l.cycle, l.currency) FROM payment_lists l
                    JOIN rule_versions v ON v.id = l.rule_version_id WHERE l.id = list),
                 (SELECT string_agg(concat_ws('|', b.pcode, b.block, b.entries, b.sha256), E'\\n' ORDER BY b.pcode COLLATE "C", b.block)
                    FROM blocks b)), 'UTF8')), 'hex')
    $$`.execute(db);

  // The name every caller (generation, approval check, lifecycle) already uses, now choosing by the list's version.
  await sql`
    CREATE FUNCTION payment_list_content_hash(list bigint) RETURNS text LANGUAGE sql STABLE AS $$
      SELECT CASE (SELECT content_hash_version FROM payment_lists WHERE id = list)
               WHEN 1 THEN payment_list_content_hash_v1(list)
               ELSE payment_list_content_hash_v2(list)
             END
    $$`.execute(db);
}
