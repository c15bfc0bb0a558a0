import { audit } from '../../audit/audit.ts';
import type { Store, Tx } from '../../db/store.ts';
import { UserError } from '../../errors.ts';
import { importRecords } from '../import-records.ts';
import { startPull } from '../pulls.ts';
import type { SourcedRecord } from '../record-source.ts';
import { groupRecord, type GroupMapping } from './group-record.ts';
import { verifyCallback } from './inbox.ts';
import type { Json } from './messages.ts';
import { EVENT_TYPES, type EventType } from './subscriptions.ts';

interface LiveSubscription {
  registry: string;
  registry_url: string;
  receiver_id: string;
  jwks: string;
  programme: string | null;
  mapping: GroupMapping;
  event_type: EventType;
}

interface NotifyEvent {
  referenceId: string;
  type: EventType;
  group: unknown;
  at: Date;
}

export type NotifyVerdict =
  | { ok: true; correlationId: string; applied: number; duplicates: number }
  | { ok: false; status: 400 | 401 | 422; code: string; message: string };

/**
 * `POST /dci/registry/notify`: a registry pushing changes for our live subscriptions. Accepted
 * only when signed by a registry (header.sender_id) that has a live subscription, with its key;
 * else a 401 that says nothing more. Each event's Group (`data.reg_records`, one record) goes
 * through the import path: REGISTER and UPDATE upsert (and enrol in the subscription's
 * programme), DEREGISTER exits the household's enrolment in that programme and never deletes it.
 * One transaction per notification: a bad record applies nothing (422, the problems named). Events
 * already applied (by reference_id) are skipped, so a notification delivered twice changes nothing.
 * Each applied notification is a registry_pulls row (mode delta since its oldest event, no cursor:
 * a notification says nothing about what the next pull may skip) and a `registry.notified` audit entry with counts.
 */
export async function acceptNotify(store: Store, body: Json): Promise<NotifyVerdict> {
  const header = (body.header ?? {}) as Json;
  const message = (body.message ?? {}) as Json;
  const subscriptions = await liveSubscriptions(store, String(header.sender_id ?? ''));
  const verdict = await verifyCallback(body, subscriptions[0]);
  if (!verdict.ok) return verdict;
  const subscription = subscriptions[0];
  const parsed = eventsOf(message, new Set(subscriptions.map((s) => s.event_type)));
  if (typeof parsed === 'string') return { ok: false, status: 400, code: 'err.request.bad', message: parsed };
  const correlationId = String(message.transaction_id ?? header.message_id ?? '');
  const messageId = String(header.message_id ?? '');
  const seen = await seenEvents(store, subscription.registry, parsed.map((e) => e.referenceId));
  const events = parsed.filter((e) => !seen.has(e.referenceId));
  if (events.length === 0) return { ok: true, correlationId, applied: 0, duplicates: parsed.length };

  const label = `dci notify ${subscription.registry_url} message ${messageId}`;
  // A delta since the oldest event it carries (no cursor: it says nothing about what a pull may skip).
  const since = new Date(Math.min(...events.map((e) => e.at.getTime())));
  const pull = await startPull(store, { registry: subscription.registry, kind: 'dci', url: subscription.registry_url, mode: 'delta', since, actor: `registry:${subscription.registry}` });
  let exited = 0;
  try {
    const report = await importRecords(store, { label, records: records(events, subscription.mapping) }, {
      programme: subscription.programme ?? undefined,
      within: async (tx) => {
        // A copy delivered at the same moment waits on this one's rows, then finds its events taken and rolls back.
        if (await rememberEvents(tx, subscription.registry, messageId, pull, events) < events.length) throw new DeliveredTwice();
        exited = await exitDeregistered(tx, events, subscription);
      },
    });
    const { rows, inserted, updated, unchanged } = report;
    await finishNotified(store, pull, { status: 'success', counts: { events: events.length, rows, inserted, updated, unchanged, exited, duplicates: seen.size } });
    return { ok: true, correlationId, applied: events.length, duplicates: seen.size };
  } catch (error) {
    if (error instanceof DeliveredTwice) {
      // The other delivery applied it: this one changed nothing and leaves no record.
      await store.transaction(({ raw }) => raw.query(`DELETE FROM registry_pulls WHERE id = $1 AND status = 'running'`, [pull]));
      return { ok: true, correlationId, applied: 0, duplicates: parsed.length };
    }
    await finishNotified(store, pull, { status: 'failed', error: (error as Error).message });
    if (error instanceof UserError) return { ok: false, status: 422, code: 'err.request.bad', message: [error.message, ...(error.details ?? [])].join('\n') };
    throw error;
  }
}

class DeliveredTwice extends Error {}

function liveSubscriptions(store: Store, senderId: string): Promise<LiveSubscription[]> {
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<LiveSubscription>(
      `SELECT registry, registry_url, receiver_id, jwks, programme, mapping, event_type
         FROM dci_subscriptions
        WHERE receiver_id = $1 AND status = 'live'
        ORDER BY created_at DESC, id DESC`,
      [senderId],
    );
    // Two of our registries with the same sender id: the one subscribed last speaks for it.
    return rows.filter((r) => r.registry === rows[0]?.registry);
  });
}

/** The events of a notification, or what is wrong with it. */
function eventsOf(message: Json, subscribed: Set<EventType>): NotifyEvent[] | string {
  const items = message.notify_event;
  if (!Array.isArray(items) || items.length === 0) return 'the message holds no notify_event';
  const events: NotifyEvent[] = [];
  for (const [i, item] of (items as Json[]).entries()) {
    const data = (item?.data ?? {}) as Json;
    // `spdci-common:RegistryEventType:Update` or `UPDATE`: the last part, upper-cased.
    const type = String(data.reg_event_type ?? '').split(':').pop()!.toUpperCase() as EventType;
    const where = `notify_event ${i + 1}`;
    if (typeof item?.reference_id !== 'string' || item.reference_id === '') return `${where}: no reference_id`;
    if (!EVENT_TYPES.includes(type)) return `${where}: data.reg_event_type ${JSON.stringify(data.reg_event_type)} is not one of ${EVENT_TYPES.join(', ')}`;
    if (!subscribed.has(type)) return `${where}: no live subscription to ${type} events`;
    const group = Array.isArray(data.reg_records) ? data.reg_records : [data.reg_records];
    if (group.length !== 1 || !group[0] || typeof group[0] !== 'object') return `${where}: data.reg_records is not one Group`;
    const at = new Date(String(item.timestamp));
    events.push({ referenceId: item.reference_id, type, group: group[0], at: Number.isNaN(at.getTime()) ? new Date() : at });
  }
  return events;
}

async function* records(events: NotifyEvent[], mapping: GroupMapping): AsyncGenerator<SourcedRecord> {
  for (const [i, event] of events.entries()) {
    // A deregistered household is exited, not rewritten from what may be a bare identifier.
    if (event.type !== 'DEREGISTER') yield { record: groupRecord(event.group, mapping), where: `event ${i + 1} (${event.type})` };
  }
}

async function seenEvents(store: Store, registry: string, referenceIds: string[]): Promise<Set<string>> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ reference_id: string }>(
      `SELECT reference_id FROM dci_notify_events WHERE registry = $1 AND reference_id = ANY($2::text[])`, [registry, referenceIds]));
  return new Set(rows.map((r) => r.reference_id));
}

/** Ends the enrolment in the subscription's programme of each deregistered household we hold. */
async function exitDeregistered({ raw }: Tx, events: NotifyEvent[], subscription: LiveSubscription): Promise<number> {
  const ids = events.filter((e) => e.type === 'DEREGISTER').map((e) => groupRecord(e.group, subscription.mapping).registry_id);
  if (ids.length === 0 || !subscription.programme) return 0;
  const result = await raw.query(
    `UPDATE enrolments e SET status = 'exited', since = current_date
       FROM households h
      WHERE h.id = e.household_id AND h.registry_id = ANY($1::text[]) AND e.programme_code = $2 AND e.status <> 'exited'`,
    [ids, subscription.programme],
  );
  return result.rowCount;
}

/** Remembers the events (a redelivery skips them) and when the registry last told us something; how many were new. */
async function rememberEvents({ raw }: Tx, registry: string, messageId: string, pull: number, events: NotifyEvent[]): Promise<number> {
  const remembered = await raw.query(
    `INSERT INTO dci_notify_events (registry, reference_id, message_id, pull_id, event_type)
     SELECT $1, r, $2, $3, t FROM unnest($4::text[], $5::text[]) AS x(r, t)
     ON CONFLICT (registry, reference_id) DO NOTHING`,
    [registry, messageId, pull, events.map((e) => e.referenceId), events.map((e) => e.type)],
  );
  const last = new Date(Math.max(...events.map((e) => e.at.getTime())));
  await raw.query(
    `UPDATE dci_subscriptions SET last_event_at = greatest(coalesce(last_event_at, $2), $2)
      WHERE registry = $1 AND status = 'live' AND event_type = ANY($3::text[])`,
    [registry, last, [...new Set(events.map((e) => e.type))]],
  );
  return remembered.rowCount;
}

/** Closes the registry_pulls row of a notification (no cursor) and audits it, counts only. */
async function finishNotified(
  store: Store,
  id: number,
  outcome: { status: 'success'; counts: Record<string, number> } | { status: 'failed'; error: string },
): Promise<void> {
  await store.transaction(async ({ raw }) => {
    const success = outcome.status === 'success';
    const { rows } = await raw.query<{ registry: string; url: string; actor: string }>(
      `UPDATE registry_pulls SET status = $2, counts = $3::jsonb, error = $4, finished_at = now()
        WHERE id = $1 AND status = 'running' RETURNING registry, url, actor`,
      [id, outcome.status, JSON.stringify(success ? outcome.counts : {}), success ? null : outcome.error],
    );
    await audit(raw, {
      actor: rows[0].actor,
      action: 'registry.notified',
      subject: `registry_pull:${id}`,
      details: { registry: rows[0].registry, url: rows[0].url, status: outcome.status, ...(success ? { counts: outcome.counts } : {}) },
    });
  });
}
