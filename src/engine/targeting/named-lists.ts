import { createHash } from 'node:crypto';
import type { RawConnection } from '../../db/raw.ts';
import type { Store } from '../../db/store.ts';
import { audit } from '../../audit/audit.ts';
import { UserError } from '../../errors.ts';
import type { HouseholdSql } from '../household-sql.ts';
import type { Overlap } from '../../rules/schema.ts';

/**
 * Named lists: the lists a rule's `overlap: [{ with: { list: NAME } }]` refers to. The name is the
 * words of the rule (e.g. "livelihood assistance from other agencies for this disaster"): a list
 * kept outside this engine, usually another agency's, that a coordinator records here for a shock
 * (`shock_key`, for `scope: same_shock`) and/or a payment cycle (for `scope: same_period`). An
 * exclusive overlap leaves out the households on a recorded list of that name and scope; a rule
 * whose exclusive overlap has no such list recorded gets no list (record an empty one when nobody
 * was assisted): an overlap that cannot be checked is never skipped silently.
 *
 * ```ts
 * await recordNamedList(store, { name: 'livelihood assistance from other agencies for this disaster',
 *   shockKey: 'declaration:12', source: 'DOLE regional office, letter of 12 Nov 2025', registryIds: ['H0012', 'H0107'] }, 'coordinator@ph');
 * ```
 */

export interface NamedListInput {
  name: string;
  shockKey?: string | null;
  cycle?: string | null;
  /** Who gave the list, and the document it came with. */
  source: string;
  registryIds: string[];
}

export interface NamedListRow {
  id: number;
  name: string;
  shockKey: string | null;
  cycle: string | null;
  source: string;
  households: number;
  contentSha256: string;
  recordedBy: string;
}

/** Records a named list; every registry id must be known (unknown ones are listed in the error). */
export async function recordNamedList(store: Store, input: NamedListInput, actor: string): Promise<NamedListRow> {
  if (!actor?.trim()) throw new UserError('say who records the list: --by NAME');
  if (!input.name?.trim()) throw new UserError('give the list the name the rule uses in overlap.with.list');
  if (!input.source?.trim()) throw new UserError(`list "${input.name}": say who gave it (--source TEXT)`);
  if (!input.shockKey && !input.cycle) throw new UserError(`list "${input.name}": say which shock (--shock KEY) and/or which cycle (--cycle YYYY-MM) it covers`);
  if (input.cycle && !/^\d{4}-(0[1-9]|1[0-2])$/.test(input.cycle)) throw new UserError(`list "${input.name}": --cycle ${input.cycle}: give the cycle as YYYY-MM`);
  const ids = [...new Set(input.registryIds.map((id) => id.trim()).filter((id) => id !== ''))].sort();
  const sha256 = createHash('sha256').update(ids.join('\n')).digest('hex');
  return store.transaction(async ({ raw }) => {
    if (input.shockKey) {
      // A mistyped shock would make the overlap match nothing: the shock must be one the engine knows.
      const { rows: known } = await raw.query(`SELECT 1 FROM activations WHERE shock_key = $1 LIMIT 1`, [input.shockKey]);
      if (known.length === 0) throw new UserError(`list "${input.name}": no activation has the shock ${input.shockKey} (asp activations list shows the shock of each); nothing was recorded`);
    }
    const { rows: unknown } = await raw.query<{ id: string }>(
      `SELECT id FROM unnest($1::text[]) AS given(id) WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.registry_id = given.id) ORDER BY id`,
      [ids],
    );
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 10).map((r) => r.id).join(', ');
      throw new UserError(`list "${input.name}": ${unknown.length} registry id(s) not in the registry: ${shown}${unknown.length > 10 ? ', …' : ''}; nothing was recorded`);
    }
    const { rows } = await raw.query<NamedListRow>(
      `INSERT INTO named_lists (name, shock_key, cycle, source, households, content_sha256, recorded_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING id, name, shock_key AS "shockKey", cycle, source, households, content_sha256 AS "contentSha256", recorded_by AS "recordedBy"`,
      [input.name.trim(), input.shockKey || null, input.cycle || null, input.source.trim(), ids.length, sha256, actor],
    );
    const list = rows[0];
    await raw.query(
      `INSERT INTO named_list_households (named_list_id, household_id)
       SELECT $1, h.id FROM households h WHERE h.registry_id = ANY ($2::text[])`,
      [list.id, ids],
    );
    await audit(raw, { actor, action: 'named_list.recorded', subject: `named_list:${list.id}`, details: { name: list.name, shockKey: list.shockKey, cycle: list.cycle, households: ids.length, sha256 } });
    return list;
  });
}

/** Every recorded named list, newest first (without its households). */
export async function listNamedLists(store: Store): Promise<(NamedListRow & { source: string; recordedAt: Date })[]> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<NamedListRow & { recordedAt: Date }>(
      `SELECT id, name, shock_key AS "shockKey", cycle, source, households, content_sha256 AS "contentSha256", recorded_by AS "recordedBy", recorded_at AS "recordedAt"
         FROM named_lists ORDER BY id DESC`,
    ),
  );
  return rows;
}

/**
 * For an exclusive overlap with a named list: the left-out reason and its SQL test over `h` (a
 * matched household with its `shock_key`), after checking that a list of that name is recorded
 * for every shock of the list (same_shock) or for the cycle (same_period). Throws a UserError
 * naming what is missing otherwise. `evidence` says which recorded lists were checked against.
 */
export async function namedListOverlap(
  raw: RawConnection, q: HouseholdSql, overlap: Overlap & { with: { list: string } },
  refs: { ruleId: string; cycle: string; shockKeys: string[] },
): Promise<{ reason: string; test: string; evidence: string }> {
  const name = overlap.with.list;
  const sameShock = overlap.scope === 'same_shock';
  const { rows: recorded } = await raw.query<{ id: number; shockKey: string | null; cycle: string | null; households: number; sha: string }>(
    `SELECT id, shock_key AS "shockKey", cycle, households, content_sha256 AS sha FROM named_lists
      WHERE name = $1 AND (CASE WHEN $2::boolean THEN shock_key = ANY ($3::text[]) ELSE cycle = $4 END) ORDER BY id`,
    [name, sameShock, refs.shockKeys, refs.cycle],
  );
  const missing = sameShock ? refs.shockKeys.filter((key) => !recorded.some((r) => r.shockKey === key)) : recorded.length === 0 ? [refs.cycle] : [];
  if (missing.length > 0) {
    throw new UserError(
      `${refs.ruleId} is exclusive with the list "${name}" ${sameShock ? 'for the same shock' : 'in the same cycle'}, and none is recorded for ${sameShock ? `shock ${missing.join(', ')}` : `cycle ${refs.cycle}`}: ` +
        'record it (asp lists record-named; an empty one when nobody was assisted) before generating, so the overlap is checked',
    );
  }
  const scope = sameShock
    ? 'n.shock_key = h.shock_key'
    : `n.cycle = ${q.param(refs.cycle, 'text')}`;
  return {
    reason: `on the list "${name}" ${sameShock ? 'for this shock' : 'this cycle'}`,
    test: `EXISTS (SELECT 1 FROM named_list_households nh JOIN named_lists n ON n.id = nh.named_list_id
                    WHERE nh.household_id = h.id AND n.name = ${q.param(name, 'text')} AND ${scope})`,
    evidence: `exclusive with the list "${name}": checked against ${recorded.map((r) => `named list ${r.id} (${r.shockKey ?? r.cycle}, ${r.households} households, sha256 ${r.sha.slice(0, 12)}…)`).join(', ')}`,
  };
}
