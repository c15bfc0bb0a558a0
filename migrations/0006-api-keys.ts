import { sql, type Kysely } from 'kysely';

/**
 * API keys: shown once at creation, stored as a salted scrypt hash. A key has one role; a partner
 * key is bound to its partner and sees only what was released to it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE api_keys (
      id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{8,}$'),
      role        text NOT NULL CHECK (role IN ('admin', 'rule-author', 'coordinator', 'approver', 'partner')),
      partner_id  text REFERENCES partners (id),
      label       text NOT NULL CHECK (label <> ''),
      salt        text NOT NULL,
      hash        text NOT NULL,
      created_by  text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      revoked_at  timestamptz,
      CHECK ((role = 'partner') = (partner_id IS NOT NULL))
    )`.execute(db);
}
