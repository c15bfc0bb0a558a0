import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { GENESIS_HASH, auditHash } from './audit.ts';

/**
 * Checking and reading the audit log. The database refuses UPDATE and DELETE on it; this finds
 * what was done behind the database's back (triggers disabled, files edited): every row's hash
 * is recomputed from the previous row's and its own content.
 */

/** Rows read per query: memory stays flat however long the log. */
const PAGE_SIZE = 1000;

export interface AuditVerification {
  rows: number;
  ok: boolean;
  /** The first row where the chain breaks, and why. */
  firstBroken: { id: number; reason: string } | null;
  /** The hash of the last row (GENESIS_HASH for an empty log): note it elsewhere to detect a rewritten tail. */
  lastHash: string;
}

export interface AuditRow {
  id: number;
  /** ISO 8601, UTC, milliseconds: as hashed. */
  at: string;
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

interface StoredRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  details: string;
  prev_hash: string;
  hash: string;
}

// The time exactly as audit() hashed it (Date.toISOString()), whatever the session's time zone
// and however the driver would parse a timestamptz; details as jsonb's text, parsed here.
const SELECT_ROW = `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
                          actor, action, subject, details::text AS details, prev_hash, hash
                     FROM audit_log`;

/**
 * Walks the whole log in id order and reports the first broken link: a hash that does not match
 * the row's content (the row was changed) or a prev_hash that is not the previous row's hash (a
 * row was removed or inserted before it). Rows after a break are still checked against each
 * other, so `rows` counts the whole log.
 *
 * ```ts
 * const { ok, firstBroken } = await verifyAudit(store)
 * ```
 */
export async function verifyAudit(store: Store, pageSize = PAGE_SIZE): Promise<AuditVerification> {
  let rows = 0;
  let previous: { id: number; hash: string } | null = null;
  let firstBroken: AuditVerification['firstBroken'] = null;
  for (;;) {
    const page: StoredRow[] = await store.transaction(async ({ raw }) =>
      (await raw.query<StoredRow>(`${SELECT_ROW} WHERE id > $1 ORDER BY id LIMIT $2`, [previous?.id ?? 0, pageSize])).rows,
    );
    for (const row of page) {
      const id = Number(row.id);
      rows++;
      firstBroken ??= brokenLink(row, previous);
      previous = { id, hash: row.hash };
    }
    if (page.length < pageSize) break;
  }
  return { rows, ok: firstBroken === null, firstBroken, lastHash: previous?.hash ?? GENESIS_HASH };
}

function brokenLink(row: StoredRow, previous: { id: number; hash: string } | null): AuditVerification['firstBroken'] {
  const id = Number(row.id);
  const details = JSON.parse(row.details) as unknown;
  const recomputed = auditHash(row.prev_hash, { at: row.at, actor: row.actor, action: row.action, subject: row.subject, details });
  if (recomputed !== row.hash) {
    return { id, reason: 'hash mismatch: the content of the row (time, actor, action, subject or details) changed after it was written' };
  }
  const expected = previous?.hash ?? GENESIS_HASH;
  if (row.prev_hash !== expected) {
    return {
      id,
      reason: previous
        ? `prev_hash mismatch: it is not the hash of the row before it (${previous.id}): a row was removed or inserted between them`
        : 'prev_hash mismatch: the first row does not start from the genesis hash: rows before it were removed',
    };
  }
  return null;
}

/**
 * The newest entries first, optionally of one subject (e.g. `list:12`).
 *
 * ```ts
 * const entries = await listAudit(store, { subject: 'list:12', limit: 50 })
 * ```
 */
export async function listAudit(store: Store, options: { subject?: string; limit: number }): Promise<AuditRow[]> {
  if (!Number.isInteger(options.limit) || options.limit < 1) throw new UserError(`--limit ${options.limit}: give a whole number of at least 1`);
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<StoredRow>(`${SELECT_ROW} WHERE ($1::text IS NULL OR subject = $1) ORDER BY id DESC LIMIT $2`, [
      options.subject ?? null,
      options.limit,
    ]),
  );
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    details: JSON.parse(r.details) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  }));
}
