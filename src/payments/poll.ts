import type { Store } from '../db/store.ts';
import type { SigningKey } from '../interop/envelope-signature.ts';
import { log } from '../log.ts';
import type { HubAdapter } from './adapter.ts';
import type { Hub } from './hubs.ts';
import { applyStatuses, markIfReconciled } from './statuses.ts';

/**
 * Recovers lost callbacks: the items without a final status whose message was acknowledged (or
 * whose own last status came) more than the hub's `status_after_seconds` ago are asked about with
 * txn/status, a page of reference ids at a time; the answers are applied like callbacks. A NACKed
 * message gets no callback, so its items are asked about at once. Returns the items of delivered
 * messages still without a final status (those of undelivered or refused messages wait for no answer).
 */
export async function pollOpenItems(store: Store, hub: Hub, listId: number, adapter: HubAdapter, key: SigningKey): Promise<number> {
  let after = '';
  for (;;) {
    const { rows } = await store.transaction(({ raw }) =>
      raw.query<{ reference_id: string; transaction_id: string; message_id: string }>(
        `SELECT i.reference_id, m.transaction_id, m.message_id FROM disbursement_items i
           JOIN disbursement_messages m ON m.hub = i.hub AND m.list_id = i.list_id AND m.chunk = i.chunk
          WHERE i.hub = $1 AND i.list_id = $2 AND disbursement_state_rank(i.state) < 4 AND i.reference_id > $3
            AND (m.state = 'nacked' OR (m.state = 'acked' AND greatest(m.answered_at, i.updated_at) <= now() - make_interval(secs => $4::float8 / 1000)))
          ORDER BY i.reference_id LIMIT $5`,
        [hub.name, listId, after, hub.statusAfterMs, hub.chunkSize],
      ),
    );
    if (rows.length === 0) break;
    after = rows[rows.length - 1].reference_id;
    // One question per transaction (chunk) the page touches.
    const byTransaction = new Map<string, { messageId: string; referenceIds: string[] }>();
    for (const r of rows) {
      const group = byTransaction.get(r.transaction_id) ?? { messageId: r.message_id, referenceIds: [] };
      group.referenceIds.push(r.reference_id);
      byTransaction.set(r.transaction_id, group);
    }
    for (const [transactionId, { messageId, referenceIds }] of byTransaction) {
      let statuses;
      try {
        statuses = await adapter.queryStatus(transactionId, referenceIds, key);
      } catch (error) {
        log.warn({ hub: hub.name, list: listId, error: (error as Error).message }, 'status request failed; asking again later');
        continue;
      }
      if (statuses && statuses.length > 0) {
        const found = statuses;
        await store.transaction(({ raw }) => applyStatuses(raw, hub.name, found, { kind: 'poll', reportedIn: `g2p:${hub.name}:${messageId}` }));
      }
    }
  }
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ open: number; awaited: number }>(
      `SELECT count(*)::int AS open, count(*) FILTER (WHERE m.state IN ('acked', 'nacked'))::int AS awaited
         FROM disbursement_items i JOIN disbursement_messages m ON m.hub = i.hub AND m.list_id = i.list_id AND m.chunk = i.chunk
        WHERE i.hub = $1 AND i.list_id = $2 AND disbursement_state_rank(i.state) < 4`,
      [hub.name, listId],
    );
    // Two callbacks finishing the last items at once may each have seen the other's item open.
    if (rows[0].open === 0) await markIfReconciled(raw, hub.name, listId);
    return rows[0].awaited;
  });
}
