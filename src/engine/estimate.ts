import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import type { Benefit, ResponseComponent, Rule } from '../rules/schema.ts';
import { areaLimits } from './area-limits.ts';
import { benefitAmountSql } from './benefit-sql.ts';
import { HouseholdSql } from './household-sql.ts';

/** One activated area's share of the estimate. */
export interface AreaEstimate {
  pcode: string;
  tier: string | null;
  /** Households in the registry in the area and every area below it. */
  registered: number;
  /** Households paid, summed over the response components. */
  households: number;
  /** The area's total for one payment cycle (all its households, all components). */
  amountPerPayment: number;
  /** The area's total over the payments: amountPerPayment × payments, or one cycle while triggered. */
  cost: number;
  notes: string[];
}

export interface CostEstimate {
  currency: string | null;
  /** Payments per household: a number, or 'while_triggered' (then cost is per payment cycle). */
  payments: number | 'while_triggered';
  areas: AreaEstimate[];
  households: number;
  /** Total of one payment cycle across areas. */
  costPerPayment: number;
  /** costPerPayment × payments when payments is a number, else costPerPayment. */
  cost: number;
  envelope: { amount: number; currency: string; per: string } | null;
  /** How much the cost exceeds the envelope (same basis), 0 when within, null when no envelope. */
  overBudget: number | null;
  notes: string[];
}

/**
 * What a rule's response would cost if the given areas were activated now, from the registry as
 * it is: per area and response component, who would be paid and how much per payment. Each
 * component is one SQL query over all the areas (households never come into Node, only sums).
 *
 * - vertical: active enrolees of the component's programme meeting eligibility, not excluded;
 *   horizontal and piggyback: registered households meeting eligibility, not excluded, in
 *   priority order up to the coverage target; then per-area caps. design_tweak and benefit
 *   `none` cost nothing.
 * - Overall caps and the budget are compared, not applied: the over-budget steps belong to list
 *   generation. Approximations are listed in `notes`.
 *
 * ```ts
 * const estimate = await estimateCost(store, rule, [{ pcode: 'XD01001', tier: 'extreme' }])
 * ```
 */
export async function estimateCost(store: Store, rule: Rule, areas: { pcode: string; tier: string | null }[]): Promise<CostEstimate> {
  const notes: string[] = ['estimated from the registry as it is now; overall caps and the over-budget steps are applied when payment lists are generated, not here'];
  const results: AreaEstimate[] = areas.map((a) => ({ pcode: a.pcode, tier: a.tier, registered: 0, households: 0, amountPerPayment: 0, cost: 0, notes: [] }));
  const paying: { label: string; currency: string; payments: number | 'while_triggered' }[] = [];

  await store.transaction(async ({ raw }) => {
    const registered = await raw.query<{ pcode: string; registered: number }>(
      `SELECT a.pcode, count(h.id)::int AS registered
         FROM unnest($1::text[]) AS a(pcode)
         LEFT JOIN admin_area_ancestors x ON x.ancestor_pcode = a.pcode
         LEFT JOIN households h ON h.admin_pcode = x.pcode
        GROUP BY a.pcode`,
      [results.map((a) => a.pcode)],
    );
    const byPcode = new Map(registered.rows.map((r) => [r.pcode, r.registered]));
    for (const area of results) area.registered = byPcode.get(area.pcode) ?? 0;

    const programmes = await raw.query<{ code: string; currency: string; base: number }>(
      `SELECT code, currency, base_amount::float8 AS base FROM programmes`,
    );
    const programmeOf = new Map(programmes.rows.map((p) => [p.code, p]));

    for (const [index, component] of rule.response.entries()) {
      const label = component.name ?? `${component.mode} component${rule.response.length > 1 ? ` ${index + 1}` : ''}`;
      if (component.mode === 'design_tweak') {
        notes.push(`${label}: a design tweak, no extra cost`);
        continue;
      }
      const benefit = component.benefit;
      if (!benefit || benefit.kind === 'none') {
        notes.push(`${label}: no benefit, no extra cost`);
        continue;
      }
      const payments = component.payments?.count ?? 1;
      if (!component.payments) notes.push(`${label}: no payments given, one payment assumed`);
      paying.push({ label, currency: benefit.currency, payments });
      const inTier = results.filter((a) => !component.tiers || (a.tier !== null && component.tiers.includes(a.tier)));
      if (inTier.length < results.length) notes.push(`${label}: only for areas at tier ${component.tiers!.join(' or ')}`);
      if (inTier.length === 0) continue;
      const rows = await estimateComponent(raw, rule, component, benefit, inTier, { label, notes, programmeOf });
      for (const area of inTier) {
        const row = rows.get(area.pcode);
        if (!row) continue;
        area.households += row.households;
        area.amountPerPayment += row.amount;
        area.cost += row.amount * (payments === 'while_triggered' ? 1 : payments);
        if (row.limit !== null && row.candidates < row.limit) {
          area.notes.push(`${label}: target ${row.limit} households, only ${row.candidates} qualify`);
        }
        if (row.unpriced > 0) area.notes.push(`${label}: ${row.unpriced} households ${unpricedReason(benefit)}, counted at 0`);
      }
    }
  });

  const counts = [...new Set(paying.map((p) => p.payments))];
  let payments: number | 'while_triggered';
  if (counts.length === 0) payments = 0;
  else if (counts.length === 1) payments = counts[0];
  else {
    payments = counts.includes('while_triggered') ? 'while_triggered' : Math.max(...(counts as number[]));
    notes.push(`components pay different numbers of payments (${paying.map((p) => `${p.label}: ${p.payments}`).join(', ')}); the cost adds up each component's own`);
  }
  if (counts.includes('while_triggered')) notes.push('payments while triggered: costs are for one payment cycle');
  const currencies = [...new Set(paying.map((p) => p.currency))];
  if (currencies.length > 1) notes.push(`components pay in different currencies (${currencies.join(', ')}): the totals add them up as if they were ${currencies[0]}`);
  if (paying.length > 1) notes.push('households are summed over components: one paid by two components counts twice');

  for (const area of results) {
    area.amountPerPayment = money(area.amountPerPayment);
    area.cost = money(area.cost);
  }
  const costPerPayment = money(results.reduce((sum, a) => sum + a.amountPerPayment, 0));
  const cost = money(results.reduce((sum, a) => sum + a.cost, 0));
  const currency = currencies[0] ?? null;

  const envelope = rule.budget ? { ...rule.budget.envelope } : null;
  let overBudget: number | null = null;
  if (envelope && currency !== null && envelope.currency !== currency) {
    notes.push(`the envelope is in ${envelope.currency}, the benefit in ${currency}: not compared`);
  } else if (envelope) {
    const basis = envelope.per === 'cycle' ? costPerPayment : cost;
    if (envelope.per !== 'cycle' && payments === 'while_triggered') {
      notes.push(`the envelope is per ${envelope.per}: compared with one payment cycle, the least the activation costs`);
    }
    overBudget = money(Math.max(0, basis - envelope.amount));
    if (overBudget > 0) {
      notes.push(`over the envelope by ${format(overBudget)} ${envelope.currency}: the over-budget steps (${rule.budget!.over_budget.join(', ')}) are applied when lists are generated`);
    }
  }

  return {
    currency,
    payments,
    areas: results,
    households: results.reduce((sum, a) => sum + a.households, 0),
    costPerPayment,
    cost,
    envelope,
    overBudget,
    notes: [...new Set(notes)],
  };
}

interface ComponentRow {
  households: number;
  amount: number;
  /** Households meeting the selection (before the target and caps). */
  candidates: number;
  /** Target and caps combined; null when every qualifying household is counted. */
  limit: number | null;
  /** Households counted whose amount could not be worked out (counted at 0). */
  unpriced: number;
}

interface ComponentContext {
  label: string;
  notes: string[];
  programmeOf: Map<string, { code: string; currency: string; base: number }>;
}

/** One query for one component over all its areas: households and the amount per payment, per area. */
async function estimateComponent(
  raw: RawConnection,
  rule: Rule,
  component: ResponseComponent,
  benefit: Exclude<Benefit, { kind: 'none' }>,
  areas: AreaEstimate[],
  context: ComponentContext,
): Promise<Map<string, ComponentRow>> {
  const { label, notes } = context;
  const q = new HouseholdSql();
  const who = component.households;
  const programme = component.programme ?? rule.programme;

  const limits = areaLimits(q, component, areas.map((a) => a.tier), rule.programme);
  if (!component.coverage && component.mode !== 'vertical') notes.push(`${label}: no coverage target, every qualifying household counted`);
  if (limits.fromIndicator) notes.push(`${label}: the coverage quota comes from the indicator ${limits.fromIndicator}, not read here: every qualifying household counted`);
  if (limits.tierWithoutCoverage.length) notes.push(`${label}: no coverage for the tier of ${limits.tierWithoutCoverage.map((i) => areas[i].pcode).join(', ')}: none counted`);
  const tierAmounts = areas.map((a) => (benefit.kind === 'by_tier' && a.tier !== null ? (benefit.amounts[a.tier] ?? null) : null));
  if (benefit.kind === 'by_tier') {
    const unpaid = areas.filter((a, i) => tierAmounts[i] === null).map((a) => a.pcode);
    if (unpaid.length) notes.push(`${label}: no amount for the tier of ${unpaid.join(', ')}: counted at 0`);
  }
  const act = `SELECT * FROM unnest(${q.param(areas.map((a) => a.pcode), 'text[]')}, ${q.param(limits.coverage, 'numeric[]')}, ${q.param(tierAmounts, 'numeric[]')})
                 AS a(pcode, coverage, tier_amount)`;

  // Who qualifies: for vertical the programme's active enrolees, otherwise the registry.
  const eligibility = q.condition(who.eligibility);
  const eligible = component.mode === 'vertical' ? `(${q.enrolledIn([programme])} AND ${eligibility})` : eligibility;
  if (component.mode === 'piggyback') notes.push(`${label}: paid by ${component.partner?.name ?? 'a partner'}, included in the cost`);
  const exclusions: string[] = [];
  if (who.exclude?.current_beneficiaries_of) exclusions.push(q.enrolledIn(who.exclude.current_beneficiaries_of));
  if (who.exclude?.when) exclusions.push(q.condition(who.exclude.when));
  for (const requirement of who.requirements ?? []) {
    if (requirement.otherwise === 'exclude') exclusions.push(`NOT ${q.condition(requirement.condition)}`);
  }
  if (who.requirements?.some((r) => r.otherwise !== 'exclude')) {
    notes.push(`${label}: households held or sent to the grievance queue by a requirement are counted as if it were met`);
  }
  if (who.frozen_list) notes.push(`${label}: ranked from the registry as it is now, not from a frozen list`);
  if (who.intake) notes.push(`${label}: households that would come through on-demand intake are not counted`);
  const excluded = exclusions.length ? `(${exclusions.join(' OR ')})` : 'false';
  const counted = limits.counted;
  const amount = amountOf(q, benefit, component, rule, context);
  const order = q.orderBy(who.priority);

  const limit = limits.limit;

  const sql = `
    WITH act AS (${act}),
    hh AS (${q.households()}),
    members AS (
      SELECT a.pcode AS area, ${eligible} AS is_eligible, ${excluded} AS is_excluded, ${counted} AS is_counted,
             ${amount} AS amount, h.*
        FROM act a
        JOIN admin_area_ancestors x ON x.ancestor_pcode = a.pcode
        JOIN hh h ON h.admin_pcode = x.pcode
    ),
    ranked AS (
      SELECT h.area, h.amount, h.is_eligible AND NOT h.is_excluded AS is_candidate,
             row_number() OVER (PARTITION BY h.area, h.is_eligible AND NOT h.is_excluded ORDER BY ${order}) AS rank
        FROM members h
    ),
    limits AS (
      SELECT t.area, t.candidates, ${limit} AS lim
        FROM (SELECT area, count(*) AS registered, count(*) FILTER (WHERE is_eligible) AS eligible,
                     count(*) FILTER (WHERE is_counted) AS counted,
                     count(*) FILTER (WHERE is_eligible AND NOT is_excluded) AS candidates
                FROM members GROUP BY area) t
        JOIN act a ON a.pcode = t.area
    )
    SELECT l.area AS pcode, l.candidates::int AS candidates, l.lim::float8 AS "limit",
           count(r.area)::int AS households, coalesce(sum(r.amount), 0)::float8 AS amount,
           count(r.area) FILTER (WHERE r.amount IS NULL)::int AS unpriced
      FROM limits l
      LEFT JOIN ranked r ON r.area = l.area AND r.is_candidate AND (l.lim IS NULL OR r.rank <= l.lim)
     GROUP BY l.area, l.candidates, l.lim`;
  const { rows } = await raw.query<ComponentRow & { pcode: string }>(sql, q.params);
  return new Map(rows.map((r) => [r.pcode, r]));
}

/**
 * The amount per payment of one household as SQL (the shared benefit formula), with the estimate's
 * notes; where the formula has no figure the household is counted at 0.
 */
function amountOf(q: HouseholdSql, benefit: Exclude<Benefit, { kind: 'none' }>, component: ResponseComponent, rule: Rule, { label, notes, programmeOf }: ComponentContext): string {
  if (benefit.kind === 'share_of_base') {
    const code = benefit.programme ?? component.programme ?? rule.programme;
    const programme = programmeOf.get(code);
    if (!programme) {
      notes.push(`${label}: programme ${code} is not registered, its base amount is unknown: counted at 0`);
      return q.param(0, 'numeric');
    }
    if (programme.currency !== benefit.currency) notes.push(`${label}: ${code} pays in ${programme.currency}, the benefit is in ${benefit.currency}: no conversion`);
  }
  if (benefit.kind === 'share_of_reference' && benefit.reference.amount === undefined) {
    notes.push(`${label}: the reference (${benefit.reference.label}) comes from an indicator, not read here: counted at 0`);
    return q.param(0, 'numeric');
  }
  return benefitAmountSql(q, benefit, { programme: component.programme ?? rule.programme, tierAmount: 'coalesce(a.tier_amount, 0)' });
}

function unpricedReason(benefit: Benefit): string {
  if (benefit.kind === 'per_member') return `have no ${benefit.count_of === 'size' ? 'size' : benefit.count_of.attribute} (or not a number)`;
  if (benefit.kind === 'by_class') return `have no amount for their ${benefit.attribute}`;
  return 'have no amount';
}

const money = (value: number) => Math.round(value * 100) / 100;
const format = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** The estimate as readable lines for the CLI. */
export function describeEstimate(estimate: CostEstimate): string[] {
  const unit = estimate.currency ? `${estimate.currency} ` : '';
  const lines = [`Cost estimate: ${estimate.areas.length} area(s), ${format(estimate.households)} households`];
  for (const area of estimate.areas) {
    lines.push(
      `  ${area.pcode}${area.tier ? ` (${area.tier})` : ''}: ${format(area.households)} of ${format(area.registered)} registered households, ${unit}${format(area.amountPerPayment)} per payment`,
    );
    for (const note of area.notes) lines.push(`    ${note}`);
  }
  const payments = estimate.payments === 'while_triggered' ? 'while triggered' : `${estimate.payments} payment${estimate.payments === 1 ? '' : 's'}`;
  lines.push(`Per payment cycle: ${unit}${format(estimate.costPerPayment)}; payments: ${payments}`);
  lines.push(`Cost: ${unit}${format(estimate.cost)}${estimate.payments === 'while_triggered' ? ' per cycle while triggered' : ''}`);
  if (estimate.envelope) {
    const { amount, currency, per } = estimate.envelope;
    const verdict = estimate.overBudget === null ? 'not compared' : estimate.overBudget > 0 ? `over by ${currency} ${format(estimate.overBudget)}` : 'within';
    lines.push(`Envelope: ${currency} ${format(amount)} per ${per}: ${verdict}`);
  }
  if (estimate.notes.length) lines.push('Notes:', ...estimate.notes.map((n) => `  - ${n}`));
  return lines;
}
