import { randomUUID } from 'node:crypto';
import { audit } from '../audit/audit.ts';
import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { ConflictError, UserError } from '../errors.ts';
import { g2pDisbursementPages, g2pTransactionId } from '../exports/g2p.ts';
import { openExport } from '../exports/source.ts';
import { findRelease } from '../lists/release.ts';
import type { Disbursement, HubAdapter } from './adapter.ts';
import type { Hub } from './hubs.ts';

/**
 * Filling the outbox: the list, as its G2P export writes it for the hub's partner (the same
 * reference_ids, payee addresses and amounts and the same fields withheld as the file: both take
 * g2pDisbursementPages), cut into chunks of the hub's size. Each chunk is committed with its
 * items in its own transaction, before anything is sent; a fill interrupted part-way goes on where
 * it stopped, and a finished one is never redone.
 */

export interface Disbursal {
  hub: string;
  listId: number;
  releaseId: number;
  pseudonymised: boolean;
  chunkSize: number;
  filled: boolean;
}

/** The disbursement of the list to the hub, created on first call; checks the list is released to the hub's partner. */
export async function openDisbursal(store: Store, hub: Hub, listId: number, actor: string): Promise<Disbursal> {
  return store.transaction(async ({ raw }) => {
    const release = await findRelease(raw, listId, hub.partnerId);
    if (!release) {
      throw new UserError(`payment list ${listId} is not released to ${hub.partnerId}, the partner hub ${hub.name} pays for: release it first (asp lists release ${listId} --partner ${hub.partnerId} …)`);
    }
    const other = await raw.query<{ hub: string }>(`SELECT hub FROM disbursements WHERE list_id = $1 AND release_id = $2 AND hub <> $3`, [listId, release.id, hub.name]);
    if (other.rows.length > 0) {
      throw new ConflictError(`payment list ${listId} is already pushed to hub ${other.rows[0].hub}, which pays for the same partner (${hub.partnerId}): a list is paid through one hub`);
    }
    await raw.query(
      `INSERT INTO disbursements (hub, list_id, release_id, chunk_size, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hub, list_id) DO NOTHING`,
      [hub.name, listId, release.id, hub.chunkSize, actor],
    );
    const { rows } = await raw.query<{ chunk_size: number; filled: boolean }>(
      `SELECT chunk_size, filled_at IS NOT NULL AS filled FROM disbursements WHERE hub = $1 AND list_id = $2`,
      [hub.name, listId],
    );
    // The chunks of a started fill keep the size they were started with.
    return { hub: hub.name, listId, releaseId: release.id, pseudonymised: release.pseudonymised, chunkSize: rows[0].chunk_size, filled: rows[0].filled };
  });
}

/** Fills what is missing of the outbox; audits `list.disbursed` once, when the fill completes. */
export async function fillOutbox(store: Store, hub: Hub, disbursal: Disbursal, adapter: HubAdapter, actor: string): Promise<void> {
  if (disbursal.filled) return;
  const { listId, chunkSize } = disbursal;
  const existing = new Set(
    (await store.transaction(({ raw }) =>
      raw.query<{ chunk: number }>(`SELECT chunk FROM disbursement_messages WHERE hub = $1 AND list_id = $2`, [hub.name, listId]),
    )).rows.map((r) => r.chunk),
  );
  const ctx = await openExport(store, listId, 'g2p', { partnerId: hub.partnerId, pageSize: chunkSize }, actor);
  const transactionBase = g2pTransactionId(ctx);
  let chunk: Disbursement[] = [];
  let chunkNumber = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    if (!existing.has(chunkNumber)) await writeChunk(store, hub, disbursal, adapter, chunkNumber, transactionId(transactionBase, chunkNumber), chunk);
    chunkNumber += 1;
    chunk = [];
  };
  for await (const page of g2pDisbursementPages(store, ctx)) {
    for (const item of page) {
      chunk.push(item);
      if (chunk.length === chunkSize) await flush();
    }
  }
  await flush();
  await store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ chunks: number; entries: number; total: string }>(
      `UPDATE disbursements d SET filled_at = now(),
              chunks = (SELECT count(*) FROM disbursement_messages m WHERE m.hub = d.hub AND m.list_id = d.list_id),
              entries = (SELECT count(*) FROM disbursement_items i WHERE i.hub = d.hub AND i.list_id = d.list_id),
              total_amount = (SELECT coalesce(sum(amount), 0) FROM disbursement_items i WHERE i.hub = d.hub AND i.list_id = d.list_id)
        WHERE hub = $1 AND list_id = $2 AND filled_at IS NULL
        RETURNING chunks, entries, total_amount::text AS total`,
      [hub.name, listId],
    );
    if (rows.length === 0) return;
    await audit(raw, {
      actor,
      action: 'list.disbursed',
      subject: `list:${listId}`,
      details: { hub: hub.name, adapter: hub.adapter, partner: hub.partnerId, release: disbursal.releaseId, chunks: rows[0].chunks, entries: rows[0].entries, total_amount: rows[0].total },
    });
  });
}

/** A transaction id per chunk: the export's, numbered; kept within the spec's 99 characters. */
function transactionId(base: string, chunk: number): string {
  const suffix = `.${chunk + 1}`;
  return `${base.slice(0, 99 - suffix.length)}${suffix}`;
}

async function writeChunk(
  store: Store, hub: Hub, disbursal: Disbursal, adapter: HubAdapter, chunk: number, transactionId: string, disbursements: Disbursement[],
): Promise<void> {
  const messageId = randomUUID();
  const envelope = adapter.prepareChunk({ messageId, transactionId, disbursements, now: new Date() });
  await store.transaction(async ({ raw }) => {
    await raw.query(
      `INSERT INTO disbursement_messages (hub, list_id, chunk, message_id, transaction_id, body, items) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
      [hub.name, disbursal.listId, chunk, messageId, transactionId, JSON.stringify(envelope), disbursements.length],
    );
    await insertItems(raw, hub, disbursal, chunk, disbursements);
  });
}

/** The chunk's items, each matched to its household through the id the export gave it. */
async function insertItems(raw: RawConnection, hub: Hub, disbursal: Disbursal, chunk: number, disbursements: Disbursement[]): Promise<void> {
  const exportIds = disbursements.map((d) => String((d.meta as { beneficiary_id?: unknown } | undefined)?.beneficiary_id ?? ''));
  const { rowCount } = await raw.query(
    `INSERT INTO disbursement_items (hub, list_id, household_id, chunk, reference_id, amount)
     SELECT $1, $2::bigint, coalesce(r.household_id, e.household_id), $3, x.reference_id, x.amount::numeric
       FROM unnest($4::text[], $5::text[], $6::text[]) AS x(reference_id, export_id, amount)
       LEFT JOIN release_ids r ON $7::boolean AND r.release_id = $8::bigint AND r.pseudonymous_id = x.export_id
       LEFT JOIN payment_list_entries e ON NOT $7::boolean AND e.list_id = $2::bigint AND e.registry_id = x.export_id`,
    [hub.name, disbursal.listId, chunk, disbursements.map((d) => d.reference_id), exportIds, disbursements.map((d) => d.amount),
      disbursal.pseudonymised, disbursal.releaseId],
  );
  if (rowCount !== disbursements.length) throw new Error(`chunk ${chunk}: ${rowCount} of ${disbursements.length} items matched a household`);
}
