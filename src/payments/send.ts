import type { Store } from '../db/store.ts';
import type { SigningKey } from '../interop/envelope-signature.ts';
import { log } from '../log.ts';
import type { Envelope, HubAdapter, SendOutcome } from './adapter.ts';
import type { Hub } from './hubs.ts';
import { applyStatuses } from './statuses.ts';

/**
 * Sending the outbox of one disbursement, chunk by chunk. A message is marked `sending` (and its
 * attempt counted) in a committed write before it goes out; its answer is written after. A message
 * found `sending` was interrupted with its outcome unknown (a crash, a timeout): the hub is asked
 * about its items first, and it is sent again only if the hub holds none of them, so a push killed
 * and run again does not deliver a chunk twice. 5xx and timeouts are retried with exponential
 * back-off (a message still undelivered after the hub's attempts waits, `sending`, for the next
 * run); ERR (our message is wrong) and 4xx are not: they are reported.
 */

export interface SendReport {
  acked: number;
  nacked: number;
  errors: { chunk: number; error: string }[];
  /** Messages still undelivered after this run's attempts (5xx, timeouts): the next run tries them again. */
  waiting: number;
}

interface MessageRow {
  chunk: number;
  message_id: string;
  transaction_id: string;
  body: Envelope;
  state: string;
  attempts: number;
  reference_ids: string[] | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `batchId`: the hub's batch the messages go into (openHubBatch), for hubs that have one. */
export async function sendOutbox(store: Store, hub: Hub, listId: number, adapter: HubAdapter, key: SigningKey, batchId: string | null = null): Promise<SendReport> {
  const report: SendReport = { acked: 0, nacked: 0, errors: [], waiting: 0 };
  let after = -1;
  for (;;) {
    // One message at a time, by chunk: a chunk's body is the only one in memory.
    const { rows } = await store.transaction(({ raw }) =>
      raw.query<MessageRow>(
        `SELECT chunk, message_id, transaction_id, body, state, attempts, NULL AS reference_ids FROM disbursement_messages
          WHERE hub = $1 AND list_id = $2 AND chunk > $3 AND state IN ('queued', 'sending') ORDER BY chunk LIMIT 1`,
        [hub.name, listId, after],
      ),
    );
    if (rows.length === 0) break;
    const message = rows[0];
    after = message.chunk;
    const outcome = await deliver(store, hub, listId, adapter, key, message, batchId);
    if (outcome === 'acked') report.acked += 1;
    else if (outcome === 'nacked') report.nacked += 1;
    else if (outcome === 'waiting') report.waiting += 1;
    else report.errors.push({ chunk: message.chunk, error: outcome.error });
  }
  return report;
}

type Delivery = 'acked' | 'nacked' | 'waiting' | { error: string };

async function deliver(store: Store, hub: Hub, listId: number, adapter: HubAdapter, key: SigningKey, message: MessageRow, batchId: string | null): Promise<Delivery> {
  let attempts = message.attempts;
  let outcomeUnknown = message.state === 'sending' && attempts > 0;
  // This run's tries; a message still undelivered after them stays `sending` for the next run.
  for (let tries = 1; ; tries++) {
    if (outcomeUnknown && hub.status === 'sync' && (await hubHolds(store, hub, listId, adapter, key, message))) {
      await recordAnswer(store, hub, listId, message.chunk, { kind: 'ack' });
      return 'acked';
    }
    attempts += 1;
    await store.transaction(({ raw }) =>
      raw.query(
        `UPDATE disbursement_messages SET state = 'sending', attempts = $4, sent_at = now() WHERE hub = $1 AND list_id = $2 AND chunk = $3`,
        [hub.name, listId, message.chunk, attempts],
      ),
    );
    const outcome = await adapter.send(message.body, key, batchId);
    const pause = backoff(hub, attempts);
    await recordAnswer(store, hub, listId, message.chunk, outcome, pause);
    if (outcome.kind === 'ack') return 'acked';
    if (outcome.kind === 'nack') return 'nacked';
    if (outcome.kind === 'err' || outcome.kind === 'refused') {
      // The hub's words stay in the outbox (disburse-status shows them): they may quote the message.
      log.warn({ hub: hub.name, list: listId, chunk: message.chunk, outcome: outcome.kind }, 'the hub refused a disbursement message');
      return { error: outcome.error };
    }
    log.warn({ hub: hub.name, list: listId, chunk: message.chunk, attempt: attempts, error: outcome.error }, 'disbursement message not delivered; retrying');
    if (tries >= hub.retry.attempts) return 'waiting';
    // Whatever failed, ask before sending again: even a gateway's 5xx may follow a delivery.
    outcomeUnknown = true;
    await sleep(pause);
  }
}

/** Exponential back-off with jitter: base · 2^(attempt-1), at most max. */
function backoff(hub: Hub, attempt: number): number {
  const ms = Math.min(hub.retry.maxMs, hub.retry.baseMs * 2 ** (attempt - 1));
  return Math.round(ms * (0.75 + Math.random() * 0.5));
}

/**
 * Writes how a send ended. `acked`/`nacked` move the message's items from queued to sent, never
 * back (a callback may have overtaken the acknowledgement); a retry keeps the message `sending`
 * with its next attempt's time; ERR and refusals are `error` with the hub's words.
 */
async function recordAnswer(store: Store, hub: Hub, listId: number, chunk: number, outcome: SendOutcome, retryInMs = 0): Promise<void> {
  const key = [hub.name, listId, chunk];
  await store.transaction(async ({ raw }) => {
    if (outcome.kind === 'ack' || outcome.kind === 'nack') {
      await raw.query(
        `UPDATE disbursement_messages SET state = $4, answered_at = now(), last_error = NULL WHERE hub = $1 AND list_id = $2 AND chunk = $3`,
        [...key, outcome.kind === 'ack' ? 'acked' : 'nacked'],
      );
      // Locked in reference_id order, as callbacks lock them (see applyStatuses).
      await raw.query(`SELECT 1 FROM disbursement_items WHERE hub = $1 AND list_id = $2 AND chunk = $3 ORDER BY reference_id FOR UPDATE`, key);
      await raw.query(`UPDATE disbursement_items SET state = 'sent', updated_at = now() WHERE hub = $1 AND list_id = $2 AND chunk = $3 AND state = 'queued'`, key);
    } else if (outcome.kind === 'retry') {
      await raw.query(
        `UPDATE disbursement_messages SET last_error = $4, next_attempt_at = now() + make_interval(secs => $5::float8 / 1000) WHERE hub = $1 AND list_id = $2 AND chunk = $3`,
        [...key, outcome.error, retryInMs],
      );
    } else {
      await raw.query(
        `UPDATE disbursement_messages SET state = 'error', answered_at = now(), last_error = $4 WHERE hub = $1 AND list_id = $2 AND chunk = $3`,
        [...key, outcome.error],
      );
    }
  });
}

/**
 * Whether the hub already holds the message's items (asked with txn/status): then it was
 * delivered before the interruption, and its statuses are applied as an answer.
 */
async function hubHolds(store: Store, hub: Hub, listId: number, adapter: HubAdapter, key: SigningKey, message: MessageRow): Promise<boolean> {
  const referenceIds = ((message.body.message as { disbursements?: { reference_id: string }[] }).disbursements ?? []).map((d) => d.reference_id);
  let statuses;
  try {
    statuses = await adapter.queryStatus(message.transaction_id, referenceIds, key);
  } catch (error) {
    log.warn({ hub: hub.name, list: listId, chunk: message.chunk, error: (error as Error).message }, 'could not ask the hub about an interrupted message; sending it again');
    return false;
  }
  if (!statuses || statuses.length === 0) return false;
  await store.transaction(({ raw }) => applyStatuses(raw, hub.name, statuses, { kind: 'poll', reportedIn: `g2p:${hub.name}:${message.message_id}` }));
  return true;
}
