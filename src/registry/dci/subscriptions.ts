import { randomUUID } from 'node:crypto';
import { audit } from '../../audit/audit.ts';
import type { Store } from '../../db/store.ts';
import { UserError } from '../../errors.ts';
import { verifyCallback, type CallbackVerdict } from './inbox.ts';
import { envelope, post, type DciRegistry, type DciSender, type Json } from './messages.ts';

/** The events a subscription asks for: a household registered, changed, or deregistered. */
export const EVENT_TYPES = ['REGISTER', 'UPDATE', 'DEREGISTER'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface SubscribeOptions {
  /** Where notified households are enrolled and DEREGISTER exits them. */
  programme?: string;
  actor: string;
  /** Where the registry answers (on-subscribe) and notifies: `${ASP_PUBLIC_URL}/dci/registry`. */
  callbackBase: string;
  /** How long to wait for the on-subscribe callback. */
  waitMs?: number;
  pollMs?: number;
}

export interface Subscription {
  eventType: EventType;
  code: string;
}

/**
 * `POST {URL}/registry/subscribe`: one subscribe_request item per event type, for Groups, with
 * `sender_uri` our on-subscribe and `notify_uri` (an extension of subscribe_criteria: the spec
 * names no field for it) our notify endpoint. The subscriptions are recorded `pending` before the
 * request is sent, and become `live` when the registry's signed on-subscribe gives their codes.
 */
export async function subscribeDci(store: Store, registry: DciRegistry, sender: DciSender, options: SubscribeOptions): Promise<Subscription[]> {
  if (!registry.jwks) throw new UserError(`a subscription needs the registry's JWKS (--jwks) to authenticate its notifications`);
  if (!registry.receiverId) throw new UserError(`a subscription needs the registry's sender id (--receiver-id): notifications are told apart by it`);
  const transactionId = randomUUID();
  const now = new Date().toISOString();
  const items = EVENT_TYPES.map((eventType) => ({
    reference_id: `${transactionId}-${eventType}`,
    timestamp: now,
    subscribe_criteria: {
      version: '1.0.0',
      reg_event_type: eventType,
      filter_type: 'predicate',
      filter: [{ seq_num: 1, expression1: { attribute_name: 'last_updated', operator: 'ge', attribute_value: now } }],
      notify_record_type: 'Group',
      notify_uri: `${options.callbackBase}/notify`,
    },
  }));
  await store.transaction(async ({ raw }) => {
    for (const item of items) {
      await raw.query(
        `INSERT INTO dci_subscriptions (registry, registry_url, receiver_id, jwks, programme, mapping, event_type, transaction_id, reference_id, actor)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)`,
        [registry.name, registry.url, registry.receiverId, registry.jwks, options.programme ?? null, JSON.stringify(registry.mapping),
          item.subscribe_criteria.reg_event_type, transactionId, item.reference_id, options.actor],
      );
    }
  });
  const what = `dci ${registry.url}: subscribe`;
  const message = { transaction_id: transactionId, subscribe_request: items };
  const answer = await post(registry, '/registry/subscribe', envelope(sender, registry, 'subscribe', message, {
    sender_uri: `${options.callbackBase}/on-subscribe`, total_count: items.length,
  }), what);
  const ack = (answer.message ?? {}) as Json;
  if (ack.ack_status !== 'ACK') {
    await endPending(store, transactionId, `the registry answered ${String(ack.ack_status ?? 'no ack')}`);
    throw new UserError(`${what}: the registry answered ${String(ack.ack_status ?? 'no ack')}`);
  }
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  for (;;) {
    const { rows } = await store.transaction(({ raw }) =>
      raw.query<{ event_type: EventType; status: string; subscription_code: string | null; reason: string | null }>(
        `SELECT event_type, status, subscription_code, reason FROM dci_subscriptions WHERE transaction_id = $1 ORDER BY id`, [transactionId]));
    if (rows.every((r) => r.status !== 'pending')) {
      const rejected = rows.filter((r) => r.status !== 'live');
      if (rejected.length > 0) throw new UserError(`${what}: the registry refused ${rejected.map((r) => `${r.event_type} (${r.reason ?? 'no reason'})`).join(', ')}`);
      return rows.map((r) => ({ eventType: r.event_type, code: r.subscription_code! }));
    }
    if (Date.now() > deadline) {
      await endPending(store, transactionId, 'no on-subscribe in time');
      throw new Error(`${what}: no on-subscribe callback reached ${options.callbackBase}/on-subscribe in time`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
  }
}

async function endPending(store: Store, transactionId: string, reason: string): Promise<void> {
  await store.transaction(({ raw }) =>
    raw.query(`UPDATE dci_subscriptions SET status = 'rejected', reason = $2, ended_at = now() WHERE transaction_id = $1 AND status = 'pending'`, [transactionId, reason]));
}

/**
 * `POST /dci/registry/on-subscribe`: the registry's answer, accepted only for a subscribe we sent
 * and signed by that registry. Each item gives its subscription code (`code`, or
 * `subscription_code` which the spec's SubscriptionInfo requires), or a rejection.
 */
export async function acceptOnSubscribe(store: Store, body: Json): Promise<CallbackVerdict> {
  const message = (body.message ?? {}) as Json;
  const transactionId = String(message.transaction_id ?? '');
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ jwks: string; receiver_id: string; registry: string; actor: string }>(
      `SELECT jwks, receiver_id, registry, actor FROM dci_subscriptions WHERE transaction_id = $1 AND status = 'pending' LIMIT 1`, [transactionId]));
  const verdict = await verifyCallback(body, rows[0]);
  if (!verdict.ok) return verdict;
  const items = message.subscribe_response;
  if (!Array.isArray(items)) return { ok: false, status: 400, code: 'err.request.bad', message: 'the message holds no subscribe_response' };
  let stored = 0;
  await store.transaction(async ({ raw }) => {
    for (const item of items as Json[]) {
      const info = ((item.subscriptions as Json[] | undefined) ?? [])[0] ?? {};
      const code = info.code ?? info.subscription_code;
      const live = item.status === 'succ' && typeof code === 'string' && code !== '';
      const result = await raw.query(
        `UPDATE dci_subscriptions SET status = $3, subscription_code = $4, reason = $5, ended_at = CASE WHEN $3 = 'live' THEN NULL ELSE now() END
          WHERE transaction_id = $1 AND reference_id = $2 AND status = 'pending'`,
        [transactionId, String(item.reference_id ?? ''), live ? 'live' : 'rejected', live ? code : null,
          live ? null : String(item.status_reason_code ?? item.status ?? 'no subscription code')],
      );
      stored += result.rowCount;
    }
    if (stored > 0) {
      await audit(raw, { actor: rows[0].actor, action: 'registry.subscribed', subject: `registry:${rows[0].registry}`, details: { transaction_id: transactionId, answered: stored } });
    }
  });
  return { ok: true, stored, correlationId: String(message.correlation_id ?? transactionId) };
}

/**
 * `POST {URL}/registry/unsubscribe` with the registry's live subscription codes. They end here
 * first: from then on no notification of theirs is accepted, whatever the registry answers.
 */
export async function unsubscribeDci(store: Store, registry: DciRegistry, sender: DciSender, actor: string): Promise<string[]> {
  const codes = await store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ subscription_code: string }>(
      `UPDATE dci_subscriptions SET status = 'ended', ended_at = now() WHERE registry = $1 AND status = 'live' RETURNING subscription_code`, [registry.name]);
    const ended = rows.map((r) => r.subscription_code);
    if (ended.length > 0) await audit(raw, { actor, action: 'registry.unsubscribed', subject: `registry:${registry.name}`, details: { subscriptions: ended } });
    return ended;
  });
  if (codes.length === 0) throw new UserError(`registry ${registry.name} has no live subscription`);
  const message = { transaction_id: randomUUID(), timestamp: new Date().toISOString(), subscription_codes: codes };
  const what = `dci ${registry.url}: unsubscribe`;
  const answer = await post(registry, '/registry/unsubscribe', envelope(sender, registry, 'unsubscribe', message), what);
  const ack = (answer.message ?? {}) as Json;
  if (ack.ack_status !== 'ACK') throw new UserError(`${what}: the registry answered ${String(ack.ack_status ?? 'no ack')}; the subscriptions are ended on our side`);
  return codes;
}
