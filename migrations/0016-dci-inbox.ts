import { sql, type Kysely } from 'kysely';

/**
 * Async DCI searches and the callbacks that answer them. A search is a row before its request is
 * sent, naming the registry's keys (JWKS) and id: a callback is accepted only for a search we
 * started and only with that registry's valid signature. Each answered page (a search_response
 * item) is kept once, by (transaction_id, reference_id), so a callback sent twice is stored once;
 * the pull imports the pages and then deletes them (they hold personal data).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE dci_searches (
      transaction_id text PRIMARY KEY CHECK (transaction_id <> ''),
      registry       text NOT NULL,
      registry_url   text NOT NULL,
      jwks           text NOT NULL,
      receiver_id    text,
      created_at     timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE dci_inbox (
      transaction_id text NOT NULL REFERENCES dci_searches ON DELETE CASCADE,
      reference_id   text NOT NULL,
      message_id     text NOT NULL,
      sender_id      text NOT NULL,
      response       jsonb NOT NULL,
      received_at    timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (transaction_id, reference_id)
    )`.execute(db);
}
