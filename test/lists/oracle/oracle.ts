import * as turf from '@turf/turf';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import type { Benefit, HouseholdCondition, ResponseComponent, Rule } from '../../../src/rules/schema.ts';
import type { OracleArea, OracleHousehold } from '../../support/oracle-world.ts';

/**
 * The oracle: targeting written a second time, for the tests only, from the words of
 * rules/README.md (and, where the README is silent, the documented conventions of the engine,
 * each marked "CONVENTION" below and reported to the lead). Plain TypeScript arithmetic and turf;
 * no SQL, nothing imported from src/engine or src/lists.
 *
 * Money is counted in cents (integers), so comparisons with the envelope are exact.
 */

export interface FootprintShape {
  /** The footprint's class, e.g. Poly_area. */
  class: string;
  value: number | null;
  geometry: Polygon | MultiPolygon | { type: 'Point'; coordinates: [number, number] } | { type: 'LineString'; coordinates: [number, number][] };
}

export interface OracleInput {
  rule: Rule;
  areas: OracleArea[];
  households: OracleHousehold[];
  /** VCI-3M per P-code for the month evaluated (absent: no value published). */
  vci: Record<string, number>;
  /** The current version's footprints of the event, for footprint rules. */
  footprints?: FootprintShape[];
}

export interface ExpectedEntry { id: string; pcode: string; amount: number; rank: number }
export interface ExpectedList {
  component: number;
  entries: ExpectedEntry[];
  excluded: Record<string, number>;
  areas: { pcode: string; registered: number; listed: number }[];
  households: number;
  totalAmount: number;
}
export interface Expected {
  activations: { pcode: string; tier: string | null }[];
  /** The lists, or the error generation must give (no component pays in the tiers activated). */
  lists: ExpectedList[] | 'no paying component';
}

type Truth = boolean | null;

// --------------------------------------------------------------------------------------------
// Where: areas and activation
// --------------------------------------------------------------------------------------------

function lineageOf(areas: OracleArea[]): (pcode: string) => string[] {
  const parent = new Map(areas.map((a) => [a.pcode, a.parent]));
  return (pcode) => {
    const chain = [pcode];
    for (let p = parent.get(pcode) ?? null; p !== null; p = parent.get(p) ?? null) chain.push(p);
    return chain;
  };
}

/** README "areas": each area at admin_level, inside `within` (anything below it), not in `exclude` (anything below it). */
function ruleAreas(input: OracleInput): OracleArea[] {
  const lineage = lineageOf(input.areas);
  const { admin_level, within, exclude = [] } = input.rule.areas;
  return input.areas
    .filter((a) => a.level === admin_level)
    .filter((a) => within.some((p) => lineage(a.pcode).includes(p)) && !exclude.some((p) => lineage(a.pcode).includes(p)))
    .sort((a, b) => cmp(a.pcode, b.pcode));
}

/** README bands: min ≤ x < max (min_inclusive, the default). */
function bandOf(x: number, bands: { name: string; min?: number; max?: number }[]): string | null {
  for (const band of bands) if ((band.min === undefined || band.min <= x) && (band.max === undefined || x < band.max)) return band.name;
  return null;
}

/** Indicator (area) rules: the area's own value at the rule's level, its band, the most severe tier that holds. */
function indicatorActivations(input: OracleInput): { pcode: string; tier: string | null }[] {
  const when = input.rule.stages.activation.when;
  if (!('indicator' in when) || !when.indicator.bands) throw new Error('oracle: only a banded indicator trigger is modelled');
  const trigger = when.indicator;
  const bands = trigger.bands!;
  const triggering = trigger.triggering_bands ?? bands.map((b) => b.name);
  const out: { pcode: string; tier: string | null }[] = [];
  for (const area of ruleAreas(input)) {
    const x = input.vci[area.pcode];
    if (x === undefined) continue; // no data never triggers
    const band = bandOf(x, bands);
    if (band === null || !triggering.includes(band)) continue;
    let tier: string | null = null;
    let severity = -Infinity;
    for (const t of input.rule.tiers ?? []) {
      if (!('in_band' in t.when)) throw new Error('oracle: only in_band tiers are modelled');
      if (t.when.in_band.bands.includes(band) && t.severity > severity) {
        tier = t.id;
        severity = t.severity;
      }
    }
    out.push({ pcode: area.pcode, tier });
  }
  return out;
}

// --------------------------------------------------------------------------------------------
// Footprints (target semantics, issue 10)
// --------------------------------------------------------------------------------------------

/** The 2-D parts of the selected footprints: polygons with an area > 0 (rings of zero area dropped). */
export function twoDimensionalParts(footprints: FootprintShape[]): Feature<Polygon>[] {
  const parts: Feature<Polygon>[] = [];
  for (const f of footprints) {
    const polygons = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.type === 'MultiPolygon' ? f.geometry.coordinates : [];
    for (const rings of polygons) {
      const polygon = turf.polygon(rings as number[][][]);
      if (planarArea(rings[0] as number[][]) !== 0) parts.push(polygon);
    }
  }
  return parts;
}

/** The shoelace area of a ring in degrees² (exact for the generator's 1/8° coordinates); 0 when its points are on one line. */
function planarArea(ring: number[][]): number {
  let twice = 0;
  for (let i = 0; i + 1 < ring.length; i++) twice += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return twice / 2;
}

function eventTrigger(rule: Rule): { class: string; min_value?: number; buffer_km?: number } | null {
  const when = rule.stages.activation.when;
  if (!('event' in when)) return null;
  const fp = when.event.footprint;
  if (!fp) throw new Error('oracle: an event trigger without a footprint class is not modelled');
  return { class: fp.class, min_value: fp.min_value, buffer_km: when.event.buffer_km };
}

/** The footprints the rule selects (class, min_value ≥), their 2-D parts. */
function selectedParts(input: OracleInput): Feature<Polygon>[] {
  const trigger = eventTrigger(input.rule)!;
  if (trigger.buffer_km) throw new Error('oracle: buffer_km is not modelled');
  const selected = (input.footprints ?? []).filter((f) => f.class === trigger.class && (trigger.min_value === undefined || (f.value ?? -Infinity) >= trigger.min_value));
  return twoDimensionalParts(selected);
}

const pointIn = (point: [number, number], parts: Feature<Polygon>[]): boolean =>
  parts.some((p) => turf.booleanPointInPolygon(point, p)); // boundary counts (ignoreBoundary false)

/**
 * Footprint rules: the lowest admin areas whose polygon intersects the 2-D footprint are affected;
 * an area of the rule is activated when it is such an area or one above it.
 */
function footprintActivations(input: OracleInput): { pcode: string; tier: string | null }[] {
  const parts = selectedParts(input);
  if (parts.length === 0) return [];
  const lineage = lineageOf(input.areas);
  const leaves = input.areas.filter((a) => !input.areas.some((c) => c.parent === a.pcode));
  const touched = leaves.filter((leaf) => parts.some((p) => turf.booleanIntersects(areaFeature(leaf), p))).map((a) => a.pcode);
  return ruleAreas(input)
    .filter((area) => touched.some((t) => lineage(t).includes(area.pcode)))
    .map((area) => ({ pcode: area.pcode, tier: null }));
}

function areaFeature(area: OracleArea): Feature<Polygon> {
  const [w, s, e, n] = area.bbox;
  return turf.polygon([[[w, s], [e, s], [e, n], [w, n], [w, s]]]);
}

// --------------------------------------------------------------------------------------------
// Who: household conditions (three-valued), priority
// --------------------------------------------------------------------------------------------

const NUMBER = /^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$/;

/**
 * A household value: a number and/or text, null when missing. CONVENTION (household-sql.ts,
 * not in the README): an empty attribute is missing; an attribute compares as a number only when
 * it looks like one.
 */
function operand(h: OracleHousehold, ref: { field?: string; attribute?: string }): { number: number | null; text: string | null } {
  if (ref.attribute !== undefined) {
    const raw = h.attributes[ref.attribute];
    const text = raw === undefined || raw === '' ? null : raw;
    return { text, number: text !== null && NUMBER.test(text) ? Number(text) : null };
  }
  switch (ref.field) {
    case 'size': return { number: h.size, text: h.size === null ? null : String(h.size) };
    case 'pmt_score': return { number: h.pmt, text: h.pmt === null ? null : String(h.pmt) };
    case 'admin_pcode': return { number: null, text: h.pcode };
    default: throw new Error(`oracle: field ${ref.field} is not modelled`);
  }
}

const enrolled = (h: OracleHousehold, programmes: string[], status: 'active' | 'suspended' = 'active'): boolean =>
  h.enrolments.some(([p, s]) => programmes.includes(p) && s === status);

/**
 * CONVENTION (household-sql.ts; the README does not say): a comparison with a missing operand is
 * unknown, `not` of unknown stays unknown, and only the whole condition counts unknown as false.
 */
function truth(c: HouseholdCondition, h: OracleHousehold, ctx: Context): Truth {
  if ('all' in c) {
    const r = c.all.map((x) => truth(x, h, ctx));
    return r.includes(false) ? false : r.includes(null) ? null : true;
  }
  if ('any' in c) {
    const r = c.any.map((x) => truth(x, h, ctx));
    return r.includes(true) ? true : r.includes(null) ? null : false;
  }
  if ('not' in c) {
    const r = truth(c.not, h, ctx);
    return r === null ? null : !r;
  }
  if ('enrolled_in' in c) return enrolled(h, c.enrolled_in, c.status ?? 'active');
  if ('percentile' in c) {
    const rank = percentRank(c.percentile, h, ctx);
    return rank === null ? null : compareOp(rank, c.percentile.op, c.percentile.value / 100);
  }
  const v = operand(h, c);
  if (c.op === 'exists') return v.text !== null;
  if (c.op === 'missing') return v.text === null;
  if (c.op === 'in' || c.op === 'not_in') {
    // One kind of value per list here (numbers or text); a missing value is unknown.
    const values = (Array.isArray(c.value) ? c.value : [c.value]) as (string | number)[];
    const numeric = values.every((x) => typeof x === 'number');
    const mine = numeric ? v.number : v.text;
    if (v.text === null || (numeric && mine === null)) return null;
    const found = values.some((x) => (numeric ? x === mine : String(x) === mine));
    return c.op === 'in' ? found : !found;
  }
  const value = c.value;
  if (typeof value === 'number') {
    if (v.number === null) return null;
    return compareOp(v.number, c.op, value);
  }
  if (v.text === null) return null;
  return compareOp(v.text, c.op, String(value));
}

function compareOp<T extends number | string>(a: T, op: string, b: T): boolean {
  switch (op) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'lt': return a < b;
    case 'lte': return a <= b;
    case 'gt': return a > b;
    case 'gte': return a >= b;
    default: throw new Error(`oracle: op ${op}`);
  }
}

const holds = (c: HouseholdCondition | undefined, h: OracleHousehold, ctx: Context): boolean => c === undefined || truth(c, h, ctx) === true;

/** What a condition may need beyond the household: the registry and the areas (for percentiles). */
export interface Context {
  households: OracleHousehold[];
  areas: OracleArea[];
}

/**
 * README "percentile within an area" ("poorest 40 % per area"). CONVENTION (household-sql.ts):
 * percent_rank — (number of scored households of the same ancestor area at that level with a
 * lower score) / (their count − 1), 0 when alone — among every registered household of that area
 * with a score; unknown without a score or without an ancestor at that level.
 */
function percentRank(p: { field?: string; attribute?: string; within_admin_level: number }, h: OracleHousehold, ctx: Context): number | null {
  const lineage = lineageOf(ctx.areas);
  const level = new Map(ctx.areas.map((a) => [a.pcode, a.level]));
  const ancestor = (x: OracleHousehold) => lineage(x.pcode).find((a) => level.get(a) === p.within_admin_level) ?? null;
  const score = (x: OracleHousehold) => operand(x, p).number;
  const mine = score(h);
  const area = ancestor(h);
  if (mine === null || area === null) return null;
  const peers = ctx.households.filter((x) => ancestor(x) === area && score(x) !== null).map(score) as number[];
  if (peers.length <= 1) return 0;
  return peers.filter((x) => x < mine).length / (peers.length - 1);
}

/** Byte order (registry ids and text are ASCII here, where UTF-16 order is byte order). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * README "priority": ordered keys, earlier first. CONVENTION (not in the README): a missing value
 * ranks last whichever the direction; an attribute orders numerically when it looks like a number
 * (numbers first), then as text; the registry id breaks ties (the brief: "registry id as final tie-break").
 */
function priorityComparator(priority: ResponseComponent['households']['priority']): (a: OracleHousehold, b: OracleHousehold) => number {
  return (a, b) => {
    for (const key of priority ?? []) {
      const dir = key.order === 'descending' ? -1 : 1;
      const x = operand(a, key);
      const y = operand(b, key);
      const byNumber = nullsLast(x.number, y.number, (p, q) => dir * (p - q));
      if (byNumber !== 0) return byNumber;
      if ('attribute' in key) {
        const byText = nullsLast(x.text, y.text, (p, q) => dir * cmp(p, q));
        if (byText !== 0) return byText;
      }
    }
    return cmp(a.id, b.id);
  };
}

function nullsLast<T>(x: T | null, y: T | null, compare: (x: T, y: T) => number): number {
  if (x === null && y === null) return 0;
  if (x === null) return 1;
  if (y === null) return -1;
  return Math.sign(compare(x, y));
}

// --------------------------------------------------------------------------------------------
// How much
// --------------------------------------------------------------------------------------------

/** README "benefit": the amount per payment, in cents, or null when it cannot be worked out. */
function amountCents(benefit: Exclude<Benefit, { kind: 'none' }>, h: OracleHousehold, tier: string | null, programme: string): number | null {
  const cents = (x: number) => Math.round(x * 100);
  switch (benefit.kind) {
    case 'flat':
      return cents(benefit.amount);
    case 'by_tier':
      return tier !== null && benefit.amounts[tier] !== undefined ? cents(benefit.amounts[tier]) : null;
    case 'per_member': {
      if (benefit.count_of !== 'size') throw new Error('oracle: per_member of an attribute is not modelled');
      if (h.size === null) return null;
      let members = Math.max(0, h.size);
      if (benefit.max_members !== undefined) members = Math.min(members, benefit.max_members);
      let amount = cents(benefit.base ?? 0) + cents(benefit.amount) * members;
      if (benefit.max_amount !== undefined) amount = Math.min(amount, cents(benefit.max_amount));
      return amount;
    }
    case 'share_of_base':
      // README: percent of the programme's base transfer; to the cent, half away from zero.
      return Math.round(BASE_AMOUNT[benefit.programme ?? programme] * benefit.percent);
    default:
      throw new Error(`oracle: benefit ${benefit.kind} is not modelled`);
  }
}

/** README "requirements": a household failing one whose `otherwise` is exclude is left out with its reason (the others only note). */
function failedRequirement(requirements: ResponseComponent['households']['requirements'], h: OracleHousehold, ctx: Context): string | null {
  for (const r of requirements ?? []) if (r.otherwise === 'exclude' && !holds(r.condition, h, ctx)) return r.reason;
  return null;
}

/** README "overlap": exclusive with a programme — its (active) beneficiaries are not paid by this rule. */
function exclusiveWith(rule: Rule, programme: string, h: OracleHousehold): string | null {
  for (const o of rule.overlap ?? []) {
    if (o.policy === 'exclusive' && o.with.programme && o.with.programme !== programme && enrolled(h, [o.with.programme])) return `exclusive with ${o.with.programme}`;
  }
  return null;
}

/** The programmes' base transfers (the demo programmes of the oracle world). */
const BASE_AMOUNT: Record<string, number> = { CT: 2700, OPG: 2000 };

function unpricedReason(benefit: Benefit): string {
  if (benefit.kind === 'per_member') return 'no amount: no household size';
  if (benefit.kind === 'by_tier') return 'no amount: no amount for the tier';
  return 'no amount: the amount cannot be worked out';
}

// --------------------------------------------------------------------------------------------
// The list
// --------------------------------------------------------------------------------------------

interface Row {
  h: OracleHousehold;
  area: string;
  tier: string | null;
  severity: number;
  amount: number | null;
  reason: string | null;
  rank: number;
  counted: boolean;
  /** Under a footprint with no point (and without_location left_out): not a household of the affected area. */
  outside: boolean;
}

export interface OracleOptions {
  /**
   * README "budget": the rule's envelope is one amount for the rule, so its components draw on it
   * in turn (true, the README's reading), or each list is checked against the whole envelope
   * (false, what the engine does; see known-defects.ts).
   */
  sharedEnvelope?: boolean;
}

export function oracle(input: OracleInput, options: OracleOptions = {}): Expected {
  const spent = { cents: 0, shared: options.sharedEnvelope ?? true };
  const isEventRule = eventTrigger(input.rule) !== null;
  const activations = isEventRule ? footprintActivations(input) : indicatorActivations(input);
  if (activations.length === 0) return { activations, lists: [] };
  const lists: ExpectedList[] = [];
  input.rule.response.forEach((component, index) => {
    const benefit = component.benefit;
    if (component.mode === 'design_tweak' || !benefit || benefit.kind === 'none') return;
    const covered = activations.filter((a) => !component.tiers || (a.tier !== null && component.tiers.includes(a.tier)));
    if (covered.length === 0) return;
    lists.push(oneList(input, index, component, benefit, covered, lists, spent));
  });
  return { activations, lists: lists.length === 0 ? 'no paying component' : lists };
}

function oneList(
  input: OracleInput, index: number, component: ResponseComponent, benefit: Exclude<Benefit, { kind: 'none' }>,
  areas: { pcode: string; tier: string | null }[], earlier: ExpectedList[], spent: { cents: number; shared: boolean },
): ExpectedList {
  const { rule } = input;
  const lineage = lineageOf(input.areas);
  const programme = component.programme ?? rule.programme;
  const who = component.households;
  const severityOf = new Map((rule.tiers ?? []).map((t) => [t.id, t.severity]));
  const footprint = isFootprint(rule) ? selectedParts(input) : null;
  const withoutLocation = who.without_location ?? 'left_out';

  // Matching: the household's admin area is an activated area or below one; under a footprint,
  // its point must be in the 2-D footprint (boundary included).
  const rows: Row[] = [];
  for (const h of input.households) {
    const area = areas.find((a) => lineage(h.pcode).includes(a.pcode));
    if (!area) continue;
    // README "areas.exclude": P-codes left out — a household registered in one (or below one) is not covered.
    if ((rule.areas.exclude ?? []).some((p) => lineage(h.pcode).includes(p))) continue;
    let outside = false;
    if (footprint) {
      if (h.location === null) outside = withoutLocation !== 'by_area';
      else if (!pointIn(h.location, footprint)) continue;
    }
    rows.push({ h, area: area.pcode, tier: area.tier, severity: area.tier === null ? 0 : (severityOf.get(area.tier) ?? 0), amount: null, reason: null, rank: 0, counted: false, outside });
  }

  // Why a household is left out: the first reason that applies, in this order.
  const coverage = component.coverage;
  const basisTotal = (coverage?.kind === 'share' || coverage?.kind === 'households') && coverage.basis === 'total';
  const counting = coverage?.kind === 'share' && coverage.counting_beneficiaries_of ? coverage.counting_beneficiaries_of : [rule.programme];
  const earlierIds = new Set(earlier.flatMap((l) => l.entries.map((e) => e.id)));
  const ctx: Context = { households: input.households, areas: input.areas };
  for (const row of rows) {
    const { h } = row;
    // rules/README: a household without a point under a footprint counts nowhere (not registered, not counted).
    row.counted = basisTotal && enrolled(h, counting) && !row.outside;
    row.amount = amountCents(benefit, h, row.tier, programme);
    if (row.reason !== null) continue;
    if (component.mode === 'vertical' && !enrolled(h, [programme])) row.reason = `not an active ${programme} beneficiary`;
    else if (who.eligibility && !holds(who.eligibility, h, ctx)) row.reason = 'not eligible';
    else if (who.exclude?.current_beneficiaries_of && enrolled(h, who.exclude.current_beneficiaries_of)) row.reason = `current beneficiary of ${who.exclude.current_beneficiaries_of.join(', ')}`;
    else if (who.exclude?.when && holds(who.exclude.when, h, ctx)) row.reason = 'excluded by the rule';
    else if ((row.reason = failedRequirement(who.requirements, h, ctx)) !== null) continue;
    else if ((row.reason = exclusiveWith(rule, programme, h)) !== null) continue;
    else if (earlierIds.has(h.id)) row.reason = 'already on another list of this rule this cycle';
    // Last of the rule's reasons, so that it counts the households that would otherwise be paid.
    else if (row.outside) row.reason = 'no location: the rule pays households inside the footprint';
    else if (row.amount === null) row.reason = unpricedReason(benefit);
  }

  // Rank within the area among those not left out; the area's target and caps.
  const byArea = new Map<string, Row[]>();
  for (const row of rows) byArea.set(row.area, [...(byArea.get(row.area) ?? []), row]);
  const order = priorityComparator(who.priority);
  const limitOf = new Map<string, { target: number | null; limit: number | null }>();
  for (const [pcode, here] of byArea) {
    const candidates = here.filter((r) => r.reason === null).sort((a, b) => order(a.h, b.h));
    candidates.forEach((r, i) => (r.rank = i + 1));
    const registered = here.filter((r) => !r.outside).length;
    const eligible = candidates.length;
    const counted = here.filter((r) => r.counted).length;
    const tier = here[0].tier;
    const lessCounted = (n: number) => (basisTotal ? Math.max(0, n - counted) : n);
    let target: number | null = null;
    if (coverage?.kind === 'share') {
      const figure = typeof coverage.percent === 'number' ? coverage.percent : tier !== null ? (coverage.percent.by_tier[tier] ?? 0) : 0;
      const base = coverage.of === 'eligible_households' ? eligible : registered;
      target = lessCounted(floorPercent(figure, base));
    } else if (coverage?.kind === 'households') {
      const figure = typeof coverage.count === 'number' ? coverage.count : tier !== null ? (coverage.count.by_tier[tier] ?? 0) : 0;
      target = lessCounted(figure);
    }
    const limits = target === null ? [] : [target];
    const cap = component.caps?.per_area;
    if (cap?.percent_of_registered !== undefined) limits.push(lessCounted(floorPercent(cap.percent_of_registered, registered)));
    if (cap?.households !== undefined) limits.push(cap.households);
    const limit = limits.length ? Math.min(...limits) : null;
    limitOf.set(pcode, { target, limit });
    for (const r of candidates) {
      if (target !== null && r.rank > target) r.reason = 'beyond the coverage target';
      else if (limit !== null && r.rank > limit) r.reason = 'beyond the per-area cap';
    }
  }

  // The budget and the overall caps.
  const payments = typeof component.payments?.count === 'number' ? component.payments.count : 1;
  let envelope: number | null = null;
  let perCycle = false;
  if (rule.budget) {
    envelope = Math.round(rule.budget.envelope.amount * 100);
    if (spent.shared) envelope = Math.max(0, envelope - spent.cents);
    perCycle = rule.budget.envelope.per === 'cycle';
  }
  const ruleCost = (amount: number) => amount * (rule.budget?.envelope.per === 'cycle' ? 1 : payments);
  const overall = component.caps?.overall;
  if (overall?.amount !== undefined && (envelope === null || overall.amount * 100 < envelope)) {
    envelope = Math.round(overall.amount * 100);
    perCycle = false;
  }
  const steps = rule.budget?.over_budget ?? ['stop_when_exhausted'];
  const bySeverity = steps[0] === 'fund_most_severe_first';
  const partial = (bySeverity ? steps[1] : steps[0]) ?? 'stop_when_exhausted';
  const valueAllowed = Boolean(rule.budget?.allow_value_reduction);
  const mode = partial === 'reduce_caseload_pro_rata' ? 'pro_rata' : partial === 'reduce_value_pro_rata' && valueAllowed ? 'value' : 'stop';
  const proRataBy = rule.budget?.pro_rata_by ?? 'registered_households';
  const cost = (r: Row) => r.amount! * (perCycle ? 1 : payments);

  const candidates = rows.filter((r) => r.reason === null);
  // Eligible for pro rata: not left out by the rule (those beyond the target or a cap are eligible).
  const eligibleBeforeBudget = new Set(rows.filter((r) => r.reason === null || r.reason.startsWith('beyond')));
  const groupOf = (r: Row) => (bySeverity ? r.severity : 0);
  const groups = [...new Set(candidates.map(groupOf))].sort((a, b) => b - a);
  const kept = new Map<Row, number>(); // row → amount paid (cents)
  let before = 0;
  for (const g of groups) {
    const inGroup = candidates.filter((r) => groupOf(r) === g).sort((a, b) => cmp(a.area, b.area) || a.rank - b.rank);
    const total = inGroup.reduce((s, r) => s + cost(r), 0);
    if (envelope === null || before + total <= envelope) {
      for (const r of inGroup) kept.set(r, r.amount!);
    } else if (before >= envelope) {
      for (const r of inGroup) r.reason = 'over budget';
    } else {
      const remaining = envelope - before;
      if (mode === 'value') {
        // README: the value is reduced only when the rule allows it; each amount × remaining / total, to the cent.
        for (const r of inGroup) kept.set(r, roundRatio(r.amount!, remaining, total));
      } else if (mode === 'pro_rata') {
        // Each area gets the remaining money in proportion to its weight; its households in rank order while it lasts.
        const weight = (pcode: string) => {
          const here = byArea.get(pcode)!;
          if (proRataBy === 'eligible_households') return here.filter((r) => eligibleBeforeBudget.has(r)).length;
          if (proRataBy === 'targeted_households') return inGroup.filter((r) => r.area === pcode).length;
          return here.filter((r) => !r.outside).length;
        };
        const areasHere = [...new Set(inGroup.map((r) => r.area))];
        const weights = new Map(areasHere.map((p) => [p, weight(p)]));
        const totalWeight = [...weights.values()].reduce((s, w) => s + w, 0);
        for (const pcode of areasHere) {
          let spent = 0;
          for (const r of inGroup.filter((x) => x.area === pcode)) {
            spent += cost(r);
            // spent ≤ remaining × weight / totalWeight, in integers
            if (spent * totalWeight <= remaining * weights.get(pcode)!) kept.set(r, r.amount!);
            else r.reason = 'over budget';
          }
        }
      } else {
        // stop_when_exhausted: in order (area P-code, then rank) until the money runs out.
        let spent = 0;
        for (const r of inGroup) {
          spent += cost(r);
          if (spent <= remaining) kept.set(r, r.amount!);
          else r.reason = 'over budget';
        }
      }
    }
    before += total;
  }
  if (overall?.households !== undefined) {
    const inOrder = [...kept.keys()].sort((a, b) => groupOf(b) - groupOf(a) || cmp(a.area, b.area) || a.rank - b.rank);
    for (const r of inOrder.slice(overall.households)) {
      kept.delete(r);
      r.reason = 'beyond the overall cap';
    }
  }

  const entries = [...kept].map(([r, amount]) => ({ id: r.h.id, pcode: r.area, amount: amount / 100, rank: r.rank }))
    .sort((a, b) => cmp(a.pcode, b.pcode) || a.rank - b.rank || cmp(a.id, b.id));
  const excluded: Record<string, number> = {};
  for (const r of rows) if (r.reason !== null && !kept.has(r)) excluded[r.reason] = (excluded[r.reason] ?? 0) + 1;
  const totalCents = [...kept.values()].reduce((s, a) => s + a, 0);
  spent.cents += [...kept.values()].reduce((s, a) => s + ruleCost(a), 0);
  const areaRows = [...byArea.keys()].sort(cmp).map((pcode) => ({
    pcode, registered: byArea.get(pcode)!.filter((r) => !r.outside).length, listed: entries.filter((e) => e.pcode === pcode).length,
  }));
  return { component: index, entries, excluded: sortKeys(excluded), areas: areaRows, households: entries.length, totalAmount: totalCents / 100 };
}

function isFootprint(rule: Rule): boolean {
  return eventTrigger(rule) !== null;
}

/** floor(percent × n / 100), exact for percents with at most one decimal. CONVENTION: the README does not say how a share is rounded; down. */
function floorPercent(percent: number, n: number): number {
  return Math.floor((Math.round(percent * 10) * n) / 1000);
}

/** round(amount × numerator / denominator) to the cent, half away from zero, exactly. */
function roundRatio(amount: number, numerator: number, denominator: number): number {
  const a = BigInt(amount) * BigInt(numerator) * 2n;
  const d = BigInt(denominator);
  return Number((a + d) / (2n * d));
}

export function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => cmp(a, b)));
}

/** What differs between the engine's result and the oracle's, in words (null when they agree). */
export function differences(got: Expected, want: Expected): string | null {
  const out: string[] = [];
  const acts = (e: Expected) => JSON.stringify(e.activations);
  if (acts(got) !== acts(want)) out.push(`activations: engine ${acts(got)}, oracle ${acts(want)}`);
  if (!Array.isArray(got.lists) || !Array.isArray(want.lists)) {
    if (JSON.stringify(got.lists) !== JSON.stringify(want.lists)) out.push(`lists: engine ${JSON.stringify(got.lists)}, oracle ${JSON.stringify(want.lists)}`);
    return out.length ? out.join('\n') : null;
  }
  if (got.lists.length !== want.lists.length) out.push(`number of lists: engine ${got.lists.length}, oracle ${want.lists.length}`);
  for (let i = 0; i < Math.min(got.lists.length, want.lists.length); i++) {
    const g = got.lists[i];
    const w = want.lists[i];
    const key = (e: ExpectedEntry) => `${e.id}@${e.pcode}#${e.rank}=${e.amount}`;
    const gk = new Set(g.entries.map(key));
    const wk = new Set(w.entries.map(key));
    const extra = [...gk].filter((k) => !wk.has(k));
    const missing = [...wk].filter((k) => !gk.has(k));
    if (extra.length) out.push(`list ${i}: engine only (id@area#rank=amount): ${extra.join(' ')}`);
    if (missing.length) out.push(`list ${i}: oracle only (id@area#rank=amount): ${missing.join(' ')}`);
    if (JSON.stringify(g.excluded) !== JSON.stringify(w.excluded)) out.push(`list ${i}: left out: engine ${JSON.stringify(g.excluded)}, oracle ${JSON.stringify(w.excluded)}`);
    if (JSON.stringify(g.areas) !== JSON.stringify(w.areas)) out.push(`list ${i}: areas: engine ${JSON.stringify(g.areas)}, oracle ${JSON.stringify(w.areas)}`);
    if (g.households !== w.households || g.totalAmount !== w.totalAmount) out.push(`list ${i}: totals: engine ${g.households} / ${g.totalAmount}, oracle ${w.households} / ${w.totalAmount}`);
  }
  return out.length ? out.join('\n') : null;
}

/**
 * The event's shapes as they stand (issue 10, item 2; rules/README): a newer episode replaces the
 * shapes of the classes it carries only; a class it does not carry keeps the earlier episode's.
 */
export function standingFootprints(current: FootprintShape[], earlier: FootprintShape[] | undefined): FootprintShape[] {
  if (earlier === undefined) return current;
  const carried = new Set(current.map((f) => f.class));
  return [...current, ...earlier.filter((f) => !carried.has(f.class))];
}
