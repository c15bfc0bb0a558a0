import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { GENESIS_HASH, auditHash } from './audit.ts';
import type { AuditCheckpoint } from './checkpoint.ts';
import { activeAuditKey, rowSignedText, verifyText, type AuditKey } from './signing-key.ts';

/**
 * Checking and reading the audit log. The database refuses UPDATE and DELETE on it; this finds
 * what was done behind the database's back (triggers disabled, files edited): every row's hash
 * is recomputed from the previous row's and its own content, every signature checked with the
 * deployment key, and the head compared with a checkpoint kept elsewhere.
 */

/** Rows read per query: memory stays flat however long the log. */
const PAGE_SIZE = 1000;

export interface AuditVerification {
  rows: number;
  ok: boolean;
  /** The first row where the chain or a signature breaks, and why. */
  firstBroken: { id: number; reason: string } | null;
  /** The last row's id (0 for an empty log) and hash (GENESIS_HASH): what a checkpoint anchors. */
  lastId: number;
  lastHash: string;
  /**
   * Rows carrying a signature and rows without one (written before the deployment had a key);
   * `key` is the fingerprint they were checked with, null when no key was at hand (not checked).
   */
  signatures: { key: string | null; signed: number; unsigned: number };
  /** The comparison with a checkpoint, when one was given. */
  checkpoint: { lastId: number; rows: number; at: string; key: string; ok: boolean; problem: string | null } | null;
}

export interface VerifyOptions {
  /** The key rows are checked with; default the process's deployment key (activeAuditKey). */
  key?: AuditKey | null;
  /** A checkpoint read with readCheckpoint: its key then checks the rows. */
  checkpoint?: { checkpoint: AuditCheckpoint; key: AuditKey };
  pageSize?: number;
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
  signature: string | null;
}

// The time exactly as audit() hashed it (Date.toISOString()), whatever the session's time zone
// and however the driver would parse a timestamptz; details as jsonb's text, parsed here.
const SELECT_ROW = `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
                          actor, action, subject, details::text AS details, prev_hash, hash, signature
                     FROM audit_log`;

/**
 * Walks the whole log in id order and reports the first broken link: a hash that does not match
 * the row's content (the row was changed), a prev_hash that is not the previous row's hash (a row
 * was removed or inserted before it), or a signature missing or not made with the key (the row was
 * forged, or rewritten with the chain recomputed, by someone without the key). Rows after a break
 * are still read, so `rows` counts the whole log. With a checkpoint, the log must also still hold
 * its last row with its hash and as many rows up to it: a cut tail or a recomputed chain.
 *
 * ```ts
 * const { ok, firstBroken } = await verifyAudit(store, { checkpoint: await readCheckpoint('cp.json') })
 * ```
 */
export async function verifyAudit(store: Store, options: VerifyOptions = {}): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const anchor = options.checkpoint;
  const deploymentKey = options.key === undefined ? activeAuditKey() : options.key;
  // A checkpoint kept elsewhere is the trust anchor: its key checks the rows.
  const key = anchor?.key ?? deploymentKey;
  const signatures = { key: key?.fingerprint ?? null, signed: 0, unsigned: 0 };
  const atAnchor = { rows: 0, hash: null as string | null };
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
      if (anchor && id <= anchor.checkpoint.lastId) atAnchor.rows++;
      if (anchor && id === anchor.checkpoint.lastId) atAnchor.hash = row.hash;
      const afterAnchor = anchor !== undefined && id > anchor.checkpoint.lastId;
      // Both checks run on every row: the signature counts cover the whole log.
      const broken = [brokenLink(row, previous), brokenSignature(row, key, signatures, afterAnchor)];
      firstBroken ??= broken[0] ?? broken[1];
      previous = { id, hash: row.hash };
    }
    if (page.length < pageSize) break;
  }
  const lastId = previous?.id ?? 0;
  const checkpoint = anchor ? compareWithCheckpoint(anchor, deploymentKey, atAnchor, lastId) : null;
  return {
    rows,
    ok: firstBroken === null && (checkpoint?.ok ?? true),
    firstBroken,
    lastId,
    lastHash: previous?.hash ?? GENESIS_HASH,
    signatures,
    checkpoint,
  };
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
 * A row's signature against the key. An unsigned row is accepted only before the first signed
 * one and before the checkpoint: rows written before the deployment had a key. Counts as it goes.
 */
function brokenSignature(
  row: StoredRow,
  key: AuditKey | null,
  counts: AuditVerification['signatures'],
  afterAnchor: boolean,
): AuditVerification['firstBroken'] {
  const id = Number(row.id);
  if (row.signature === null) {
    counts.unsigned++;
    if (!key) return null;
    if (counts.signed > 0) {
      return { id, reason: 'not signed, though rows before it are: written without the deployment key (a forged row, or a process not given the key file)' };
    }
    if (afterAnchor) {
      return { id, reason: 'not signed, though it comes after the checkpoint: written without the deployment key (a forged row, or a process not given the key file)' };
    }
    return null;
  }
  counts.signed++;
  if (key && !verifyText(key, rowSignedText(row.hash), row.signature)) {
    return { id, reason: `signature does not verify with key ${key.fingerprint}: the row was written or rewritten without the deployment key` };
  }
  return null;
}

function compareWithCheckpoint(
  anchor: NonNullable<VerifyOptions['checkpoint']>,
  deploymentKey: AuditKey | null,
  found: { rows: number; hash: string | null },
  lastId: number,
): NonNullable<AuditVerification['checkpoint']> {
  const cp = anchor.checkpoint;
  const problem = ((): string | null => {
    if (deploymentKey && deploymentKey.fingerprint !== cp.keyFingerprint) {
      return `the checkpoint was signed with key ${cp.keyFingerprint}, this deployment signs with key ${deploymentKey.fingerprint}: the deployment's key was replaced, or the checkpoint is another deployment's`;
    }
    if (cp.lastId > 0 && found.hash === null) {
      return lastId < cp.lastId
        ? `row ${cp.lastId}, the checkpoint's last, is missing: the log ends at row ${lastId}: rows were cut off its end`
        : `row ${cp.lastId}, the checkpoint's last, is missing: it was removed`;
    }
    if (cp.lastId > 0 && found.hash !== cp.lastHash) {
      return `row ${cp.lastId}'s hash is not the checkpoint's: the log up to it was rewritten and its chain recomputed`;
    }
    if (found.rows !== cp.rows) {
      return `${found.rows} row(s) up to row ${cp.lastId}, the checkpoint counted ${cp.rows}: rows were removed or inserted`;
    }
    return null;
  })();
  return { lastId: cp.lastId, rows: cp.rows, at: cp.at, key: cp.keyFingerprint, ok: problem === null, problem };
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
