import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { formatProblem, loadRules } from './load.ts';

export interface RuleVersionRow {
  ruleId: string;
  hash: string;
  file: string;
  status: 'draft' | 'approved' | 'retired';
  createdBy: string;
  createdAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
}

/** The columns of a version as RuleVersionRow, for RETURNING and SELECT alike. */
const VERSION_COLUMNS = `rule_id AS "ruleId", hash, file, status, created_by AS "createdBy", created_at AS "createdAt",
  approved_by AS "approvedBy", approved_at AS "approvedAt"`;

/**
 * Stores every valid rule file under `path` as a version (its content hash): a new content is a
 * new draft, an unchanged file adds nothing. Any invalid file stops the whole load (nothing is
 * stored), with every problem listed.
 *
 * ```ts
 * await storeRuleVersions(store, 'rules/', 'ministry.analyst@example.org')
 * ```
 */
export async function storeRuleVersions(store: Store, path: string, actor: string): Promise<{ added: RuleVersionRow[]; unchanged: number }> {
  requireActor(actor);
  const { rules, problems } = await loadRules(path);
  if (problems.length > 0) {
    throw new UserError(`${problems.length} problem(s) in the rule files; nothing was stored`, problems.map(formatProblem));
  }
  return store.transaction(async ({ raw }) => {
    const added: RuleVersionRow[] = [];
    for (const loaded of rules) {
      const result = await raw.query<RuleVersionRow>(
        `INSERT INTO rule_versions (rule_id, hash, definition, file, created_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (rule_id, hash) DO NOTHING RETURNING ${VERSION_COLUMNS}`,
        [loaded.rule.id, loaded.hash, JSON.stringify(loaded.rule), loaded.file, actor],
      );
      added.push(...result.rows);
    }
    return { added, unchanged: rules.length - added.length };
  });
}

/**
 * Approves a draft version (the latest draft of the rule unless `hash` is given). The approver
 * must not be its author. The rule's previously approved version, if any, is retired: only one
 * version of a rule is in force.
 */
export async function approveRuleVersion(store: Store, ruleId: string, actor: string, hash?: string): Promise<RuleVersionRow> {
  requireActor(actor);
  return store.transaction(async ({ raw }) => {
    const draft = await raw.query<{ id: number; hash: string; created_by: string }>(
      `SELECT id, hash, created_by FROM rule_versions
        WHERE rule_id = $1 AND status = 'draft' AND ($2::text IS NULL OR hash LIKE $2 || '%')
        ORDER BY created_at DESC, id DESC`,
      [ruleId, hash ?? null],
    );
    if (draft.rows.length === 0) throw new UserError(`rule ${ruleId}: no draft version${hash ? ` with hash ${hash}` : ''} to approve`);
    if (hash && draft.rows.length > 1) throw new UserError(`rule ${ruleId}: hash ${hash} is ambiguous; give more of it`);
    const version = draft.rows[0];
    if (version.created_by === actor) {
      throw new UserError(`rule ${ruleId}: ${actor} loaded this version and cannot also approve it (four eyes)`);
    }
    await raw.query(
      `UPDATE rule_versions SET status = 'retired', retired_by = $2, retired_at = now() WHERE rule_id = $1 AND status = 'approved'`,
      [ruleId, actor],
    );
    const approved = await raw.query<RuleVersionRow>(
      `UPDATE rule_versions SET status = 'approved', approved_by = $2, approved_at = now() WHERE id = $1 RETURNING ${VERSION_COLUMNS}`,
      [version.id, actor],
    );
    return approved.rows[0];
  });
}

/** Retires the approved version of a rule: it no longer evaluates. */
export async function retireRule(store: Store, ruleId: string, actor: string): Promise<void> {
  requireActor(actor);
  const result = await store.transaction(({ raw }) =>
    raw.query(`UPDATE rule_versions SET status = 'retired', retired_by = $2, retired_at = now() WHERE rule_id = $1 AND status = 'approved'`, [ruleId, actor]),
  );
  if (result.rowCount === 0) throw new UserError(`rule ${ruleId}: no approved version to retire`);
}

/** Every version of one rule or of all rules, newest first within a rule. */
export async function listRuleVersions(store: Store, ruleId?: string): Promise<RuleVersionRow[]> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<RuleVersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM rule_versions
        WHERE $1::text IS NULL OR rule_id = $1 ORDER BY rule_id, created_at DESC, id DESC`,
      [ruleId ?? null],
    ),
  );
  return rows;
}

function requireActor(actor: string): void {
  if (!actor?.trim()) throw new UserError('say who you are: --by NAME (recorded with the rule version)');
}
