import { sql, type Kysely } from 'kysely';

/**
 * DCI subscriptions (registry core API `/registry/subscribe`): one row per event type we asked a
 * registry for (REGISTER, UPDATE, DEREGISTER), `pending` until its on-subscribe gives the
 * registry's subscription code, then `live` until unsubscribed (`ended`). A notification is
 * accepted only from a registry with a live subscription, signed with that registry's key (its
 * JWKS, recorded here). `mapping` is how its Groups become households, `programme` where
 * notified households are enrolled and DEREGISTER exits them.
 *
 * `dci_notify_events` remembers every applied event (by the registry's reference_id), in the same
 * transaction as the import: a notification delivered twice is applied once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE dci_subscriptions (
      id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      registry          text NOT NULL,
      registry_url      text NOT NULL,
      receiver_id       text NOT NULL,
      jwks              text NOT NULL,
      programme         text REFERENCES programmes (code),
      mapping           jsonb NOT NULL,
      event_type        text NOT NULL CHECK (event_type IN ('REGISTER', 'UPDATE', 'DEREGISTER')),
      transaction_id    text NOT NULL,
      reference_id      text NOT NULL UNIQUE,
      subscription_code text,
      status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'live', 'rejected', 'ended')),
      reason            text,
      actor             text NOT NULL,
      created_at        timestamptz NOT NULL DEFAULT now(),
      ended_at          timestamptz,
      last_event_at     timestamptz,
      CHECK (status <> 'live' OR subscription_code IS NOT NULL)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX dci_subscriptions_code_idx ON dci_subscriptions (registry, subscription_code)`.execute(db);
  await sql`CREATE INDEX dci_subscriptions_live_idx ON dci_subscriptions (receiver_id) WHERE status = 'live'`.execute(db);
  await sql`
    CREATE TABLE dci_notify_events (
      registry     text NOT NULL,
      reference_id text NOT NULL,
      message_id   text NOT NULL,
      pull_id      bigint NOT NULL REFERENCES registry_pulls (id),
      event_type   text NOT NULL,
      received_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (registry, reference_id)
    )`.execute(db);
}
