import { ALERT_LEVELS, type AlertLevel, type HazardEventVersion, type IndicatorValue } from '../feeds/model.ts';
import type { Band, DeclarationCondition, EventCondition, Gate, IndicatorCondition, Rule, TriggerCondition } from './schema.ts';

/**
 * Pure evaluation of one shock rule over a history of indicator values, hazard event versions and
 * manual confirmations, as known at a given instant (`asOf`). No database: the caller passes the
 * history as stored and gets one decision per area of the rule, with the evidence used.
 *
 * Conditions are evaluated with three values: true, false and unknown (no data, or a form this
 * evaluator cannot compute). A stage opens only when its condition is true; `not` of unknown is
 * unknown, so missing data never triggers anything.
 */

export interface EvaluationInput {
  rule: Rule;
  /** ISO date-time: only data known at or before it counts. */
  asOf: string;
  areas: { pcode: string; level: number; parentPcode: string | null }[];
  indicators: (IndicatorValue & { knownAt: string })[];
  events?: (HazardEventVersion & { knownAt: string; affectedPcodes: string[] })[];
  /** Confirmations and declarations known: kind (a gate kind or a declaration kind), where, when. */
  gates?: { kind: string; pcodes: string[] | 'all'; at: string }[];
}

export interface IndicatorEvidence {
  kind: 'indicator';
  /** The trigger id when the condition has one (e.g. `vci`). */
  trigger: string | null;
  /** The series read: the area's P-code, an ancestor's, or a station code. */
  pcode: string;
  indicator: string;
  periodStart: string;
  periodEnd: string;
  value: number;
  status: 'final' | 'forecast';
  source: string;
  knownAt: string;
  /** e.g. `10 ≤ 12.4 < 20 → severe`, `25 ≥ 20 → holds`. */
  test: string;
  holds: boolean;
}

export interface EventEvidence {
  kind: 'event';
  trigger: string | null;
  source: string;
  externalId: string;
  version: string;
  alert: AlertLevel | null;
  knownAt: string;
  test: string;
  holds: boolean;
}

export interface GateEvidence {
  kind: 'gate' | 'declaration';
  /** The gate's name (`kind: by`) or the declaration kinds looked for. */
  name: string;
  satisfied: boolean;
  /** When the matching confirmation/declaration was made, if any. */
  at: string | null;
}

export interface StopEvidence {
  kind: 'stop' | 'scale_down';
  effect: string;
  onlyBefore: string | null;
  text: string;
}

export interface NoteEvidence {
  kind: 'note';
  text: string;
}

export type Evidence = IndicatorEvidence | EventEvidence | GateEvidence | StopEvidence | NoteEvidence;

export interface AreaDecision {
  pcode: string;
  stage: 'none' | 'readiness' | 'activation';
  /** The highest-severity tier that holds (only when activated), null otherwise or without tiers. */
  tier: string | null;
  evidence: Evidence[];
  /** Manual gates not yet satisfied that stand between the area and activation (or readiness). */
  waitingFor: string[];
}

type Truth = boolean | null; // null: unknown
type Area = EvaluationInput['areas'][number];
type StoredValue = EvaluationInput['indicators'][number];
type StoredEvent = NonNullable<EvaluationInput['events']>[number];

interface Context {
  input: EvaluationInput;
  asOfMs: number;
  asOfDate: string;
  area: Area;
  parents: Map<string, string | null>;
  levels: Map<string, number>;
  triggers: Map<string, IndicatorCondition>;
  /** Treat unsatisfied gates as satisfied (to find what activation is waiting for). */
  assumeGates: boolean;
  evidence: Evidence[];
  unsatisfiedGates: string[];
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

export function evaluateRule(input: EvaluationInput): AreaDecision[] {
  const { rule } = input;
  const asOfMs = Date.parse(input.asOf);
  if (Number.isNaN(asOfMs)) throw new Error(`asOf is not an ISO date-time: ${input.asOf}`);
  const asOfDate = input.asOf.slice(0, 10);
  const parents = new Map(input.areas.map((a) => [a.pcode, a.parentPcode]));
  const levels = new Map(input.areas.map((a) => [a.pcode, a.level]));
  const triggers = collectTriggers(rule);

  const selected = input.areas
    .filter((area) => area.level === rule.areas.admin_level)
    .filter((area) => {
      const chain = lineage(area.pcode, parents);
      return rule.areas.within.some((p) => chain.includes(p)) && !(rule.areas.exclude ?? []).some((p) => chain.includes(p));
    })
    .sort((a, b) => (a.pcode < b.pcode ? -1 : a.pcode > b.pcode ? 1 : 0));

  const closed = closedReason(rule, asOfDate);

  return selected.map((area): AreaDecision => {
    if (closed) return { pcode: area.pcode, stage: 'none', tier: null, evidence: [{ kind: 'note', text: closed }], waitingFor: [] };
    const context = (assumeGates = false): Context => ({
      input, asOfMs, asOfDate, area, parents, levels, triggers, assumeGates, evidence: [], unsatisfiedGates: [],
    });
    const main = context();
    const evidence = main.evidence;

    const activation = evaluate(rule.stages.activation.when, main);
    const activationGates = [...main.unsatisfiedGates];
    let readiness: Truth = false;
    let readinessGates: string[] = [];
    if (rule.stages.readiness) {
      main.unsatisfiedGates = [];
      readiness = evaluate(rule.stages.readiness.when, main);
      readinessGates = [...main.unsatisfiedGates];
    }

    // Stop conditions and an explicit scale-down condition close the area for this evaluation.
    let stopped = false;
    for (const stop of rule.stop ?? []) {
      const probe = context();
      if (evaluate(stop.when, probe) === true) {
        stopped = true;
        evidence.push(...probe.evidence, {
          kind: 'stop', effect: stop.effect, onlyBefore: stop.only_before,
          text: `stop condition holds → ${stop.effect}${stop.only_before !== 'any_time' ? ` (only before ${stop.only_before}: the caller must check the activation history)` : ''}${stop.description ? `: ${stop.description}` : ''}`,
        });
      }
    }
    if (rule.scale_down?.when) {
      const probe = context();
      if (evaluate(rule.scale_down.when, probe) === true) {
        if (rule.scale_down.effect === 'drop_to_lower_tier') {
          evidence.push(...probe.evidence, { kind: 'note', text: 'scale_down condition holds with effect drop_to_lower_tier: the tier is re-evaluated from the tiers, the area is not stopped' });
        } else {
          stopped = true;
          evidence.push(...probe.evidence, {
            kind: 'scale_down', effect: rule.scale_down.effect, onlyBefore: null,
            text: `scale_down condition holds → ${rule.scale_down.effect}${rule.scale_down.after_periods ? ` (after_periods ${rule.scale_down.after_periods} is not checked here)` : ''}`,
          });
        }
      }
    }
    if (stopped) return { pcode: area.pcode, stage: 'none', tier: null, evidence: dedupe(evidence), waitingFor: [] };

    if (activation === true) {
      let tier: string | null = null;
      let severity = -Infinity;
      for (const candidate of rule.tiers ?? []) {
        if (evaluate(candidate.when, main) === true && candidate.severity > severity) {
          tier = candidate.id;
          severity = candidate.severity;
        }
      }
      return { pcode: area.pcode, stage: 'activation', tier, evidence: dedupe(evidence), waitingFor: [] };
    }

    const waitingFor: string[] = [];
    if (activationGates.length > 0 && evaluate(rule.stages.activation.when, context(true)) === true) waitingFor.push(...activationGates);
    if (readiness !== true && rule.stages.readiness && readinessGates.length > 0 && evaluate(rule.stages.readiness.when, context(true)) === true) {
      waitingFor.push(...readinessGates);
    }
    return {
      pcode: area.pcode,
      stage: readiness === true ? 'readiness' : 'none',
      tier: null,
      evidence: dedupe(evidence),
      waitingFor: [...new Set(waitingFor)],
    };
  });
}

/** Why the rule cannot trigger at all on this date (not in force, outside its months), or null. */
function closedReason(rule: Rule, asOfDate: string): string | null {
  if (asOfDate < rule.effective.from) return `the rule is in force from ${rule.effective.from}; ${asOfDate} is before`;
  if (rule.effective.to && asOfDate > rule.effective.to) return `the rule was in force until ${rule.effective.to}; ${asOfDate} is after`;
  const months = rule.monitoring?.months;
  const month = Number(asOfDate.slice(5, 7));
  if (months && !months.includes(month)) return `the rule can trigger only in months ${months.join(', ')}; ${asOfDate} is in month ${month}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

function evaluate(condition: TriggerCondition, context: Context): Truth {
  if ('all' in condition) {
    const results = condition.all.map((c) => evaluate(c, context));
    return results.includes(false) ? false : results.includes(null) ? null : true;
  }
  if ('any' in condition) {
    const results = condition.any.map((c) => evaluate(c, context));
    return results.includes(true) ? true : results.includes(null) ? null : false;
  }
  if ('not' in condition) {
    const result = evaluate(condition.not, context);
    return result === null ? null : !result;
  }
  if ('k_of_n' in condition) {
    const results = condition.k_of_n.of.map((c) => evaluate(c, context));
    const yes = results.filter((r) => r === true).length;
    const unknown = results.filter((r) => r === null).length;
    if (yes >= condition.k_of_n.k) return true;
    if (yes + unknown < condition.k_of_n.k) return false;
    return null;
  }
  if ('indicator' in condition) return evaluateIndicator(condition.indicator, context);
  if ('in_band' in condition) return evaluateInBand(condition.in_band.trigger, condition.in_band.bands, context);
  if ('event' in condition) return evaluateEvent(condition.event, context);
  if ('gate' in condition) return evaluateGate(condition.gate, context);
  if ('declaration' in condition) return evaluateDeclaration(condition.declaration, context);
  return null;
}

// --- indicators ------------------------------------------------------------------------------

/** The value evaluated per period: one per period, after the as-of, status and revision rules. */
function series(condition: IndicatorCondition, context: Context): { pcode: string; values: StoredValue[] } | { note: string } {
  const place = seriesPcode(condition, context);
  if ('note' in place) return place;
  const pcode = place.pcode;
  const wanted = condition.status ?? 'final';
  const byPeriod = new Map<string, StoredValue>();
  for (const value of context.input.indicators) {
    if (value.pcode !== pcode || value.indicator !== condition.name || value.source !== condition.source) continue;
    if (Date.parse(value.knownAt) > context.asOfMs) continue; // not yet published
    if (wanted === 'final' && value.status !== 'final') continue;
    if (wanted === 'forecast' && value.status !== 'forecast') continue;
    if (value.status === 'final' && value.periodEnd > context.asOfDate) continue; // period not over yet
    if (value.status === 'forecast' && !withinLead(value, condition)) continue;
    const key = `${value.periodStart}/${value.periodEnd}`;
    const current = byPeriod.get(key);
    if (!current || better(value, current)) byPeriod.set(key, value);
  }
  const values = [...byPeriod.values()].sort((a, b) => (a.periodEnd < b.periodEnd ? -1 : a.periodEnd > b.periodEnd ? 1 : a.periodStart < b.periodStart ? -1 : 1));
  return { pcode, values };
}

/** A final beats a forecast for the same period; among equals, the later-published revision. */
function better(candidate: StoredValue, current: StoredValue): boolean {
  if (candidate.status !== current.status) return candidate.status === 'final';
  return Date.parse(candidate.knownAt) > Date.parse(current.knownAt);
}

/** Lead of a forecast: days from its publication to the start of the period it forecasts. */
function withinLead(value: StoredValue, condition: IndicatorCondition): boolean {
  if (!condition.forecast) return true;
  const lead = (Date.parse(`${value.periodStart}T00:00:00Z`) - Date.parse(`${value.knownAt.slice(0, 10)}T00:00:00Z`)) / 86_400_000;
  if (condition.forecast.min_lead_days !== undefined && lead < condition.forecast.min_lead_days) return false;
  if (condition.forecast.max_lead_days !== undefined && lead > condition.forecast.max_lead_days) return false;
  return true;
}

/** Which series applies to the area: its own P-code, an ancestor at the indicator's level, or a station. */
function seriesPcode(condition: IndicatorCondition, context: Context): { pcode: string } | { note: string } {
  const unit = condition.spatial_unit;
  if ('station' in unit) return { pcode: unit.station };
  if ('point' in unit) return { note: `${condition.name}: a point/radius spatial unit is not evaluated here (no geometry)` };
  if (unit.admin_level === context.area.level) return { pcode: context.area.pcode };
  if (unit.admin_level < context.area.level) {
    const ancestor = lineage(context.area.pcode, context.parents).find((p) => context.levels.get(p) === unit.admin_level);
    if (ancestor) return { pcode: ancestor };
    return { note: `${condition.name}: no ancestor of ${context.area.pcode} at admin level ${unit.admin_level}` };
  }
  return { note: `${condition.name}: values at admin level ${unit.admin_level} would need aggregating to level ${context.area.level}; not done here` };
}

function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** The number compared with the threshold or bands, after `relative_to`; a string says why there is none. */
function compared(condition: IndicatorCondition, values: StoredValue[], index: number): number | string {
  const value = values[index].value;
  const relative = condition.relative_to;
  if (!relative) return value;
  let reference: number;
  if (relative.reference === 'danger_level' && relative.level !== undefined) {
    reference = relative.level;
  } else if (relative.reference === 'previous_period') {
    const previous = values[index - 1];
    if (!previous || nextDay(previous.periodEnd) !== values[index].periodStart) return 'no value for the previous period';
    reference = previous.value;
  } else {
    return `relative_to ${relative.reference} needs a long-term reference that this evaluator does not have`;
  }
  if (relative.as === 'difference') return value - reference;
  if (reference === 0) return 'reference is 0, percent difference undefined';
  return ((value - reference) / Math.abs(reference)) * 100;
}

const OPS = { lt: '<', lte: '≤', gt: '>', gte: '≥' } as const;

function compare(x: number, op: keyof typeof OPS, y: number): boolean {
  return op === 'lt' ? x < y : op === 'lte' ? x <= y : op === 'gt' ? x > y : x >= y;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 1e6) / 1e6);
}

/** The band holding x, with the test in words. */
function bandOf(x: number, bands: Band[], edges: 'min_inclusive' | 'max_inclusive'): { band: Band | null; test: string } {
  for (const band of bands) {
    const lowOk = band.min === undefined || (edges === 'min_inclusive' ? band.min <= x : band.min < x);
    const highOk = band.max === undefined || (edges === 'min_inclusive' ? x < band.max : x <= band.max);
    if (lowOk && highOk) {
      const low = band.min === undefined ? '' : `${fmt(band.min)} ${edges === 'min_inclusive' ? '≤' : '<'} `;
      const high = band.max === undefined ? '' : ` ${edges === 'min_inclusive' ? '<' : '≤'} ${fmt(band.max)}`;
      return { band, test: `${low}${fmt(x)}${high} → ${band.name}` };
    }
  }
  return { band: null, test: `${fmt(x)} is in no band → nothing` };
}

/** Whether one period's value meets the condition, with the test in words; null when it cannot be computed. */
function test(condition: IndicatorCondition, values: StoredValue[], index: number): { holds: Truth; test: string; band: string | null } {
  const x = compared(condition, values, index);
  if (typeof x === 'string') return { holds: null, test: x, band: null };
  const label = condition.relative_to ? `${condition.relative_to.as} vs ${condition.relative_to.reference} ` : '';
  if (condition.threshold) {
    const holds = compare(x, condition.threshold.op, condition.threshold.value);
    return { holds, test: `${label}${fmt(x)} ${OPS[condition.threshold.op]} ${fmt(condition.threshold.value)} → ${holds ? 'holds' : 'does not hold'}`, band: null };
  }
  if (condition.bands) {
    const { band, test: words } = bandOf(x, condition.bands, condition.band_edges ?? 'min_inclusive');
    const triggering = condition.triggering_bands ?? condition.bands.map((b) => b.name);
    const holds = band !== null && triggering.includes(band.name);
    return { holds, test: `${label}${words}${band ? (holds ? ' (triggering)' : ' (not triggering)') : ''}`, band: band?.name ?? null };
  }
  if (condition.probability) {
    const holds = compare(x, condition.probability.op, condition.probability.percent);
    return { holds, test: `P(${condition.probability.of}) ${fmt(x)} % ${OPS[condition.probability.op]} ${fmt(condition.probability.percent)} % → ${holds ? 'holds' : 'does not hold'}`, band: null };
  }
  return { holds: null, test: 'no threshold, bands or probability', band: null };
}

function indicatorEvidence(condition: IndicatorCondition, pcode: string, value: StoredValue, words: string, holds: boolean): IndicatorEvidence {
  return {
    kind: 'indicator', trigger: condition.id ?? null, pcode, indicator: value.indicator, periodStart: value.periodStart,
    periodEnd: value.periodEnd, value: value.value, status: value.status, source: value.source, knownAt: value.knownAt, test: words, holds,
  };
}

function evaluateIndicator(condition: IndicatorCondition, context: Context): Truth {
  const found = series(condition, context);
  if ('note' in found) {
    context.evidence.push({ kind: 'note', text: found.note });
    return null;
  }
  const { pcode, values } = found;
  if (values.length === 0) {
    context.evidence.push({ kind: 'note', text: `no ${condition.name} value from ${condition.source} for ${pcode} known by ${context.input.asOf} (${condition.status ?? 'final'})` });
    return null;
  }
  const needed = condition.persistence?.periods ?? 1;
  // Walk back from the latest period; the condition must hold in `needed` consecutive periods.
  let result: Truth = true;
  for (let k = 0; k < needed; k++) {
    const index = values.length - 1 - k;
    if (index < 0) {
      context.evidence.push({ kind: 'note', text: `${condition.name} for ${pcode}: persistence needs ${needed} consecutive periods, only ${values.length} available` });
      return false;
    }
    if (k > 0 && nextDay(values[index].periodEnd) !== values[index + 1].periodStart) {
      context.evidence.push({ kind: 'note', text: `${condition.name} for ${pcode}: persistence needs ${needed} consecutive periods; no value between ${values[index].periodEnd} and ${values[index + 1].periodStart}` });
      return false;
    }
    const outcome = test(condition, values, index);
    if (outcome.holds === null) {
      context.evidence.push({ kind: 'note', text: `${condition.name} for ${pcode} ${values[index].periodStart}–${values[index].periodEnd}: ${outcome.test}` });
      result = result === false ? false : null;
      continue;
    }
    context.evidence.push(indicatorEvidence(condition, pcode, values[index], outcome.test, outcome.holds));
    if (!outcome.holds) return false;
  }
  return result;
}

function evaluateInBand(trigger: string, bands: string[], context: Context): Truth {
  const condition = context.triggers.get(trigger);
  if (!condition || !condition.bands) {
    context.evidence.push({ kind: 'note', text: `in_band: no indicator trigger "${trigger}" with bands` });
    return null;
  }
  const found = series(condition, context);
  if ('note' in found) {
    context.evidence.push({ kind: 'note', text: found.note });
    return null;
  }
  if (found.values.length === 0) return null;
  const index = found.values.length - 1;
  const outcome = test(condition, found.values, index);
  if (outcome.holds === null) return null;
  const holds = outcome.band !== null && bands.includes(outcome.band);
  context.evidence.push(indicatorEvidence(condition, found.pcode, found.values[index], outcome.test, outcome.holds));
  return holds;
}

// --- events ----------------------------------------------------------------------------------

const rank = (level: AlertLevel | null): number => (level === null ? -1 : ALERT_LEVELS.indexOf(level));

function evaluateEvent(condition: EventCondition, context: Context): Truth {
  const events = (context.input.events ?? []).filter((e) => Date.parse(e.knownAt) <= context.asOfMs);
  // The latest version known of each event; cancelled or superseded events are closed.
  const closed = new Set<string>();
  for (const e of events) for (const id of e.supersedes) closed.add(id);
  const latest = new Map<string, StoredEvent>();
  for (const e of events) {
    if (e.source !== condition.source) continue;
    const key = e.externalId;
    const current = latest.get(key);
    if (!current || e.versionRank > current.versionRank) latest.set(key, e);
  }
  let any = false;
  for (const e of latest.values()) {
    if (closed.has(e.externalId) || e.cancels || e.status !== 'actual' || e.hazard !== condition.hazard) continue;
    if (!affects(e.affectedPcodes, context)) continue;
    const alert = condition.alert_of === 'event' ? e.eventAlertLevel : e.episodeAlertLevel ?? e.eventAlertLevel;
    const reasons: string[] = [];
    let holds = true;
    if (condition.min_alert_level) {
      const ok = rank(alert) >= rank(condition.min_alert_level);
      reasons.push(`alert ${alert ?? 'none'} ${ok ? '≥' : '<'} ${condition.min_alert_level}`);
      holds &&= ok;
    }
    if (condition.intensity) {
      const measure = e.severity.find((s) => s.name === condition.intensity!.measure && s.value !== null);
      const ok = measure !== undefined && compare(measure.value!, condition.intensity.op, condition.intensity.value);
      reasons.push(measure ? `${measure.name} ${fmt(measure.value!)} ${OPS[condition.intensity.op]} ${fmt(condition.intensity.value)} → ${ok ? 'holds' : 'does not hold'}` : `no ${condition.intensity.measure} figure`);
      holds &&= ok;
    }
    if (condition.footprint) {
      const fp = condition.footprint;
      const ok = e.footprints.some((f) => f.class === fp.class && (fp.min_value === undefined || (f.value ?? -Infinity) >= fp.min_value));
      reasons.push(`footprint ${fp.class}${fp.min_value !== undefined ? ` ≥ ${fp.min_value}` : ''} ${ok ? 'present' : 'absent'}`);
      holds &&= ok;
    }
    if (condition.sender) reasons.push('sender not checked');
    context.evidence.push({
      kind: 'event', trigger: condition.id ?? null, source: e.source, externalId: e.externalId, version: e.version, alert, knownAt: e.knownAt,
      test: `${e.hazard} affecting ${context.area.pcode}${reasons.length ? `: ${reasons.join(', ')}` : ''} → ${holds ? 'holds' : 'does not hold'}`, holds,
    });
    any ||= holds;
  }
  return any;
}

/** An affected P-code counts for the area when it is the area, one of its ancestors or one of its descendants. */
function affects(pcodes: string[], context: Context): boolean {
  const own = lineage(context.area.pcode, context.parents);
  return pcodes.some((p) => own.includes(p) || lineage(p, context.parents).includes(context.area.pcode));
}

// --- gates and declarations ------------------------------------------------------------------

export function gateName(gate: Gate): string {
  return `${gate.kind}: ${gate.by}`;
}

/** A confirmation for the area itself, an ancestor, or 'all', known by asOf. */
function matching(kinds: string[], context: Context) {
  const own = lineage(context.area.pcode, context.parents);
  return (context.input.gates ?? [])
    .filter((g) => kinds.includes(g.kind) && Date.parse(g.at) <= context.asOfMs && (g.pcodes === 'all' || g.pcodes.some((p) => own.includes(p))))
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
}

function evaluateGate(gate: Gate, context: Context): Truth {
  const name = gateName(gate);
  const found = matching([gate.kind], context)[0];
  context.evidence.push({ kind: 'gate', name, satisfied: found !== undefined, at: found?.at ?? null });
  if (found) return true;
  context.unsatisfiedGates.push(name);
  return context.assumeGates;
}

function evaluateDeclaration(condition: DeclarationCondition, context: Context): Truth {
  const found = matching(condition.kinds, context).find(
    (d) => condition.valid_days === undefined || Date.parse(d.at) + condition.valid_days * 86_400_000 >= context.asOfMs,
  );
  context.evidence.push({ kind: 'declaration', name: condition.kinds.join(' | '), satisfied: found !== undefined, at: found?.at ?? null });
  if (condition.hazards || condition.issuer) context.evidence.push({ kind: 'note', text: 'declaration hazards/issuer are not checked (the gates input carries neither)' });
  return found !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** The P-code and its ancestors, nearest first (stops on unknown parents and cycles). */
function lineage(pcode: string, parents: Map<string, string | null>): string[] {
  const chain = [pcode];
  let current = parents.get(pcode) ?? null;
  while (current !== null && !chain.includes(current)) {
    chain.push(current);
    current = parents.get(current) ?? null;
  }
  return chain;
}

/** Every indicator trigger with an id, wherever it is in the rule (for `in_band`). */
function collectTriggers(rule: Rule): Map<string, IndicatorCondition> {
  const found = new Map<string, IndicatorCondition>();
  const visit = (condition: TriggerCondition | undefined): void => {
    if (!condition) return;
    if ('all' in condition) condition.all.forEach(visit);
    else if ('any' in condition) condition.any.forEach(visit);
    else if ('not' in condition) visit(condition.not);
    else if ('k_of_n' in condition) condition.k_of_n.of.forEach(visit);
    else if ('indicator' in condition && condition.indicator.id) found.set(condition.indicator.id, condition.indicator);
  };
  visit(rule.stages.activation.when);
  visit(rule.stages.readiness?.when);
  for (const tier of rule.tiers ?? []) visit(tier.when);
  visit(rule.scale_down?.when);
  for (const stop of rule.stop ?? []) visit(stop.when);
  return found;
}

function dedupe(evidence: Evidence[]): Evidence[] {
  const seen = new Set<string>();
  return evidence.filter((e) => {
    const key = JSON.stringify(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
