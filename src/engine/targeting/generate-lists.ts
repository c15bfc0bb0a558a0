import type { RawConnection } from '../../db/raw.ts';
import type { Store } from '../../db/store.ts';
import { audit } from '../../audit/audit.ts';
import { ConflictError, NotFoundError, UserError } from '../../errors.ts';
import { log } from '../../log.ts';
import type { ResponseComponent, Rule } from '../../rules/schema.ts';
import { applyBudgetAndInsert } from './budget.ts';
import type { ActivationArea, Cut, Job } from './job.ts';
import { matchHouseholds } from './match-households.ts';
import { paymentPlan, undecidedEarlierDrafts, type PaymentPlan } from './prior-payments.ts';

export type { Cut } from './job.ts';

/**
 * Payment lists, generated inside PostgreSQL: for an activation, one list per paying response
 * component of its rule version and payment cycle, covering every area that rule version has in
 * activation (so caps and the budget are applied across areas, most severe first). No household
 * row passes through Node: households are matched, flagged, ranked and priced by one
 * `INSERT … SELECT` into a temporary table, and the entries, exclusions and cuts are further
 * `INSERT … SELECT`s and aggregates over it, all in one transaction. Ties are broken by the
 * registry id, so the same inputs give the same list. Regenerating a draft replaces it, raises its
 * version and voids a first approval (audited); it waits for an approval in progress (the list's row
 * lock) and then refuses if the list was approved: an approved list is never regenerated (the
 * database refuses it too).
 *
 * Matching: for an activation opened by an event, a household whose point lies in the parts the
 * one footprint selection yields (src/engine/footprint-selection.ts), in the activation's area or
 * below it; a household without a point there is left out unless the rule matches it by area.
 * For area rules (indicators, declarations) and events with no selected shape, every household
 * by its admin P-code: the activation's area and every area below it.
 */

export interface GeneratedList {
  id: number;
  ruleId: string;
  component: number;
  kind: 'vertical' | 'horizontal';
  programme: string;
  cycle: string;
  currency: string;
  households: number;
  totalAmount: number;
  /** Per area: `amount` is one payment's total, `cost` over the payments each entry schedules. */
  areas: { pcode: string; tier: string | null; registered: number; target: number | null; listed: number; amount: number; cost: number }[];
  excluded: Record<string, number>;
  cuts: Cut[];
  notes: string[];
  replaced: boolean;
  /** Raised by each regeneration of the same list. */
  version: number;
  /** The sha256 of the entries (what an approver names); null for an estimate, which is never stored. */
  sha256: string | null;
}

export async function generateLists(
  store: Store, activationId: number, actor: string, options: { cycle?: string; asOf?: Date } = {},
): Promise<GeneratedList[]> {
  if (!actor?.trim()) throw new UserError('say who generates the list: --by NAME (recorded; that person cannot approve it)');
  const now = options.asOf ?? new Date();
  const cycle = options.cycle ?? now.toISOString().slice(0, 7);
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(cycle)) throw new UserError(`--cycle ${cycle}: give the payment cycle as YYYY-MM`);
  return store.transaction(async ({ raw }) => {
    const { rows: found } = await raw.query<{ ruleVersionId: number; ruleId: string; status: string; stage: string; versionStatus: string; definition: Rule }>(
      `SELECT a.rule_version_id AS "ruleVersionId", a.rule_id AS "ruleId", a.status, a.stage, v.status AS "versionStatus", v.definition
         FROM activations a JOIN rule_versions v ON v.id = a.rule_version_id WHERE a.id = $1`,
      [activationId],
    );
    if (found.length === 0) throw new NotFoundError(`activation ${activationId} does not exist (asp activations list)`);
    const activation = found[0];
    if (activation.status !== 'open' || activation.stage !== 'activation') {
      throw new ConflictError(`activation ${activationId} is ${activation.status === 'open' ? `at the ${activation.stage} stage` : activation.status}: lists are generated for open activations at the activation stage (confirm or force it first)`);
    }
    if (activation.versionStatus !== 'approved') throw new UserError(`activation ${activationId} uses a rule version that is ${activation.versionStatus}`);
    return generateForVersion(raw, { ruleVersionId: activation.ruleVersionId, rule: activation.definition, cycle, actor, now });
  });
}

/**
 * The lists of a rule version for one cycle over its open activations at the activation stage,
 * inside the caller's transaction. With `estimate`, the same generation for a dry run or a
 * backtest: the caller rolls the transaction back, so what it reads is exactly the list that would
 * be generated; an undecided draft of the same shock is a note then, not a refusal, and nothing
 * is audited.
 */
export async function generateForVersion(
  raw: RawConnection,
  target: { ruleVersionId: number; rule: Rule; cycle: string; actor: string; now: Date; estimate?: boolean },
): Promise<GeneratedList[]> {
  const { ruleVersionId, rule } = target;
  // Every area of this rule version in activation; an area with two open shocks counts once (the
  // first opened). Households in the footprint of any event that holds there are matched: its
  // activations' shocks and every event their evidence says holds (one decision names one shock).
  const { rows: areas } = await raw.query<ActivationArea>(
    `SELECT DISTINCT ON (a.pcode) a.id AS "activationId", a.pcode, a.tier, a.shock_key AS "shockKey", to_char(a.opened_at, 'YYYY-MM-DD') AS "openedAt",
            ARRAY(SELECT DISTINCT k.key
                    FROM activations o
                    CROSS JOIN LATERAL (SELECT o.shock_key AS key
                                        UNION SELECT (ev ->> 'source') || ':' || (ev ->> 'externalId')
                                          FROM jsonb_array_elements(o.evidence) ev
                                         WHERE ev ->> 'kind' = 'event' AND (ev ->> 'holds')::boolean) k
                   WHERE o.rule_version_id = a.rule_version_id AND o.pcode = a.pcode AND o.status = 'open' AND o.stage = 'activation'
                   ORDER BY k.key) AS "shockKeys"
       FROM activations a WHERE a.rule_version_id = $1 AND a.status = 'open' AND a.stage = 'activation' ORDER BY a.pcode, a.id`,
    [ruleVersionId],
  );
  const lists: GeneratedList[] = [];
  for (const [index, component] of rule.response.entries()) {
    const benefit = component.benefit;
    if (component.mode === 'design_tweak' || !benefit || benefit.kind === 'none') continue;
    const covered = areas.filter((a) => !component.tiers || (a.tier !== null && component.tiers.includes(a.tier)));
    if (covered.length === 0) continue;
    lists.push(await generateOne(raw, { ...target, index, component, benefit, areas: covered, estimate: Boolean(target.estimate) }));
  }
  if (lists.length === 0 && !target.estimate) {
    throw new UserError(`rule ${rule.id} has no paying response component for the tiers in activation (${[...new Set(areas.map((a) => a.tier))].join(', ')})`);
  }
  return lists;
}

async function generateOne(raw: RawConnection, job: Job): Promise<GeneratedList> {
  const { rule, component, benefit, cycle } = job;
  const kind = component.mode === 'vertical' ? 'vertical' : 'horizontal';
  const programme = component.programme ?? rule.programme;
  const notes: string[] = [];
  if (component.mode === 'piggyback') notes.push(`piggyback: the list is handed to ${component.partner?.name ?? 'the partner'}, who pays`);

  await raw.query(`SELECT pg_advisory_xact_lock(hashtext('asp-engine:list:' || $1 || ':' || $2 || ':' || $3))`, [job.ruleVersionId, job.index, cycle]);
  // The row lock serialises this with an approval of the same list (src/lists/lifecycle.ts).
  const { rows: existing } = await raw.query<{ id: number; status: string; approvedBy: string | null; contentSha256: string | null; version: number }>(
    `SELECT id, status, approved_by AS "approvedBy", content_sha256 AS "contentSha256", version FROM payment_lists
      WHERE rule_version_id = $1 AND component = $2 AND cycle = $3 AND status <> 'cancelled' FOR UPDATE`,
    [job.ruleVersionId, job.index, cycle],
  );
  if (existing[0] && existing[0].status !== 'draft') {
    throw new ConflictError(`list ${existing[0].id} for ${rule.id} component ${job.index} cycle ${cycle} is ${existing[0].status}: an approved list is never regenerated (cancel it, then generate a new one)`);
  }
  // Earlier payments of the shock are deducted only once decided: another cycle's or version's draft would be missed.
  const drafts = await undecidedEarlierDrafts(raw, { ruleId: rule.id, ruleVersionId: job.ruleVersionId, cycle, shockKeys: [...new Set(job.areas.map((a) => a.shockKey))] });
  if (drafts.length > 0 && job.estimate) {
    notes.push(`${drafts.join('; ')} is still a draft for the same shock: a list cannot be generated until it is approved or cancelled, and its households are not deducted here`);
  } else if (drafts.length > 0) {
    throw new ConflictError(`${rule.id}: ${drafts.join('; ')} is still a draft for the same shock: approve or cancel it first, so that its households and money are deducted from this cycle's list`);
  }
  let listId: number;
  let version = 1;
  if (existing[0]) {
    listId = existing[0].id;
    version = existing[0].version + 1;
    // A first approval is of the entries being replaced: void it first (the database keeps the entries of an approved list frozen).
    await raw.query(
      `UPDATE payment_lists SET generated_by = $2, generated_at = now(), approved_by = NULL, approved_at = NULL, content_sha256 = NULL,
              entries_sha256 = NULL, version = $3 WHERE id = $1`,
      [listId, job.actor, version],
    );
    if (existing[0].approvedBy !== null && !job.estimate) {
      await audit(raw, {
        actor: job.actor, action: 'list.approval.voided', subject: `list:${listId}`,
        details: { approvedBy: existing[0].approvedBy, sha256: existing[0].contentSha256, version: existing[0].version, reason: 'regenerated' },
      });
    }
    await raw.query(`DELETE FROM payment_list_entries WHERE list_id = $1`, [listId]);
    await raw.query(`DELETE FROM payment_list_areas WHERE list_id = $1`, [listId]);
  } else {
    const { rows } = await raw.query<{ id: number }>(
      `INSERT INTO payment_lists (rule_version_id, rule_id, component, kind, programme_code, cycle, currency, generated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [job.ruleVersionId, rule.id, job.index, kind, programme, cycle, benefit.currency, job.actor],
    );
    listId = rows[0].id;
  }

  const plan = paymentCount(component, notes);
  // The statements are big but run once: compiling them to machine code (JIT) costs more than it
  // saves (0.55 s instead of 1.46 s at 100,000 households in bench/lists.ts).
  await raw.query(`SET LOCAL jit = off`);
  // At the default 4 MB the enrolment tests run once per household instead of against one hash of
  // the enrolments, and the ranking sort spills to disk (EXPLAIN ANALYZE at 1,000,000 households:
  // a third of a million matched households need about 150 MB to be sorted in memory).
  await raw.query(`SET LOCAL work_mem = '256MB'`);
  await matchHouseholds(raw, job, listId, notes);
  await raw.query(
    `INSERT INTO payment_list_areas (list_id, activation_id, pcode, shock_key, tier, registered, target)
     SELECT $1, m.activation_id, m.pcode, a.shock_key, a.tier, count(*) FILTER (WHERE NOT m.outside), max(m.lim)
       FROM list_matched m JOIN activations a ON a.id = m.activation_id GROUP BY m.activation_id, m.pcode, a.shock_key, a.tier`,
    [listId],
  );
  const cuts = await applyBudgetAndInsert(raw, job, listId, plan, notes);

  // Who was left out and why, counted (never listed) for the coordinator.
  const { rows: reasons } = await raw.query<{ reason: string; n: number }>(
    `SELECT excluded AS reason, count(*)::int AS n FROM list_matched WHERE excluded IS NOT NULL GROUP BY excluded ORDER BY excluded`,
  );
  const excluded = Object.fromEntries(reasons.map((r) => [r.reason, r.n]));
  const { rows: totals } = await raw.query<{ households: number; amount: string }>(
    `SELECT count(*)::int AS households, coalesce(sum(amount), 0)::text AS amount FROM payment_list_entries WHERE list_id = $1`,
    [listId],
  );
  await raw.query(
    `UPDATE payment_lists SET households = $2, total_amount = $3::numeric, excluded = $4, cuts = $5, currency = $6 WHERE id = $1`,
    [listId, totals[0].households, totals[0].amount, JSON.stringify(excluded), JSON.stringify(cuts), benefit.currency],
  );
  const { rows: perArea } = await raw.query<GeneratedList['areas'][number]>(
    // The list's entries summed once, then joined to its areas: planned on the statistics of before
    // the entries were written, a join walked the entries once per area.
    `WITH per_area AS MATERIALIZED (
       SELECT pcode, count(*)::int AS listed, sum(amount)::float8 AS amount, sum(amount * payments)::float8 AS cost
         FROM payment_list_entries WHERE list_id = $1 GROUP BY pcode
     )
     SELECT a.pcode, a.tier, a.registered, a.target, coalesce(e.listed, 0) AS listed, coalesce(e.amount, 0) AS amount, coalesce(e.cost, 0) AS cost
       FROM payment_list_areas a LEFT JOIN per_area e ON e.pcode = a.pcode
      WHERE a.list_id = $1 ORDER BY a.pcode`,
    [listId],
  );
  await raw.query(`DROP TABLE list_matched`);
  const result: GeneratedList = {
    id: listId, ruleId: rule.id, component: job.index, kind, programme, cycle, currency: benefit.currency,
    households: totals[0].households, totalAmount: Number(totals[0].amount), areas: perArea, excluded, cuts, notes, replaced: Boolean(existing[0]),
    version, sha256: null,
  };
  if (job.estimate) return result;
  const { rows: hashed } = await raw.query<{ sha256: string }>(
    // Version 2 (per-area blocks, migration 0023) whatever the list was hashed with before: no text value over 1 GB.
    `UPDATE payment_lists SET content_hash_version = 2, entries_sha256 = payment_list_content_hash_v2(id) WHERE id = $1 RETURNING entries_sha256 AS sha256`,
    [listId],
  );
  result.sha256 = hashed[0].sha256;
  // Fresh statistics, so that exports page through the new entries with a good plan.
  await raw.query(`ANALYZE payment_list_entries`);
  await audit(raw, {
    actor: job.actor, action: 'list.generated', subject: `list:${listId}`,
    details: { rule: rule.id, ruleVersionId: job.ruleVersionId, component: job.index, cycle, households: totals[0].households, amount: totals[0].amount, replaced: Boolean(existing[0]),
               version, sha256: result.sha256,
               // What the list was checked against (named lists, earlier lists deducted from the envelope), kept with the act.
               notes },
  });
  log.info({ listId, rule: rule.id, component: job.index, cycle, households: totals[0].households }, 'payment list generated');
  return result;
}

/**
 * Payments per household: at most the rule's count on this list (one a cycle while triggered), and
 * across cycles no more than the rule allows per shock, counting the decided lists before it.
 */
function paymentCount(component: ResponseComponent, notes: string[]): PaymentPlan {
  const plan = paymentPlan(component);
  if (component.payments?.count === 'while_triggered') {
    notes.push(`payments while triggered: this list pays one cycle; the next cycle is a new list if the area is still in activation${plan.perShock === null ? '' : ` (at most ${plan.perShock} payments per household for the shock)`}`);
  }
  return plan;
}
