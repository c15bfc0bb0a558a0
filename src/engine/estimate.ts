import { randomBytes } from 'node:crypto';
import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import type { AreaDecision } from '../rules/evaluate.ts';
import type { Rule } from '../rules/schema.ts';
import { generateForVersion } from './targeting/generate-lists.ts';

/** One activated area's share of the estimate. */
export interface AreaEstimate {
  pcode: string;
  tier: string | null;
  /** Registered households of the area the list counts (inside the footprint under a footprint rule). */
  registered: number;
  /** Households paid, summed over the response components. */
  households: number;
  /** The area's total for one payment cycle (all its households, all components). */
  amountPerPayment: number;
  /** The area's total over the payments each household is due. */
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
  /** What the households are paid over their payments (one cycle while triggered). */
  cost: number;
  envelope: { amount: number; currency: string; per: string } | null;
  /** What the budget and the overall caps cut from the list (same basis), 0 when nothing, null when no envelope. */
  overBudget: number | null;
  /** Households left out, per reason, summed over the components. */
  leftOut: Record<string, number>;
  notes: string[];
}

/** An area to estimate, as the rule decided it: its tier and the events that hold there. */
export interface EstimateArea {
  pcode: string;
  tier: string | null;
  /** `source:externalId` of the events that hold in the area (their footprints select the households). */
  events?: string[];
  /** The shock it belongs to (as activations name it); default the first event, else one shock for all. */
  shockKey?: string;
}

/**
 * What a rule's response would pay if the given areas were in activation now: exactly the lists
 * list generation would produce, because it is list generation (`generateForVersion`) run inside
 * a transaction that is rolled back, over a scratch version of the rule and scratch activations.
 * Same households, same amounts, same caps and budget cuts, same deductions of earlier lists of
 * the shock; nothing is written.
 *
 * ```ts
 * const estimate = await estimateCost(store, rule, [{ pcode: 'XD01001', tier: 'extreme' }])
 * ```
 */
export async function estimateCost(store: Store, rule: Rule, areas: EstimateArea[], options: { asOf?: string } = {}): Promise<CostEstimate> {
  const asOf = options.asOf ?? new Date().toISOString();
  const envelope = rule.budget ? { ...rule.budget.envelope } : null;
  const paying = rule.response.find((c) => c.mode !== 'design_tweak' && c.benefit && c.benefit.kind !== 'none');
  const empty: CostEstimate = {
    currency: paying?.benefit && paying.benefit.kind !== 'none' ? paying.benefit.currency : null, payments: paymentsOf(rule), areas: [], households: 0, costPerPayment: 0, cost: 0, envelope,
    overBudget: envelope ? 0 : null, leftOut: {}, notes: [],
  };
  if (areas.length === 0) return empty;
  const rollback = new RolledBack<CostEstimate>();
  try {
    await store.transaction(async ({ raw }) => {
      rollback.value = await estimateInside(raw, rule, areas, asOf, empty);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  return rollback.value!;
}

class RolledBack<T> extends Error {
  value: T | undefined;
  constructor() {
    super('estimate rolled back');
  }
}

async function estimateInside(raw: RawConnection, rule: Rule, areas: EstimateArea[], asOf: string, empty: CostEstimate): Promise<CostEstimate> {
  // A programme the store does not know cannot have a list: say so rather than fail.
  const programmes = [...new Set(rule.response.map((c) => c.programme ?? rule.programme))];
  const { rows: known } = await raw.query<{ code: string }>(`SELECT code FROM programmes WHERE code = ANY ($1::text[])`, [programmes]);
  const missing = programmes.filter((code) => !known.some((k) => k.code === code));
  if (missing.length) return { ...empty, notes: [`programme ${missing.join(', ')} is not in the store: no list can be generated, nothing estimated`] };

  const { rows: version } = await raw.query<{ id: number }>(
    `INSERT INTO rule_versions (rule_id, hash, definition, file, created_by) VALUES ($1, $2, $3, 'estimate (rolled back)', 'estimate') RETURNING id`,
    [rule.id, randomBytes(32).toString('hex'), JSON.stringify(rule)],
  );
  const ruleVersionId = version[0].id;
  for (const area of areas) {
    const events = area.events ?? [];
    const evidence = events.map((key) => {
      const at = key.indexOf(':');
      return { kind: 'event', source: key.slice(0, at), externalId: key.slice(at + 1), holds: true };
    });
    await raw.query(
      `INSERT INTO activations (rule_version_id, rule_id, shock_key, pcode, stage, tier, evidence, opened_as_of, evaluated_as_of)
       VALUES ($1, $2, $3, $4, 'activation', $5, $6, $7::timestamptz, $7::timestamptz)`,
      [ruleVersionId, rule.id, area.shockKey ?? events[0] ?? 'estimate', area.pcode, area.tier, JSON.stringify(evidence), asOf],
    );
  }
  const lists = await generateForVersion(raw, { ruleVersionId, rule, cycle: asOf.slice(0, 7), actor: 'estimate', now: new Date(asOf), estimate: true });
  const results: AreaEstimate[] = areas.map((a) => {
    // The area on each component's list; a household on two components counts twice.
    const here = lists.flatMap((l) => l.areas.filter((x) => x.pcode === a.pcode));
    const sum = (field: 'listed' | 'amount' | 'cost') => here.reduce((total, x) => total + x[field], 0);
    // A coverage target the area's qualifying households cannot fill, per component.
    // (Households the budget cut did qualify: they are no shortfall.)
    const short = lists.flatMap((l) => l.areas.filter((x) => x.pcode === a.pcode && x.target !== null)
      .map((x) => ({ x, qualified: x.listed + l.cuts.filter((c) => c.pcode === x.pcode && c.step !== 'reduce_value_pro_rata').reduce((n, c) => n + c.households, 0) }))
      .filter(({ x, qualified }) => qualified < x.target!)
      .map(({ x, qualified }) => `component ${l.component + 1}: target ${x.target} households, only ${qualified} qualify`));
    return {
      pcode: a.pcode, tier: a.tier, registered: Math.max(0, ...here.map((x) => x.registered)),
      households: sum('listed'), amountPerPayment: money(sum('amount')), cost: money(sum('cost')), notes: short,
    };
  });
  const leftOut: Record<string, number> = {};
  for (const list of lists) for (const [reason, n] of Object.entries(list.excluded)) leftOut[reason] = (leftOut[reason] ?? 0) + n;
  const notes = [...new Set(lists.flatMap((l) => l.notes))];
  const cuts = lists.flatMap((l) => l.cuts);
  for (const cut of cuts) notes.push(`${cut.pcode}: ${cut.households} household(s), ${format(cut.amount)} cut: ${cut.reason}`);
  const currencies = [...new Set(lists.map((l) => l.currency))];
  if (currencies.length > 1) notes.push(`components pay in different currencies (${currencies.join(', ')}): the totals add them up as if they were ${currencies[0]}`);
  if (lists.length > 1) notes.push('households are summed over components: one paid by two components counts twice');
  return {
    currency: currencies[0] ?? null,
    payments: paymentsOf(rule),
    areas: results,
    households: results.reduce((sum, a) => sum + a.households, 0),
    costPerPayment: money(results.reduce((sum, a) => sum + a.amountPerPayment, 0)),
    cost: money(results.reduce((sum, a) => sum + a.cost, 0)),
    envelope: empty.envelope,
    // Not compared when the envelope is in another currency (the budget is not applied then either).
    overBudget: empty.envelope && empty.envelope.currency === currencies[0] ? money(cuts.reduce((sum, c) => sum + c.amount, 0)) : null,
    leftOut,
    notes,
  };
}

/** The events that hold in an area by its decision's evidence, as `source:externalId`. */
export function holdingEvents(decision: AreaDecision): string[] {
  return [...new Set(decision.evidence.flatMap((e) => (e.kind === 'event' && e.holds ? [`${e.source}:${e.externalId}`] : [])))];
}

/** Payments per household the rule's paying components name (the largest; while triggered wins). */
function paymentsOf(rule: Rule): number | 'while_triggered' {
  const counts = rule.response.filter((c) => c.benefit && c.benefit.kind !== 'none' && c.mode !== 'design_tweak').map((c) => c.payments?.count ?? 1);
  if (counts.includes('while_triggered')) return 'while_triggered';
  return counts.length ? Math.max(...(counts as number[])) : 0;
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
    const verdict = estimate.overBudget === null ? 'not compared' : estimate.overBudget > 0 ? `over: ${currency} ${format(estimate.overBudget)} cut (see the notes)` : 'within';
    lines.push(`Envelope: ${currency} ${format(amount)} per ${per}: ${verdict}`);
  }
  const leftOut = Object.entries(estimate.leftOut);
  if (leftOut.length) lines.push('Left out:', ...leftOut.map(([reason, n]) => `  ${format(n)} ${reason}`));
  if (estimate.notes.length) lines.push('Notes:', ...estimate.notes.map((n) => `  - ${n}`));
  return lines;
}
