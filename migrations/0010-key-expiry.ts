import { sql, type Kysely } from 'kysely';

/** API keys may carry an expiry; a key past it is refused like a revoked one. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE api_keys ADD COLUMN expires_at timestamptz`.execute(db);
}
