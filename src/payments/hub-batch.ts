import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import type { SigningKey } from '../interop/envelope-signature.ts';
import type { HubAdapter } from './adapter.ts';
import type { Hub } from './hubs.ts';

/**
 * The hub's own batch for a filled disbursement (a G2P Bridge envelope), opened once with the
 * control totals of the filled outbox and its id kept in disbursements.hub_batch_id: a push run
 * again sends into the same batch. Null for hubs without batches. Two pushes racing both ask the
 * hub, but only the first id is kept and both send into it.
 */
export async function openHubBatch(store: Store, hub: Hub, listId: number, adapter: HubAdapter, key: SigningKey): Promise<string | null> {
  if (!adapter.openBatch) return null;
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ hub_batch_id: string | null; filled: boolean; entries: number | null; total: string | null }>(
      `SELECT hub_batch_id, filled_at IS NOT NULL AS filled, entries, total_amount::text AS total FROM disbursements WHERE hub = $1 AND list_id = $2`,
      [hub.name, listId],
    ),
  );
  const row = rows[0];
  if (row?.hub_batch_id) return row.hub_batch_id;
  if (!row?.filled || row.entries === null || row.total === null) throw new Error(`list ${listId}: the outbox for hub ${hub.name} is not filled; its control totals are not known yet`);
  const currencies = await store.transaction(({ raw }) =>
    raw.query<{ currency: string | null }>(
      `SELECT DISTINCT d->>'currency_code' AS currency
         FROM disbursement_messages m, jsonb_array_elements(m.body->'message'->'disbursements') d
        WHERE m.hub = $1 AND m.list_id = $2`,
      [hub.name, listId],
    ),
  );
  if (currencies.rows.length !== 1 || !currencies.rows[0].currency) {
    throw new UserError(`list ${listId}: hub ${hub.name} takes one currency per batch; the list has ${currencies.rows.map((c) => c.currency ?? 'none').join(', ') || 'no item'}`);
  }
  const batchId = await adapter.openBatch({ listId, entries: row.entries, totalAmount: row.total, currency: currencies.rows[0].currency }, key);
  return store.transaction(async ({ raw }) => {
    await raw.query(`UPDATE disbursements SET hub_batch_id = $3 WHERE hub = $1 AND list_id = $2 AND hub_batch_id IS NULL`, [hub.name, listId, batchId]);
    const kept = await raw.query<{ hub_batch_id: string }>(`SELECT hub_batch_id FROM disbursements WHERE hub = $1 AND list_id = $2`, [hub.name, listId]);
    return kept.rows[0].hub_batch_id;
  });
}
