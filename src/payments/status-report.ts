import type { Store } from '../db/store.ts';
import { NotFoundError } from '../errors.ts';

/** Where a disbursement of a list to a hub stands: messages and items by state, callbacks, reconciliation. */
export interface DisbursementStatus {
  hub: string;
  listId: number;
  entries: number;
  chunks: number;
  totalAmount: string | null;
  filled: boolean;
  messages: Record<'queued' | 'sending' | 'acked' | 'nacked' | 'error', number>;
  items: Record<'queued' | 'sent' | 'rcvd' | 'pdng' | 'succ' | 'rjct', number>;
  /** Items without a final status. */
  open: number;
  callbacks: number;
  duplicates: number;
  polled: number;
  /** Reconciliation rows written from this hub's statuses. */
  reconciled: number;
  reconciledAt: Date | null;
  errors: { chunk: number; error: string }[];
}

export async function disbursementStatus(store: Store, listId: number, hub: string): Promise<DisbursementStatus> {
  return store.transaction(async ({ raw }) => {
    const head = await raw.query<{ chunks: number | null; entries: number | null; total_amount: string | null; filled: boolean; reconciled_at: Date | null }>(
      `SELECT chunks, entries, total_amount::text, filled_at IS NOT NULL AS filled, reconciled_at FROM disbursements WHERE hub = $1 AND list_id = $2`,
      [hub, listId],
    );
    if (head.rows.length === 0) throw new NotFoundError(`payment list ${listId} was not pushed to hub ${hub} (asp lists disburse ${listId} --hub ${hub})`);
    const messages = await raw.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM disbursement_messages WHERE hub = $1 AND list_id = $2 GROUP BY state`,
      [hub, listId],
    );
    const items = await raw.query<{ state: string; n: number; callbacks: number; duplicates: number; polled: number }>(
      `SELECT state, count(*)::int AS n, sum(callbacks)::int AS callbacks, sum(duplicates)::int AS duplicates, sum(polled)::int AS polled
         FROM disbursement_items WHERE hub = $1 AND list_id = $2 GROUP BY state`,
      [hub, listId],
    );
    const reconciled = await raw.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM payment_statuses WHERE list_id = $1 AND reported_in LIKE $2`,
      [listId, `g2p:${hub}:%`],
    );
    const errors = await raw.query<{ chunk: number; last_error: string }>(
      `SELECT chunk, last_error FROM disbursement_messages WHERE hub = $1 AND list_id = $2 AND state = 'error' ORDER BY chunk LIMIT 20`,
      [hub, listId],
    );
    const byState = <K extends string>(keys: K[], rows: { state: string; n: number }[]) =>
      Object.fromEntries(keys.map((k) => [k, rows.find((r) => r.state === k)?.n ?? 0])) as Record<K, number>;
    const itemStates = byState(['queued', 'sent', 'rcvd', 'pdng', 'succ', 'rjct'], items.rows);
    const sum = (field: 'callbacks' | 'duplicates' | 'polled') => items.rows.reduce((total, r) => total + (r[field] ?? 0), 0);
    const h = head.rows[0];
    return {
      hub, listId, entries: h.entries ?? items.rows.reduce((t, r) => t + r.n, 0), chunks: h.chunks ?? messages.rows.reduce((t, r) => t + r.n, 0),
      totalAmount: h.total_amount, filled: h.filled,
      messages: byState(['queued', 'sending', 'acked', 'nacked', 'error'], messages.rows),
      items: itemStates,
      open: itemStates.queued + itemStates.sent + itemStates.rcvd + itemStates.pdng,
      callbacks: sum('callbacks'), duplicates: sum('duplicates'), polled: sum('polled'),
      reconciled: reconciled.rows[0].n, reconciledAt: h.reconciled_at,
      errors: errors.rows.map((e) => ({ chunk: e.chunk, error: e.last_error })),
    };
  });
}
