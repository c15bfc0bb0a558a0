import { audit } from '../audit/audit.ts';
import type { RawConnection } from '../db/raw.ts';
import type { ItemStatus } from './adapter.ts';

/**
 * A hub's statuses applied to the items, from a callback or a status answer alike. A state only
 * moves forward (rcvd < pdng < succ | rjct); a status that does not move an item changes nothing
 * (a repeated callback counts as a duplicate). An item reaching succ or rjct becomes its
 * reconciliation row in payment_statuses (paid, or failed with the reason code) in the same
 * transaction, so it is recorded exactly once. When the last item of a disbursement is final, the
 * disbursement is marked reconciled and its summary audited.
 */

export interface AppliedStatuses {
  /** Items whose state moved. */
  moved: number;
  /** Items that became final (and a reconciliation row) now. */
  reconciled: number;
  /** Statuses about items already at that state or further (from callbacks only: a status answer is not a repeat). */
  duplicates: number;
  /** Reference ids this hub was never sent. */
  unknown: number;
}

export async function applyStatuses(
  raw: RawConnection,
  hub: string,
  statuses: ItemStatus[],
  source: { kind: 'callback' | 'poll'; reportedIn: string },
): Promise<AppliedStatuses> {
  if (statuses.length === 0) return { moved: 0, reconciled: 0, duplicates: 0, unknown: 0 };
  const params = [
    hub,
    statuses.map((s) => s.referenceId),
    statuses.map((s) => s.status),
    statuses.map((s) => s.reasonCode),
    statuses.map((s) => s.at),
  ];
  const incoming = `SELECT DISTINCT ON (reference_id) * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS x(reference_id, status, reason_code, at)
                     ORDER BY reference_id, disbursement_state_rank(status) DESC`;
  const callback = source.kind === 'callback';
  // Rows are locked in reference_id order, as the acknowledgement's write does: a callback and an
  // ACK about the same items at once then wait for each other instead of deadlocking.
  await raw.query(`SELECT 1 FROM disbursement_items WHERE hub = $1 AND reference_id = ANY($2::text[]) ORDER BY reference_id FOR UPDATE`, [hub, params[1]]);
  const moved = await raw.query<{ list_id: number; household_id: number; reference_id: string; amount: string; state: string; reason_code: string | null; status_at: Date | null }>(
    `UPDATE disbursement_items i
        SET state = x.status, reason_code = CASE WHEN x.status = 'rjct' THEN coalesce(x.reason_code, 'rjct') END,
            status_at = coalesce(x.at, now()), updated_at = now(),
            callbacks = i.callbacks + $6::int, polled = i.polled + $7::int
       FROM (${incoming}) x
      WHERE i.hub = $1 AND i.reference_id = x.reference_id AND disbursement_state_rank(x.status) > disbursement_state_rank(i.state)
      RETURNING i.list_id, i.household_id, i.reference_id, i.amount::text, i.state, i.reason_code, i.status_at`,
    [...params, callback ? 1 : 0, callback ? 0 : 1],
  );
  const movedIds = moved.rows.map((r) => r.reference_id);
  const repeats = await raw.query<{ n: number }>(
    `WITH repeated AS (
       UPDATE disbursement_items i SET callbacks = i.callbacks + $3::int, duplicates = i.duplicates + $3::int
        WHERE i.hub = $1 AND i.reference_id = ANY($2::text[]) AND NOT (i.reference_id = ANY($4::text[]))
        RETURNING 1)
     SELECT count(*)::int AS n FROM repeated`,
    [hub, [...new Set(params[1] as string[])], callback ? 1 : 0, movedIds],
  );
  const known = moved.rows.length + repeats.rows[0].n;
  const final = moved.rows.filter((r) => r.state === 'succ' || r.state === 'rjct');
  if (final.length > 0) {
    // ON CONFLICT: a status the partner already reported by file stays; the hub's item is still final.
    await raw.query(
      `INSERT INTO payment_statuses (list_id, household_id, release_id, status, reason, amount, paid_at, reference, reported_in)
       SELECT x.list_id, x.household_id, d.release_id, CASE WHEN x.state = 'succ' THEN 'paid' ELSE 'failed' END,
              CASE WHEN x.state = 'rjct' THEN x.reason_code END, x.amount, CASE WHEN x.state = 'succ' THEN x.status_at END, x.reference_id, $2
         FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::numeric[], $7::text[], $8::text[], $9::timestamptz[])
              AS x(list_id, household_id, reference_id, amount, state, reason_code, status_at)
         JOIN disbursements d ON d.hub = $1 AND d.list_id = x.list_id
       ON CONFLICT (list_id, household_id) DO NOTHING`,
      [hub, source.reportedIn, final.map((r) => r.list_id), final.map((r) => r.household_id), final.map((r) => r.reference_id),
        final.map((r) => r.amount), final.map((r) => r.state), final.map((r) => r.reason_code), final.map((r) => r.status_at)],
    );
    for (const listId of new Set(final.map((r) => Number(r.list_id)))) await markIfReconciled(raw, hub, listId);
  }
  return { moved: moved.rows.length, reconciled: final.length, duplicates: callback ? repeats.rows[0].n : 0, unknown: new Set(params[1] as string[]).size - known };
}

/** Marks the disbursement reconciled and audits its summary once every item is final. */
export async function markIfReconciled(raw: RawConnection, hub: string, listId: number): Promise<void> {
  const { rows } = await raw.query<{ open: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM disbursement_items WHERE hub = $1 AND list_id = $2 AND disbursement_state_rank(state) < 4) AS open`,
    [hub, listId],
  );
  if (rows[0].open) return;
  const marked = await raw.query<{ release_id: number }>(
    `UPDATE disbursements SET reconciled_at = now() WHERE hub = $1 AND list_id = $2 AND filled_at IS NOT NULL AND reconciled_at IS NULL RETURNING release_id`,
    [hub, listId],
  );
  if (marked.rows.length === 0) return;
  const summary = await raw.query<{ entries: number; paid: number; rejected: number; callbacks: number; duplicates: number; polled: number; by_reason: Record<string, number> | null }>(
    `SELECT count(*)::int AS entries, count(*) FILTER (WHERE state = 'succ')::int AS paid, count(*) FILTER (WHERE state = 'rjct')::int AS rejected,
            sum(callbacks)::int AS callbacks, sum(duplicates)::int AS duplicates, sum(polled)::int AS polled,
            (SELECT jsonb_object_agg(reason_code, n) FROM (SELECT reason_code, count(*)::int AS n FROM disbursement_items
               WHERE hub = $1 AND list_id = $2 AND state = 'rjct' GROUP BY reason_code) r) AS by_reason
       FROM disbursement_items WHERE hub = $1 AND list_id = $2`,
    [hub, listId],
  );
  await audit(raw, {
    actor: `hub:${hub}`,
    action: 'list.disbursement_reconciled',
    subject: `list:${listId}`,
    details: { hub, release: Number(marked.rows[0].release_id), ...summary.rows[0], by_reason: summary.rows[0].by_reason ?? {} },
  });
}
