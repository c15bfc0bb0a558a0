import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { log } from '../log.ts';
import { adapterFor } from './adapters.ts';
import { openHubBatch } from './hub-batch.ts';
import { getHub, type Hub } from './hubs.ts';
import { fillOutbox, openDisbursal } from './outbox.ts';
import { pollOpenItems } from './poll.ts';
import { sendOutbox, type SendReport } from './send.ts';
import { engineKeyRing } from '../interop/engine-keys.ts';
import { disbursementStatus, type DisbursementStatus } from './status-report.ts';

export interface DisburseOptions {
  /** Wait until every item has a final status (asking the hub about items whose callback is late), up to this many ms. */
  waitMs?: number;
  /** How often to look at the items while waiting. */
  pollEveryMs?: number;
  /** The hubs file (default ASP_HUBS). */
  hubsFile?: string;
  /** The engine's data folder, for its signing keys (default ASP_DATA_DIR). */
  dataDir?: string;
}

export interface DisburseReport extends DisbursementStatus {
  sent: SendReport;
  /** Whether every item ended final within the wait (true without a wait only if it already was). */
  complete: boolean;
}

/**
 * Pushes a released list to a payment hub: checks the list is released to the hub's partner,
 * fills the outbox (pages of the list, chunk by chunk, each committed before any send), sends what
 * is not sent yet, and optionally waits for the statuses, asking the hub about items whose callback
 * has not come `status_after_seconds` after their message was acknowledged. Run again, it sends
 * only what was not delivered: the same message ids, transaction ids and reference ids.
 *
 * ```ts
 * const report = await disburseList(store, 12, 'mpesa-hub', 'alice', { waitMs: 600_000 })
 * ```
 */
export async function disburseList(store: Store, listId: number, hubName: string, actor: string, options: DisburseOptions = {}): Promise<DisburseReport> {
  if (!actor?.trim()) throw new UserError('say who pushes the list (--by NAME)');
  const hub = await getHub(hubName, options.hubsFile);
  const adapter = adapterFor(hub);
  const ring = await engineKeyRing(options.dataDir);
  const disbursal = await openDisbursal(store, hub, listId, actor);
  await fillOutbox(store, hub, disbursal, adapter, actor);
  const batchId = await openHubBatch(store, hub, listId, adapter, ring.active);
  const sent = await sendOutbox(store, hub, listId, adapter, ring.active, batchId);
  log.info({ hub: hub.name, list: listId, acked: sent.acked, nacked: sent.nacked, errors: sent.errors.length, waiting: sent.waiting }, 'disbursement sent');
  await waitForStatuses(store, hub, listId, options, ring.active);
  const status = await disbursementStatus(store, listId, hub.name);
  return { ...status, sent, complete: status.open === 0 };
}

/** Until every delivered item has a final status, or the wait is over. */
async function waitForStatuses(store: Store, hub: Hub, listId: number, options: DisburseOptions, key: Parameters<typeof pollOpenItems>[4]): Promise<void> {
  const until = Date.now() + (options.waitMs ?? 0);
  const every = options.pollEveryMs ?? Math.min(5000, Math.max(200, hub.statusAfterMs / 4));
  for (;;) {
    const awaited = await pollOpenItems(store, hub, listId, adapterFor(hub), key);
    if (awaited === 0 || Date.now() >= until) return;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
