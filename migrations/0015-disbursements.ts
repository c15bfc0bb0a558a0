import { sql, type Kysely } from 'kysely';

/**
 * Payment pushes to live hubs (G2P Connect and the like) as an outbox: a disbursement of a list to
 * a hub, the messages it is cut into (each a row before it is sent, so a retry re-sends the same
 * message_id and a callback that overtakes the send's acknowledgement finds its items), and one
 * item per entry with reference_id, the hub's idempotency key, unique across every push.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The order a disbursement item's state moves in; a state never moves back (a late ACK never
  // downgrades a callback's succ). succ and rjct are final.
  await sql`
    CREATE FUNCTION disbursement_state_rank(state text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE state WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'rcvd' THEN 2 WHEN 'pdng' THEN 3
                        WHEN 'succ' THEN 4 WHEN 'rjct' THEN 4 END
    $$`.execute(db);

  await sql`
    CREATE TABLE disbursements (
      hub           text NOT NULL CHECK (hub <> ''),
      list_id       bigint NOT NULL REFERENCES payment_lists (id),
      release_id    bigint NOT NULL REFERENCES list_releases (id),
      chunk_size    int NOT NULL CHECK (chunk_size > 0),
      -- Set once every chunk of the list is in the outbox; a push interrupted before goes on filling.
      filled_at     timestamptz,
      chunks        int,
      entries       int,
      total_amount  numeric(16, 2),
      created_by    text NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      -- Set when every item has a final status (succ or rjct), with the summary audited then.
      reconciled_at timestamptz,
      PRIMARY KEY (hub, list_id)
    )`.execute(db);

  await sql`
    CREATE TABLE disbursement_messages (
      hub             text NOT NULL,
      list_id         bigint NOT NULL,
      chunk           int NOT NULL CHECK (chunk >= 0),
      message_id      text NOT NULL UNIQUE,
      transaction_id  text NOT NULL,
      -- {header, message} as sent; the signature is made at each attempt (it expires).
      body            jsonb NOT NULL,
      items           int NOT NULL,
      state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'acked', 'nacked', 'error')),
      attempts        int NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_error      text,
      created_at      timestamptz NOT NULL DEFAULT now(),
      sent_at         timestamptz,
      answered_at     timestamptz,
      PRIMARY KEY (hub, list_id, chunk),
      FOREIGN KEY (hub, list_id) REFERENCES disbursements (hub, list_id)
    )`.execute(db);

  await sql`
    CREATE TABLE disbursement_items (
      hub          text NOT NULL,
      list_id      bigint NOT NULL,
      household_id bigint NOT NULL REFERENCES households (id),
      chunk        int NOT NULL,
      reference_id text NOT NULL UNIQUE,
      amount       numeric(14, 2) NOT NULL,
      state        text NOT NULL DEFAULT 'queued' CHECK (disbursement_state_rank(state) IS NOT NULL),
      reason_code  text,
      status_at    timestamptz,
      callbacks    int NOT NULL DEFAULT 0,
      duplicates   int NOT NULL DEFAULT 0,
      polled       int NOT NULL DEFAULT 0,
      updated_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (hub, list_id, household_id),
      FOREIGN KEY (hub, list_id, chunk) REFERENCES disbursement_messages (hub, list_id, chunk)
    )`.execute(db);
  await sql`CREATE INDEX disbursement_items_open_idx ON disbursement_items (hub, list_id, reference_id) WHERE disbursement_state_rank(state) < 4`.execute(db);
}
