import { sql, type Kysely } from 'kysely';

/**
 * Audit rows signed by the deployment's ed25519 key as they are appended: the signature covers the
 * row's chain hash, so a row written or rewritten by someone with database access but without the
 * key fails `asp audit verify`. Rows written before this migration stay unsigned (NULL) and are
 * reported as such. An ed25519 signature is 64 bytes, 88 characters of base64.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Adding a nullable column rewrites no row, so the append-only trigger is not involved.
  await sql`ALTER TABLE audit_log ADD COLUMN signature text CHECK (signature ~ '^[A-Za-z0-9+/]{86}==$')`.execute(db);
}
