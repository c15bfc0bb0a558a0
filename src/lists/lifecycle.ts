import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { audit } from '../audit/audit.ts';
import { loadConfig } from '../config.ts';
import { ConflictError, ForbiddenError, NotFoundError, UserError } from '../errors.ts';

/**
 * A payment list's life: draft → approved → released → closed, or cancelled with a reason.
 * Four eyes: whoever generated a list cannot approve it; above a configured total
 * (ASP_SECOND_APPROVAL_ABOVE) a second, different approver is needed. Each generation raises the
 * list's version and records the sha256 of its canonical entries, which the reviewer is shown; an
 * approval names the hash reviewed, and the database refuses it at commit unless the entries still
 * hash to it (migrations/0012-approval-hash.ts). Every export carries the hash, and the database
 * refuses any change to an approved list's entries.
 */

export interface ListRow {
  id: number;
  ruleId: string;
  ruleHash: string;
  component: number;
  kind: 'vertical' | 'horizontal';
  programme: string;
  cycle: string;
  status: 'draft' | 'approved' | 'released' | 'closed' | 'cancelled';
  currency: string | null;
  households: number;
  totalAmount: number;
  excluded: Record<string, number>;
  cuts: { pcode: string; step: string; households: number; amount: number; reason: string }[];
  generatedBy: string;
  generatedAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
  secondApprovedBy: string | null;
  secondApprovedAt: Date | null;
  /** The approved content's sha256 (set by the first approval). */
  contentSha256: string | null;
  /** Raised by each regeneration. */
  version: number;
  /** The sha256 of the entries as generated: what a reviewer is shown and names when approving. */
  entriesSha256: string | null;
  /** How the hash is computed: 1, one text over every entry (lists generated before migration 0023); 2, over per-area blocks. */
  contentHashVersion: 1 | 2;
  cancelledBy: string | null;
  cancelledReason: string | null;
}

const COLUMNS = `l.id, l.rule_id AS "ruleId", v.hash AS "ruleHash", l.component, l.kind, l.programme_code AS programme, l.cycle, l.status,
  l.currency, l.households, l.total_amount::float8 AS "totalAmount", l.excluded, l.cuts, l.generated_by AS "generatedBy",
  l.generated_at AS "generatedAt", l.approved_by AS "approvedBy", l.approved_at AS "approvedAt",
  l.second_approved_by AS "secondApprovedBy", l.second_approved_at AS "secondApprovedAt", l.content_sha256 AS "contentSha256",
  l.version, l.entries_sha256 AS "entriesSha256", l.content_hash_version AS "contentHashVersion", l.cancelled_by AS "cancelledBy", l.cancelled_reason AS "cancelledReason"`;
const FROM = `payment_lists l JOIN rule_versions v ON v.id = l.rule_version_id`;

export async function findList(raw: RawConnection, id: number): Promise<ListRow> {
  const { rows } = await raw.query<ListRow>(`SELECT ${COLUMNS} FROM ${FROM} WHERE l.id = $1`, [id]);
  if (rows.length === 0) throw new NotFoundError(`payment list ${id} does not exist (asp lists list)`);
  return rows[0];
}

export async function getList(store: Store, id: number): Promise<ListRow> {
  return store.transaction(({ raw }) => findList(raw, id));
}

export async function listLists(store: Store, filter: { status?: string; ruleId?: string } = {}): Promise<ListRow[]> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<ListRow>(
      `SELECT ${COLUMNS} FROM ${FROM} WHERE ($1::text IS NULL OR l.status = $1) AND ($2::text IS NULL OR l.rule_id = $2) ORDER BY l.id`,
      [filter.status ?? null, filter.ruleId ?? null],
    ),
  );
  return rows;
}

/**
 * The sha256 of a list's content, computed inside the database by the one function its approval
 * check uses too. An entry is one line: registry id, the household's area, the matched area, tier,
 * rank, amount with two decimals, currency, number of payments, first payment date, payment
 * channel and account, joined by `|`. Version 2 (migration 0023): the entries of each block of
 * 100,000 ranks of a matched area, in (rank, registry id) order, are hashed on their own; the list's
 * hash is over a header line (rule version hash, component, kind, programme, cycle, currency) and
 * one line per block in (area, block) order, `pcode|block|entries|sha256`. Version 1, for lists
 * generated before it: the header and every entry line, in (area, rank, registry id) order, as one text.
 */
export async function listContentHash(raw: RawConnection, id: number): Promise<string> {
  const { rows } = await raw.query<{ hash: string }>(`SELECT payment_list_content_hash($1) AS hash`, [id]);
  return rows[0].hash;
}

function requireActor(actor: string): void {
  if (!actor?.trim()) throw new UserError('say who you are: --by NAME (recorded in the audit log)');
}

/** What an approver reviewed: the list's content hash (required) and its version (checked when given). */
export interface Reviewed {
  sha256?: string | null;
  version?: number | null;
}

function reviewedHash(id: number, reviewed: Reviewed): string {
  const hash = reviewed?.sha256?.trim().toLowerCase();
  if (!hash) throw new UserError(`name the content you reviewed: --sha256 HASH (asp lists show ${id} prints it)`);
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new UserError(`--sha256 ${reviewed.sha256}: a content hash is 64 hexadecimal characters (asp lists show ${id} prints it)`);
  return hash;
}

/**
 * Approves a draft list as the approver reviewed it: the hash named must be the list's content now
 * (and the version, when named, its version), else a ConflictError says to review it again. The
 * generator cannot approve it. Above the second-approval threshold the first approval is recorded
 * and the list stays a draft until a second, different person approves the same content. A
 * regeneration voids a first approval, so a stale one never blocks the list.
 *
 * ```ts
 * const list = await getList(store, 12)
 * await approveList(store, 12, 'director@example.org', { sha256: list.entriesSha256, version: list.version })
 * ```
 */
export async function approveList(store: Store, id: number, actor: string, reviewed: Reviewed): Promise<ListRow & { needsSecondApproval: boolean }> {
  requireActor(actor);
  const named = reviewedHash(id, reviewed);
  const threshold = loadConfig().ASP_SECOND_APPROVAL_ABOVE;
  return store.transaction(async ({ raw }) => {
    // The list's row, held to the end: a regeneration in progress finishes first (and is seen
    // below), and one that starts now waits for this approval and then sees it.
    await raw.query(`SELECT 1 FROM payment_lists WHERE id = $1 FOR UPDATE`, [id]);
    const list = await findList(raw, id);
    if (list.status !== 'draft') throw new ConflictError(`list ${id} is ${list.status}: only a draft list can be approved`);
    if (list.generatedBy === actor) throw new ForbiddenError(`list ${id}: ${actor} generated it and cannot also approve it (four eyes)`);
    if (list.households === 0) throw new UserError(`list ${id} is empty: there is nothing to approve`);
    if (reviewed.version != null && reviewed.version !== list.version) {
      throw new ConflictError(`list ${id} was regenerated since you reviewed it: you reviewed version ${reviewed.version}, it is version ${list.version} now; review it again`);
    }
    const hash = await listContentHash(raw, id);
    if (named !== hash) {
      throw new ConflictError(`list ${id} (version ${list.version}) is not the content you reviewed: you named sha256 ${named}, its entries hash to ${hash}; review it again`);
    }
    const needsTwo = list.totalAmount > threshold;
    const seen = { sha256: hash, version: list.version };
    if (needsTwo && list.approvedBy === null) {
      await raw.query(`UPDATE payment_lists SET approved_by = $2, approved_at = now(), content_sha256 = $3 WHERE id = $1`, [id, actor, named]);
      await audit(raw, { actor, action: 'list.approved', subject: `list:${id}`, details: { approval: 'first of two', total: list.totalAmount, threshold, ...seen } });
      return { ...(await findList(raw, id)), needsSecondApproval: true };
    }
    if (needsTwo) {
      if (list.approvedBy === actor) throw new ForbiddenError(`list ${id}: ${actor} gave the first approval; the second must come from someone else`);
      await raw.query(
        `UPDATE payment_lists SET status = 'approved', second_approved_by = $2, second_approved_at = now(), second_approved_sha256 = $3 WHERE id = $1`,
        [id, actor, named],
      );
    } else {
      await raw.query(`UPDATE payment_lists SET status = 'approved', approved_by = $2, approved_at = now(), content_sha256 = $3 WHERE id = $1`, [id, actor, named]);
    }
    await audit(raw, { actor, action: 'list.approved', subject: `list:${id}`, details: { approval: needsTwo ? 'second of two' : 'single', total: list.totalAmount, ...seen } });
    return { ...(await findList(raw, id)), needsSecondApproval: false };
  });
}

/** Cancels a list that has not been closed, with the reason; a cancelled list is never paid or released. */
export async function cancelList(store: Store, id: number, actor: string, reason: string): Promise<ListRow> {
  requireActor(actor);
  if (!reason?.trim()) throw new UserError('give the reason: --reason TEXT (recorded in the audit log)');
  return store.transaction(async ({ raw }) => {
    const list = await findList(raw, id);
    if (list.status === 'closed' || list.status === 'cancelled') throw new ConflictError(`list ${id} is ${list.status} already`);
    await raw.query(`UPDATE payment_lists SET status = 'cancelled', cancelled_by = $2, cancelled_reason = $3, closed_at = now() WHERE id = $1`, [id, actor, reason]);
    await audit(raw, { actor, action: 'list.cancelled', subject: `list:${id}`, details: { from: list.status, reason } });
    return findList(raw, id);
  });
}

/** Closes a released list once its payments are done (reconciled). */
export async function closeList(store: Store, id: number, actor: string): Promise<ListRow> {
  requireActor(actor);
  return store.transaction(async ({ raw }) => {
    const list = await findList(raw, id);
    if (list.status !== 'released') throw new ConflictError(`list ${id} is ${list.status}: only a released list is closed`);
    await raw.query(`UPDATE payment_lists SET status = 'closed', closed_at = now() WHERE id = $1`, [id]);
    await audit(raw, { actor, action: 'list.closed', subject: `list:${id}`, details: {} });
    return findList(raw, id);
  });
}
