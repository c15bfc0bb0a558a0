import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { audit } from '../audit/audit.ts';
import { ConflictError, NotFoundError, UserError } from '../errors.ts';
import { areaLimits } from '../engine/area-limits.ts';
import { benefitAmountSql } from '../engine/benefit-sql.ts';
import { reachesSql, ruleReach, selectedParts } from '../engine/footprint-selection.ts';
import { HouseholdSql } from '../engine/household-sql.ts';
import { log } from '../log.ts';
import type { Benefit, ResponseComponent, Rule } from '../rules/schema.ts';
import { prepareDedupe } from './dedupe.ts';
import { namedListOverlap } from './named-lists.ts';
import { envelopeSpentSql, paymentPlan, priorPaymentsSql, undecidedEarlierDrafts, type PaymentPlan } from './prior-payments.ts';

/**
 * Payment lists, generated inside PostgreSQL: for an activation, one list per paying response
 * component of its rule version and payment cycle, covering every area that rule version has in
 * activation (so caps and the budget are applied across areas, most severe first). No household
 * row passes through Node: households are matched, flagged, ranked and priced by one
 * `INSERT … SELECT` into a temporary table, and the entries, exclusions and cuts are further
 * `INSERT … SELECT`s and aggregates over it, all in one transaction. Ties are broken by the
 * registry id, so the same inputs give the same list. Regenerating a draft replaces it; an approved
 * list is never regenerated (the database refuses it too).
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
  areas: { pcode: string; tier: string | null; registered: number; target: number | null; listed: number; amount: number }[];
  excluded: Record<string, number>;
  cuts: Cut[];
  notes: string[];
  replaced: boolean;
}

export interface Cut {
  pcode: string;
  step: string;
  households: number;
  amount: number;
  reason: string;
}

interface ActivationArea {
  activationId: number;
  pcode: string;
  tier: string | null;
  shockKey: string;
  /** Every open shock of the area in activation: a household in any of their footprints counts. */
  shockKeys: string[];
  openedAt: string;
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
    const rule = activation.definition;
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
      [activation.ruleVersionId],
    );
    const lists: GeneratedList[] = [];
    for (const [index, component] of rule.response.entries()) {
      const benefit = component.benefit;
      if (component.mode === 'design_tweak' || !benefit || benefit.kind === 'none') continue;
      const covered = areas.filter((a) => !component.tiers || (a.tier !== null && component.tiers.includes(a.tier)));
      if (covered.length === 0) continue;
      lists.push(await generateOne(raw, { rule, ruleVersionId: activation.ruleVersionId, index, component, benefit, areas: covered, cycle, actor, now }));
    }
    if (lists.length === 0) throw new UserError(`rule ${rule.id} has no paying response component for the tiers in activation (${[...new Set(areas.map((a) => a.tier))].join(', ')})`);
    return lists;
  });
}

interface Job {
  rule: Rule;
  ruleVersionId: number;
  index: number;
  component: ResponseComponent;
  benefit: Exclude<Benefit, { kind: 'none' }>;
  areas: ActivationArea[];
  cycle: string;
  actor: string;
  now: Date;
}

async function generateOne(raw: RawConnection, job: Job): Promise<GeneratedList> {
  const { rule, component, benefit, cycle } = job;
  const kind = component.mode === 'vertical' ? 'vertical' : 'horizontal';
  const programme = component.programme ?? rule.programme;
  const notes: string[] = [];
  if (component.mode === 'piggyback') notes.push(`piggyback: the list is handed to ${component.partner?.name ?? 'the partner'}, who pays`);

  await raw.query(`SELECT pg_advisory_xact_lock(hashtext('asp-engine:list:' || $1 || ':' || $2 || ':' || $3))`, [job.ruleVersionId, job.index, cycle]);
  const { rows: existing } = await raw.query<{ id: number; status: string }>(
    `SELECT id, status FROM payment_lists WHERE rule_version_id = $1 AND component = $2 AND cycle = $3 AND status <> 'cancelled'`,
    [job.ruleVersionId, job.index, cycle],
  );
  if (existing[0] && existing[0].status !== 'draft') {
    throw new ConflictError(`list ${existing[0].id} for ${rule.id} component ${job.index} cycle ${cycle} is ${existing[0].status}: an approved list is never regenerated (cancel it, then generate a new one)`);
  }
  // Earlier payments of the shock are deducted only once decided: another cycle's or version's draft would be missed.
  const drafts = await undecidedEarlierDrafts(raw, { ruleId: rule.id, ruleVersionId: job.ruleVersionId, cycle, shockKeys: [...new Set(job.areas.map((a) => a.shockKey))] });
  if (drafts.length > 0) {
    throw new ConflictError(`${rule.id}: ${drafts.join('; ')} is still a draft for the same shock: approve or cancel it first, so that its households and money are deducted from this cycle's list`);
  }
  let listId: number;
  if (existing[0]) {
    listId = existing[0].id;
    await raw.query(`DELETE FROM payment_list_entries WHERE list_id = $1`, [listId]);
    await raw.query(`DELETE FROM payment_list_areas WHERE list_id = $1`, [listId]);
    await raw.query(`UPDATE payment_lists SET generated_by = $2, generated_at = now(), approved_by = NULL, approved_at = NULL, content_sha256 = NULL WHERE id = $1`, [listId, job.actor]);
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
    `SELECT a.pcode, a.tier, a.registered, a.target, count(e.household_id)::int AS listed, coalesce(sum(e.amount), 0)::float8 AS amount
       FROM payment_list_areas a LEFT JOIN payment_list_entries e ON e.list_id = a.list_id AND e.pcode = a.pcode
      WHERE a.list_id = $1 GROUP BY a.pcode, a.tier, a.registered, a.target ORDER BY a.pcode`,
    [listId],
  );
  await raw.query(`DROP TABLE list_matched`);
  // Fresh statistics, so that exports page through the new entries with a good plan.
  await raw.query(`ANALYZE payment_list_entries`);
  await audit(raw, {
    actor: job.actor, action: 'list.generated', subject: `list:${listId}`,
    details: { rule: rule.id, ruleVersionId: job.ruleVersionId, component: job.index, cycle, households: totals[0].households, amount: totals[0].amount, replaced: Boolean(existing[0]),
               // What the list was checked against (named lists, earlier lists deducted from the envelope), kept with the act.
               notes },
  });
  log.info({ listId, rule: rule.id, component: job.index, cycle, households: totals[0].households }, 'payment list generated');
  return {
    id: listId, ruleId: rule.id, component: job.index, kind, programme, cycle, currency: benefit.currency,
    households: totals[0].households, totalAmount: Number(totals[0].amount), areas: perArea, excluded, cuts, notes, replaced: Boolean(existing[0]),
  };
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

/**
 * Step 1: every registered household of the areas (inside the footprint where there is one), one
 * row each, with why it is left out (or null), its rank among those who qualify, the area's
 * limit (coverage target, caps) and its amount per payment. Written to a temporary table that
 * the next steps read; it is dropped before the transaction ends.
 */
async function matchHouseholds(raw: RawConnection, job: Job, listId: number, notes: string[]): Promise<void> {
  const { rule, component, benefit, areas } = job;
  const q = new HouseholdSql();
  const who = component.households;
  const programme = component.programme ?? rule.programme;
  const severity = new Map((rule.tiers ?? []).map((t) => [t.id, t.severity]));
  // The one footprint selection (as evaluation): the parts the rule's event conditions select,
  // and a household reaches them when inside (or within the rule's buffer).
  const reach = ruleReach(rule);
  const inFootprint = reachesSql('fp.geom', 'h.location', reach.bufferKm);
  const unlocatedMatched = who.without_location === 'by_area';

  const limits = areaLimits(q, component, areas.map((a) => a.tier), rule.programme);
  if (limits.fromIndicator) notes.push(`the coverage quota from ${limits.fromIndicator} is not read: every qualifying household is listed`);
  const tierAmounts = areas.map((a) => (benefit.kind === 'by_tier' && a.tier !== null ? (benefit.amounts[a.tier] ?? null) : null));
  const act = `SELECT * FROM unnest(${q.param(areas.map((a) => a.activationId), 'bigint[]')}, ${q.param(areas.map((a) => a.pcode), 'text[]')},
                 ${q.param(areas.map((a) => a.tier), 'text[]')}, ${q.param(areas.map((a) => (a.tier === null ? 0 : (severity.get(a.tier) ?? 0))), 'int[]')},
                 ${q.param(limits.coverage, 'numeric[]')}, ${q.param(tierAmounts, 'numeric[]')})
               AS a(activation_id, pcode, tier, severity, coverage, tier_amount)`;
  // The events behind each area's open shocks (feed events, not indicator episodes or declarations).
  const eventShocks = areas.flatMap((a) => a.shockKeys.filter((k) => /^(gdacs|usgs|cap|ipc):/.test(k)).map((k) => [a.pcode, k] as const));
  const actEvents = `SELECT * FROM unnest(${q.param(eventShocks.map(([p]) => p), 'text[]')}, ${q.param(eventShocks.map(([, k]) => k), 'text[]')}) AS x(pcode, event_key)`;

  // Why a household is left out, in the order the reasons are checked (the first one counts).
  const reasons: [string, string][] = [];
  if (component.mode === 'vertical') reasons.push([`not an active ${programme} beneficiary`, `NOT ${q.enrolledIn([programme])}`]);
  if (who.eligibility) reasons.push(['not eligible', `NOT ${q.condition(who.eligibility)}`]);
  if (who.exclude?.current_beneficiaries_of) {
    reasons.push([`current beneficiary of ${who.exclude.current_beneficiaries_of.join(', ')}`, q.enrolledIn(who.exclude.current_beneficiaries_of)]);
  }
  if (who.exclude?.when) reasons.push(['excluded by the rule', q.condition(who.exclude.when)]);
  for (const requirement of who.requirements ?? []) {
    if (requirement.otherwise !== 'exclude') notes.push(`requirement "${requirement.reason}": households that fail it are listed; ${requirement.otherwise} is handled outside the list`);
    else reasons.push([requirement.reason, `NOT ${q.condition(requirement.condition)}`]);
  }
  // With dedupe_by, another record of the same family (same identifier) counts as the household itself.
  const exclusiveRules = (rule.overlap ?? []).flatMap((o) => (o.policy === 'exclusive' && o.with.rule ? [o.with.rule] : []));
  const dedupe = await prepareDedupe(raw, q, who, { ruleId: rule.id, listId, ruleIds: [rule.id, ...exclusiveRules] });
  for (const overlap of rule.overlap ?? []) {
    if (overlap.policy !== 'exclusive') continue;
    if (overlap.with.programme && overlap.with.programme !== programme) {
      reasons.push([`exclusive with ${overlap.with.programme}`, q.enrolledIn([overlap.with.programme])]);
    }
    if (overlap.with.rule) {
      // same_period: the other rule's lists of this cycle; same_shock: its lists for the household's shock, any cycle.
      const sameShock = overlap.scope === 'same_shock';
      const otherRule = q.param(overlap.with.rule, 'text');
      const cycle = sameShock ? '' : q.param(job.cycle, 'text');
      const scope = sameShock
        ? `EXISTS (SELECT 1 FROM activations oa WHERE oa.id = oe.activation_id AND oa.shock_key = (SELECT ca.shock_key FROM activations ca WHERE ca.id = h.activation_id))`
        : `ol.cycle = ${cycle}`;
      const sameFamily = dedupe ? ` OR ${dedupe.onListOf(otherRule, sameShock ? { shock: true } : { cycle })}` : '';
      reasons.push([
        `already on a list of ${overlap.with.rule} ${sameShock ? 'for this shock' : 'this cycle'}`,
        `(EXISTS (SELECT 1 FROM payment_list_entries oe JOIN payment_lists ol ON ol.id = oe.list_id
                   WHERE oe.household_id = h.id AND ol.rule_id = ${otherRule} AND ${scope}
                     AND ol.status <> 'cancelled' AND ol.id <> ${q.param(listId, 'bigint')})${sameFamily})`,
      ]);
    }
    if (overlap.with.list) {
      const named = await namedListOverlap(raw, q, { ...overlap, with: { list: overlap.with.list } }, {
        ruleId: rule.id, cycle: job.cycle, shockKeys: [...new Set(areas.map((a) => a.shockKey))].sort(),
      });
      reasons.push([named.reason, named.test]);
      notes.push(named.evidence);
    }
  }
  // A shock is paid no more often than the rule says, counting the decided lists of earlier cycles.
  const { perShock } = paymentPlan(component);
  if (perShock !== null) {
    const prior = priorPaymentsSql({ household: 'h.id', activation: 'h.activation_id', ruleId: q.param(rule.id, 'text') });
    reasons.push([`already paid ${perShock} of ${perShock} payments for this shock`, `${prior} >= ${q.param(perShock, 'int')}`]);
  }
  // One entry per identifier (e.g. national ID) and shock: a record whose identifier was already listed is a duplicate.
  if (dedupe) reasons.push([dedupe.reason, dedupe.onEarlierList]);
  // The same rule's other components this cycle: one household, one entry per shock and period.
  reasons.push([
    'already on another list of this rule this cycle',
    `EXISTS (SELECT 1 FROM payment_list_entries oe JOIN payment_lists ol ON ol.id = oe.list_id
              WHERE oe.household_id = h.id AND ol.rule_version_id = ${q.param(job.ruleVersionId, 'bigint')} AND ol.cycle = ${q.param(job.cycle, 'text')}
                AND ol.status <> 'cancelled' AND ol.id <> ${q.param(listId, 'bigint')})`,
  ]);
  // Last, so that it counts the households that would otherwise have been paid.
  if (!unlocatedMatched) reasons.push(['no location: the rule pays households inside the footprint', 'h.outside']);
  const excluded = reasons.length ? `CASE ${reasons.map(([why, test]) => `WHEN ${test} THEN ${q.param(why, 'text')}`).join(' ')} END` : 'NULL::text';
  const counted = limits.counted;
  if (benefit.kind === 'share_of_reference' && benefit.reference.amount === undefined) {
    notes.push(`the reference amount (${benefit.reference.label}) comes from an indicator that is not read: no household can be priced`);
  }
  const amount = benefitAmountSql(q, benefit, { programme, tierAmount: 'h.tier_amount' });
  const order = q.orderBy(who.priority);
  if (who.frozen_list) notes.push('frozen list: ranked by the priority order over the registry as it stands; a stored pre-shock ranking is not used');

  const limit = limits.limit;
  const targetOnly = limits.target;

  await raw.query(`DROP TABLE IF EXISTS list_matched`);
  await raw.query(
    `CREATE TEMP TABLE list_matched ON COMMIT DROP AS
     WITH act AS (${act}),
     footprint AS (
       SELECT a.pcode, p.geom FROM (${actEvents}) a
         JOIN hazard_events e ON a.event_key = e.source || ':' || e.external_id
         CROSS JOIN LATERAL ${selectedParts('e.id', reach, (value, type) => q.param(value, type))} p
     ),
     hh AS (${q.households()}),
     members AS (
       SELECT DISTINCT ON (h.id) a.activation_id, a.pcode, a.tier, a.severity, a.coverage, a.tier_amount, h.*,
              -- No point under a footprint: not a household of the affected area unless the rule says by_area.
              (${q.param(!unlocatedMatched, 'boolean')} AND h.location IS NULL
                AND EXISTS (SELECT 1 FROM footprint fp WHERE fp.pcode = a.pcode)) AS outside
         FROM act a
         JOIN admin_area_ancestors x ON x.ancestor_pcode = a.pcode
         JOIN hh h ON h.admin_pcode = x.pcode
        WHERE h.location IS NULL OR NOT EXISTS (SELECT 1 FROM footprint fp WHERE fp.pcode = a.pcode)
           OR EXISTS (SELECT 1 FROM footprint fp WHERE fp.pcode = a.pcode AND ${inFootprint})
        ORDER BY h.id, a.pcode
     ),
     priced AS (
       SELECT h.*, ${excluded} AS excluded_by_rule, ${counted} AS is_counted, round(${amount}, 2) AS amount,
              ${dedupe ? dedupe.key : 'NULL::text'} AS dedupe_key
         FROM members h
     ),
     -- Duplicates within the list: of the qualifying households sharing an identifier, the best-ranked stays.
     deduped AS (
       SELECT h.*, CASE WHEN h.excluded_by_rule IS NULL AND h.amount IS NOT NULL AND h.dedupe_key IS NOT NULL
                         AND row_number() OVER (PARTITION BY h.excluded_by_rule IS NULL AND h.amount IS NOT NULL, h.dedupe_key ORDER BY ${order}) > 1
                        THEN ${q.param(dedupe?.reason ?? null, 'text')} END AS duplicate
         FROM priced h
     ),
     flagged AS (
       SELECT h.id AS household_id, h.registry_id, h.admin_pcode, h.pcode, h.activation_id, h.tier, h.severity, h.size,
              h.payment_channel, h.payment_account, h.is_counted AND NOT h.outside AS is_counted, h.outside, h.amount, e.excluded,
              row_number() OVER (PARTITION BY h.pcode, e.excluded IS NULL ORDER BY ${order}) AS rank
         FROM deduped h
         CROSS JOIN LATERAL (SELECT coalesce(h.excluded_by_rule,
                                             CASE WHEN h.amount IS NULL THEN 'no amount: ' || ${q.param(unpricedReason(benefit), 'text')} END,
                                             h.duplicate) AS excluded) e
     ),
     area_counts AS (
       SELECT f.pcode, count(*) FILTER (WHERE NOT f.outside) AS registered, count(*) FILTER (WHERE f.excluded IS NULL) AS eligible,
              count(*) FILTER (WHERE f.is_counted) AS counted, min(a.coverage) AS coverage
         FROM flagged f JOIN act a ON a.pcode = f.pcode GROUP BY f.pcode
     ),
     limits AS (
       SELECT t.pcode, ${limit} AS lim, ${targetOnly} AS target
         FROM area_counts t JOIN act a ON a.pcode = t.pcode
     )
     SELECT f.*, l.lim, l.target,
            CASE WHEN f.excluded IS NOT NULL THEN f.excluded
                 WHEN l.target IS NOT NULL AND f.rank > l.target THEN 'beyond the coverage target'
                 WHEN l.lim IS NOT NULL AND f.rank > l.lim THEN 'beyond the per-area cap'
            END AS left_out
       FROM flagged f JOIN limits l ON l.pcode = f.pcode`,
    q.params,
  );
  // Exclusions and limits are both "left out", counted per reason.
  await raw.query(`UPDATE list_matched SET excluded = left_out WHERE left_out IS NOT NULL`);
}

/**
 * Step 2: the budget. Candidates cost amount × their payments (× 1 for a per-cycle envelope).
 * An envelope per shock or per year is what is left of it after the decided lists of the rule
 * before this one (every version and component): per shock, each shock of the list draws on its
 * own envelope; per year, the calendar year of the cycle. When the total exceeds what is left the
 * rule's steps apply in order: fund the most severe tiers first (whole tiers while they fit), then
 * in the tier where money runs out reduce the caseload pro rata to the areas' registered
 * households, or stop when exhausted, or (only when the rule allows it) reduce the value pro rata.
 * The overall household and amount caps cut the same way, and hold over the whole list.
 * Households keep their rank order within an area: the lowest-priority go first.
 */
async function applyBudgetAndInsert(raw: RawConnection, job: Job, listId: number, plan: PaymentPlan, notes: string[]): Promise<Cut[]> {
  const { rule, component, benefit } = job;
  const budget = rule.budget;
  const overall = component.caps?.overall;
  let envelope: number | null = null;
  let perPayment = false;
  let deductPer: 'shock' | 'year' | null = null;
  if (budget) {
    if (budget.envelope.currency !== benefit.currency) {
      notes.push(`the envelope is in ${budget.envelope.currency}, the benefit in ${benefit.currency}: the budget is not applied (no conversion)`);
    } else {
      envelope = budget.envelope.amount;
      perPayment = budget.envelope.per === 'cycle';
      if (budget.envelope.per === 'year' || budget.envelope.per === 'shock') deductPer = budget.envelope.per;
    }
  }
  // The overall amount cap is per list: it limits each shock's envelope and, below, the whole list.
  const overallAmount = overall?.amount ?? null;
  if (overallAmount !== null && (envelope === null || overallAmount < envelope)) perPayment = false;
  const steps = budget?.over_budget ?? ['stop_when_exhausted'];
  const bySeverity = steps[0] === 'fund_most_severe_first';
  const partialStep = (bySeverity ? steps[1] : steps[0]) ?? 'stop_when_exhausted';
  const valueAllowed = Boolean(budget?.allow_value_reduction);
  if (partialStep === 'reduce_value_pro_rata' && !valueAllowed) notes.push('reduce_value_pro_rata needs allow_value_reduction: true; the caseload is cut instead');
  if (partialStep === 'shorten_duration') notes.push('shorten_duration is not applied to a list: the caseload is cut when the money runs out');
  const mode = partialStep === 'reduce_caseload_pro_rata' ? 'pro_rata' : partialStep === 'reduce_value_pro_rata' && valueAllowed ? 'value' : 'stop';
  const proRataBy = budget?.pro_rata_by === 'eligible_households' ? 'eligible' : budget?.pro_rata_by === 'targeted_households' ? 'targeted' : 'registered';
  const start = firstPayment(component, job, notes);

  // What earlier decided lists took from the envelope, per pot (a shock key, or '' for the year).
  const year = job.cycle.slice(0, 4);
  if (envelope !== null && deductPer !== null) {
    const { rows: spent } = await raw.query<{ pot: string; spent: string }>(
      envelopeSpentSql({ ruleId: '$1::text', year: '$2::text', per: '$3::text' }),
      [rule.id, year, deductPer],
    );
    const shocks = deductPer === 'shock' ? [...new Set(job.areas.map((a) => a.shockKey))].sort() : [''];
    for (const pot of shocks) {
      const taken = Number(spent.find((s) => s.pot === pot)?.spent ?? 0);
      const where = deductPer === 'shock' ? `shock ${pot}` : `year ${year}`;
      notes.push(`envelope per ${deductPer} (${where}): ${envelope} ${benefit.currency}, of which ${taken} taken by earlier approved lists of ${rule.id}; ${Math.max(0, envelope - taken)} left for this list`);
    }
  }

  const p = namedParams({
    envelope: [envelope, 'numeric'], perPayment: [perPayment, 'boolean'], bySeverity: [bySeverity, 'boolean'], mode: [mode, 'text'],
    overallHouseholds: [overall?.households ?? null, 'int'], overallAmount: [overallAmount, 'numeric'], proRataBy: [proRataBy, 'text'],
    perList: [plan.perList, 'int'], perShock: [plan.perShock, 'int'], deductPer: [deductPer ?? 'none', 'text'], ruleId: [rule.id, 'text'], year: [year, 'text'],
  });
  await raw.query(
    `CREATE TEMP TABLE list_decided ON COMMIT DROP AS
     WITH spent AS (${envelopeSpentSql({ ruleId: p.ruleId, year: p.year, per: p.deductPer })}),
     cand AS (
       SELECT m.*, pay.payments, m.amount * (CASE WHEN ${p.perPayment} THEN 1 ELSE pay.payments END) AS cost,
              CASE WHEN ${p.bySeverity} THEN m.severity ELSE 0 END AS grp,
              CASE WHEN ${p.deductPer} = 'shock' THEN ma.shock_key ELSE '' END AS pot
         FROM list_matched m
         JOIN activations ma ON ma.id = m.activation_id
         -- The payments still due for the shock (those already paid were left out as they were matched).
         CROSS JOIN LATERAL (
           SELECT CASE WHEN ${p.perShock} IS NULL THEN ${p.perList}
                       ELSE least(${p.perList}, ${p.perShock} - ${priorPaymentsSql({ household: 'm.household_id', activation: 'm.activation_id', ruleId: p.ruleId })})
                  END AS payments) pay
        WHERE m.excluded IS NULL
     ),
     pot_envelope AS (
       -- least and greatest skip NULLs: no envelope (NULL) must stay no limit, not become 0.
       SELECT c.pot, coalesce(max(s.spent), 0) AS spent,
              least(CASE WHEN ${p.envelope} IS NOT NULL THEN greatest(0, ${p.envelope} - coalesce(max(s.spent), 0)) END, ${p.overallAmount}) AS envelope
         FROM (SELECT DISTINCT pot FROM cand) c LEFT JOIN spent s ON s.pot = c.pot GROUP BY c.pot
     ),
     area_base AS (
       SELECT pcode, count(*) FILTER (WHERE NOT outside) AS registered, count(*) FILTER (WHERE excluded IS NULL OR excluded LIKE 'beyond%') AS eligible
         FROM list_matched GROUP BY pcode
     ),
     grp_before AS (
       SELECT pot, grp, total, coalesce(sum(total) OVER (PARTITION BY pot ORDER BY grp DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
         FROM (SELECT pot, grp, sum(cost) AS total FROM cand GROUP BY pot, grp) t
     ),
     area_weight AS (
       SELECT c.pot, c.grp, c.pcode,
              CASE ${p.proRataBy} WHEN 'eligible' THEN max(b.eligible) WHEN 'targeted' THEN count(*) ELSE max(b.registered) END AS weight
         FROM cand c JOIN area_base b ON b.pcode = c.pcode GROUP BY c.pot, c.grp, c.pcode
     ),
     grp_weight AS (SELECT pot, grp, sum(weight) AS weight FROM area_weight GROUP BY pot, grp),
     ranked AS (
       SELECT c.*, e.envelope, e.spent AS pot_spent, g.total AS grp_total, g.before AS grp_before, w.weight AS area_weight, gw.weight AS grp_weight,
              sum(c.cost) OVER (PARTITION BY c.pot, c.grp, c.pcode ORDER BY c.rank ROWS UNBOUNDED PRECEDING) AS area_cum,
              sum(c.cost) OVER (PARTITION BY c.pot, c.grp ORDER BY c.pcode, c.rank ROWS UNBOUNDED PRECEDING) AS grp_cum,
              row_number() OVER (ORDER BY c.grp DESC, c.pcode, c.rank) AS overall_rank
         FROM cand c JOIN pot_envelope e ON e.pot = c.pot JOIN grp_before g ON g.pot = c.pot AND g.grp = c.grp
         JOIN area_weight w ON w.pot = c.pot AND w.grp = c.grp AND w.pcode = c.pcode JOIN grp_weight gw ON gw.pot = c.pot AND gw.grp = c.grp
     ),
     decided AS (
       SELECT r.*,
              CASE WHEN r.envelope IS NULL OR r.grp_before + r.grp_total <= r.envelope THEN 'keep'
                   WHEN r.envelope = 0 AND r.pot_spent > 0 THEN 'cut_spent'
                   WHEN r.grp_before >= r.envelope THEN 'cut_severity'
                   WHEN ${p.mode} = 'value' THEN 'keep_reduced'
                   WHEN ${p.mode} = 'pro_rata' AND r.area_cum <= (r.envelope - r.grp_before) * r.area_weight / r.grp_weight THEN 'keep'
                   WHEN ${p.mode} = 'stop' AND r.grp_cum <= r.envelope - r.grp_before THEN 'keep'
                   ELSE 'cut_' || ${p.mode} END AS decision,
              CASE WHEN ${p.mode} = 'value' AND r.grp_total > 0 THEN (r.envelope - r.grp_before) / r.grp_total ELSE 1 END AS factor
         FROM ranked r
     ),
     kept AS (
       SELECT d.*,
              count(*) FILTER (WHERE d.decision LIKE 'keep%') OVER (ORDER BY d.overall_rank ROWS UNBOUNDED PRECEDING) AS kept_households,
              sum(CASE WHEN d.decision = 'keep_reduced' THEN d.cost * d.factor ELSE d.cost END) FILTER (WHERE d.decision LIKE 'keep%')
                OVER (ORDER BY d.overall_rank ROWS UNBOUNDED PRECEDING) AS kept_amount
         FROM decided d
     )
     SELECT k.*,
            CASE WHEN k.decision LIKE 'keep%' AND (k.kept_households > ${p.overallHouseholds} OR k.kept_amount > ${p.overallAmount})
                 THEN 'cut_overall_cap' ELSE k.decision END AS outcome
       FROM kept k`,
    p.values,
  );
  await raw.query(
    `INSERT INTO payment_list_entries (list_id, household_id, registry_id, admin_pcode, pcode, activation_id, tier, rank, size, amount, currency,
                                       payments, first_payment, payment_channel, payment_account, reason)
     SELECT $1, d.household_id, d.registry_id, d.admin_pcode, d.pcode, d.activation_id, d.tier, d.rank, d.size,
            CASE WHEN d.outcome = 'keep_reduced' THEN round(d.amount * d.factor, 2) ELSE d.amount END,
            $2, d.payments, $3::date, d.payment_channel, d.payment_account,
            CASE WHEN $5::text = 'vertical' THEN 'vertical: active ' || $4::text || ' beneficiary' ELSE 'horizontal: rank ' || d.rank END
              || ' in ' || d.pcode || coalesce(' at tier ' || d.tier, '') || ' (activation ' || d.activation_id || ')'
       FROM list_decided d WHERE d.outcome LIKE 'keep%'
      ORDER BY d.pcode, d.rank`,
    [listId, benefit.currency, start, component.programme ?? rule.programme, component.mode === 'vertical' ? 'vertical' : 'horizontal'],
  );
  const { rows } = await raw.query<Cut>(
    `SELECT pcode, outcome AS step, count(*)::int AS households, sum(cost)::float8 AS amount FROM list_decided
      WHERE outcome NOT LIKE 'keep%' GROUP BY pcode, outcome ORDER BY pcode, outcome`,
  );
  const { rows: reduced } = await raw.query<Cut>(
    `SELECT pcode, 'reduce_value_pro_rata' AS step, count(*)::int AS households, sum(cost * (1 - factor))::float8 AS amount FROM list_decided
      WHERE outcome = 'keep_reduced' GROUP BY pcode ORDER BY pcode`,
  );
  // Households cut by the budget are left out too, counted per reason.
  await raw.query(
    `UPDATE list_matched m SET excluded = CASE d.outcome WHEN 'cut_overall_cap' THEN 'beyond the overall cap' ELSE 'over budget' END
       FROM list_decided d WHERE d.household_id = m.household_id AND d.outcome NOT LIKE 'keep%'`,
  );
  await raw.query(`DROP TABLE list_decided`);
  const why: Record<string, string> = {
    cut_spent: 'the envelope was used by earlier approved lists',
    cut_severity: 'the envelope was used by more severe areas first',
    cut_pro_rata: 'caseload reduced pro rata: the lowest-priority households of the area were cut',
    cut_stop: 'the envelope ran out',
    cut_value: 'the envelope ran out',
    cut_overall_cap: 'beyond the overall household or amount cap',
  };
  return [
    ...rows.map((c) => ({ ...c, reason: why[c.step] ?? c.step, step: c.step.replace(/^cut_/, '') })),
    ...reduced.map((c) => ({ ...c, reason: 'value per household reduced pro rata (the rule allows it)' })),
  ];
}

/** The first payment date: the activation date plus the offset, or the next named month. */
function firstPayment(component: ResponseComponent, job: Job, notes: string[]): string | null {
  const start = component.payments?.start;
  if (!start) return null;
  const opened = job.areas.map((a) => a.openedAt).sort()[0] ?? job.now.toISOString().slice(0, 10);
  if (start.days_after_activation !== undefined) {
    return new Date(Date.parse(`${opened}T00:00:00Z`) + start.days_after_activation * 86_400_000).toISOString().slice(0, 10);
  }
  if (start.next_month !== undefined) {
    const base = new Date(`${opened}T00:00:00Z`);
    const year = base.getUTCMonth() + 1 < start.next_month ? base.getUTCFullYear() : base.getUTCFullYear() + 1;
    return `${year}-${String(start.next_month).padStart(2, '0')}-01`;
  }
  notes.push('paid with the next regular payment: no date of its own');
  return null;
}

function unpricedReason(benefit: Benefit): string {
  if (benefit.kind === 'per_member') return `no ${benefit.count_of === 'size' ? 'household size' : benefit.count_of.attribute}`;
  if (benefit.kind === 'by_class') return `no amount for its ${benefit.attribute}`;
  if (benefit.kind === 'by_tier') return 'no amount for the tier';
  return 'the amount cannot be worked out';
}

/**
 * Named bind parameters for one statement: `p.envelope` is the placeholder (`$1::numeric`) and
 * `p.values` the values in order, so the SQL reads with names instead of positions.
 */
function namedParams<K extends string>(named: Record<K, [unknown, string]>): Record<K, string> & { values: unknown[] } {
  const values: unknown[] = [];
  const placeholders = {} as Record<K, string>;
  for (const [name, [value, type]] of Object.entries(named) as [K, [unknown, string]][]) {
    values.push(value);
    placeholders[name] = `$${values.length}::${type}`;
  }
  return Object.assign(placeholders, { values });
}
