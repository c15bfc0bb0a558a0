import { createHash } from 'node:crypto';
import type { RawConnection } from '../db/raw.ts';
import { activeAuditKey, rowSignedText, signText } from './signing-key.ts';

/**
 * The audit log: every act on money (generation, approval, release, export, download,
 * reconciliation, cancellation) by whom, on what, with details — never personal data. Rows are
 * append-only (the database refuses UPDATE and DELETE) and hash-chained: each row's hash covers its
 * content and the previous row's hash, so an edit made behind the database's back is found by
 * `asp audit verify`. With a deployment key (signing-key.ts) each row's hash is also signed, so a
 * row forged or rewritten by someone with database access but without the key is found too, and
 * a signed checkpoint kept elsewhere (checkpoint.ts) finds a truncated or recomputed chain.
 */

export interface AuditEntry {
  actor: string;
  /** e.g. `list.generated`, `list.approved`, `list.released`, `list.exported`, `list.reconciled`. */
  action: string;
  /** What was acted on, e.g. `list:12`, `activation:3`. */
  subject: string;
  details?: Record<string, unknown>;
}

export const GENESIS_HASH = '0'.repeat(64);

/** The hash of one row: sha256 over the previous hash and the row's content in canonical JSON. */
export function auditHash(prevHash: string, row: { at: string; actor: string; action: string; subject: string; details: unknown }): string {
  const content = canonicalJson({ at: row.at, actor: row.actor, action: row.action, subject: row.subject, details: row.details });
  return createHash('sha256').update(`${prevHash}\n${content}`).digest('hex');
}

/**
 * Appends one entry inside the caller's transaction, so the act and its record commit or roll
 * back together. The chain is serialised by a transaction-scoped advisory lock.
 */
export async function audit(raw: RawConnection, entry: AuditEntry): Promise<void> {
  await raw.query(`SELECT pg_advisory_xact_lock(hashtext('asp-engine:audit'))`);
  const { rows } = await raw.query<{ hash: string }>(`SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`);
  const prevHash = rows[0]?.hash ?? GENESIS_HASH;
  // Millisecond precision: the time must read back exactly as it was hashed.
  const at = new Date().toISOString();
  const details = entry.details ?? {};
  const hash = auditHash(prevHash, { at, actor: entry.actor, action: entry.action, subject: entry.subject, details });
  const key = activeAuditKey();
  const signature = key ? signText(key, rowSignedText(hash)) : null;
  await raw.query(
    `INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash, signature)
     VALUES ($1::timestamptz, $2, $3, $4, $5::jsonb, $6, $7, $8)`,
    [at, entry.actor, entry.action, entry.subject, JSON.stringify(details), prevHash, hash, signature],
  );
}

/** JSON with object keys sorted at every level: jsonb does not keep the order they were written in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
