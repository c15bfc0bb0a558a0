import { lastEnded, nextOccurrence, type SeasonOccurrence, type SeasonRecord } from '../areas/season-calendar.ts';
import { ALERT_LEVELS, type AlertLevel, type HazardEventVersion, type IndicatorValue } from '../feeds/model.ts';
import type { IndicatorCatalogue } from '../feeds/indicator-catalogue.ts';
import { declaredRanges, implausibility, plausibilityChecks, type PlausibilityCheck } from './plausible-range.ts';
import {
  DECLARATION_KINDS, type Band, type DeclarationCondition, type EventCondition, type Gate, type IndicatorCondition, type Rule, type TriggerCondition,
} from './schema.ts';
import { describeSpec, eventExpired, footprintSelected, footprintSpec, type FootprintSpec } from './footprint-spec.ts';

/**
 * Pure evaluation of one shock rule over a history of indicator values, hazard event versions and
 * manual confirmations and declarations, as known at a given instant (`asOf`). No database: the
 * caller passes the history as stored and gets one decision per area of the rule, with the evidence used.
 *
 * Conditions are evaluated with three values: true, false and unknown (no data, or a form this
 * evaluator cannot compute). A stage opens only when its condition is true; `not` of unknown is
 * unknown, so missing data never triggers anything.
 *
 * A backtest calls this once per date over years of history and hundreds of areas, so every call
 * indexes its input once (values by series, events by source, records known by asOf) and reuses
 * each series it builds for all the conditions and probes that read it.
 */

/**
 * A manual confirmation or an official declaration known to the engine.
 * `kind` is a gate kind (coordinator_confirmation, market_check, …) for a confirmation, or a
 * declaration kind (state_of_calamity, official_alert, …) for a declaration.
 */
export interface GateRecord {
  kind: string;
  /** The areas it covers (it also covers everything below them), or the whole country. */
  pcodes: string[] | 'all';
  /** ISO date-time it was made; it counts from then on. */
  at: string;
  /** The record's reference (declaration number, confirmation id), shown in the evidence. */
  id?: string;
  /** Declarations: the hazard declared (a HAZARD_TYPES value). */
  hazard?: string;
  /** Declarations: who issued it. */
  issuer?: string;
  /** YYYY-MM-DD, inclusive: after that day the record no longer counts. */
  validUntil?: string;
}

export interface EvaluationInput {
  rule: Rule;
  /** ISO date-time: only data known at or before it counts. */
  asOf: string;
  /** Admin areas; `iso3` lets a rule name a whole country in `within` or `exclude`. */
  areas: { pcode: string; level: number; parentPcode: string | null; iso3?: string | null }[];
  indicators: (IndicatorValue & { knownAt: string })[];
  /**
   * Event versions. `affectedPcodes`: the areas the event affects when its footprints carry no
   * per-footprint areas (input built by hand); from the store, only the P-codes it names itself,
   * the rest being derived from the footprints' `pcodes`.
   */
  events?: (HazardEventVersion & { knownAt: string; affectedPcodes: string[] })[];
  /** Confirmations and declarations known: kind (a gate kind or a declaration kind), where, when, and details. */
  gates?: GateRecord[];
  /** Season calendars by area (`asp areas seasons`), for the end_of_season aggregation. */
  seasons?: SeasonRecord[];
  /** The indicator catalogue (data/indicators.yaml): a value outside its range is never evidence. */
  catalogue?: IndicatorCatalogue;
}

/** One stored value that went into an aggregate over a window. */
export interface WindowPeriod {
  periodStart: string;
  periodEnd: string;
  value: number;
  status: 'final' | 'forecast';
  knownAt: string;
}

export interface IndicatorEvidence {
  kind: 'indicator';
  /** The trigger id when the condition has one (e.g. `vci`). */
  trigger: string | null;
  /** The series read: the area's P-code, an ancestor's, or a station code. */
  pcode: string;
  indicator: string;
  /** The period the value is for; with a window, from the start of its first period to the end of its last. */
  periodStart: string;
  periodEnd: string;
  /** The value as published, or with a window the aggregate over it (before any `relative_to`). */
  value: number;
  /** `forecast` when the value, or any value of the window, is a forecast. */
  status: 'final' | 'forecast';
  source: string;
  /** When the value was published; with a window, the latest publication among its values. */
  knownAt: string;
  /** e.g. `10 ≤ 12.4 < 20 → severe`, `25 ≥ 20 → holds`. */
  test: string;
  holds: boolean;
  /** With a time aggregation (mean, sum, …): the method and the values of the window, oldest first. */
  window?: { method: string; periods: WindowPeriod[] };
  /** With `relative_to`: the reference value compared against and, for a long-term one, the years it comes from. */
  reference?: { kind: string; value: number; years?: number[] };
  /** A forecast: when the value read was issued, and its lead (whole days from the issue to the period start). */
  issuedAt?: string;
  leadDays?: number;
  /** With end_of_season: the season read, its days that year and the area whose calendar gave it. */
  season?: SeasonOccurrence & { calendarOf: string };
  /** The plausibility checks (rule's and catalogue's ranges) every value read passed. */
  plausibility?: PlausibilityCheck[];
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
  /** The gate's name (`kind: by`) or the declaration kinds looked for (with the hazards, if the rule lists any). */
  name: string;
  satisfied: boolean;
  /** When the matching confirmation/declaration was made, if any. */
  at: string | null;
  /** The matching record's id, if any and if it has one. */
  id: string | null;
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
/**
 * A footprint as read from the store: the leaf areas its selected parts reach (`pcodes`), whether
 * it has any areal part (or the rule buffers it), and the areas it merely touches (for evidence).
 */
type StoredFootprint = StoredEvent['footprints'][number] & { pcodes?: string[]; areal?: boolean; touched?: string[] };
type Status = 'final' | 'forecast' | 'any';

const DAY_MS = 86_400_000;

/** Everything derived from the input once per call and shared by all areas. */
interface Index {
  /** Indicator values known by asOf, by `pcode|indicator|source`, in input order. */
  values: Map<string, StoredValue[]>;
  /** Per-period series already built, per condition, by `pcode|status`. */
  series: Map<IndicatorCondition, Map<string, StoredValue[]>>;
  /** Values left out of those series as implausible, in words, by the same keys. */
  implausible: Map<IndicatorCondition, Map<string, string[]>>;
  /** Long-term references already computed, per condition, by `pcode|periodStart|periodEnd`. */
  references: Map<IndicatorCondition, Map<string, LongTermReference | string>>;
  /** The latest known version of each open, actual event, by source. */
  events: Map<string, StoredEvent[]>;
  /** Confirmations and declarations known by asOf, latest first. */
  records: GateRecord[];
  /** Each P-code with its ancestors, nearest first. */
  lineages: Map<string, string[]>;
  /** Season calendars by P-code. */
  seasons: Map<string, SeasonRecord[]>;
}

interface Context {
  input: EvaluationInput;
  asOfMs: number;
  asOfDate: string;
  area: Area;
  parents: Map<string, string | null>;
  levels: Map<string, number>;
  triggers: Map<string, IndicatorCondition>;
  index: Index;
  /** Which unsatisfied gates to treat as satisfied (to find what activation is waiting for); none normally. */
  assume: (gate: string) => boolean;
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
  const index = buildIndex(input, asOfMs);

  const selected = input.areas
    .filter((area) => area.level === rule.areas.admin_level)
    .filter((area) => {
      const chain = lineage(area.pcode, parents, index.lineages);
      const names = (p: string) => chain.includes(p) || (area.iso3 !== undefined && area.iso3 !== null && p === area.iso3);
      return rule.areas.within.some(names) && !(rule.areas.exclude ?? []).some(names);
    })
    .sort((a, b) => (a.pcode < b.pcode ? -1 : a.pcode > b.pcode ? 1 : 0));

  const closed = closedReason(rule, asOfDate);

  return selected.map((area): AreaDecision => {
    if (closed) return { pcode: area.pcode, stage: 'none', tier: null, evidence: [{ kind: 'note', text: closed }], waitingFor: [] };
    const context = (assume: (gate: string) => boolean = () => false): Context => ({
      input, asOfMs, asOfDate, area, parents, levels, triggers, index, assume, evidence: [], unsatisfiedGates: [],
    });
    /**
     * The unsatisfied gates a stage is waiting for: none when it would not open even with every gate
     * confirmed. A gate the stage can do without (other evidence already holds in its place, as an
     * expert consensus next to a forecast strong enough alone) is left out; when the gates are
     * alternatives to each other, all of them are listed.
     */
    const waitingOn = (when: TriggerCondition, gates: string[]): string[] => {
      const unique = [...new Set(gates)];
      if (unique.length === 0 || evaluate(when, context(() => true)) !== true) return [];
      const needed = unique.filter((name) => evaluate(when, context((gate) => gate !== name)) !== true);
      return evaluate(when, context((gate) => needed.includes(gate))) === true ? needed : unique;
    };
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

    const waitingFor = waitingOn(rule.stages.activation.when, activationGates);
    if (readiness !== true && rule.stages.readiness) waitingFor.push(...waitingOn(rule.stages.readiness.when, readinessGates));
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

/** One pass over the input: what is known by asOf, grouped the way the conditions read it. */
function buildIndex(input: EvaluationInput, asOfMs: number): Index {
  const values = new Map<string, StoredValue[]>();
  for (const value of input.indicators) {
    if (Date.parse(value.knownAt) > asOfMs) continue; // not yet published
    if (value.status === 'forecast' && issueMs(value) > asOfMs) continue; // not yet issued
    const key = seriesKey(value.pcode, value.indicator, value.source);
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }

  // The latest version known of each event; superseded, cancelled and non-actual events never trigger.
  const known = (input.events ?? []).filter((e) => Date.parse(e.knownAt) <= asOfMs);
  const closed = new Set<string>();
  for (const e of known) for (const id of e.supersedes) closed.add(id);
  const versions = new Map<string, StoredEvent[]>();
  for (const e of known) {
    const key = `${e.source}\u0000${e.externalId}`;
    const list = versions.get(key);
    if (list) list.push(e);
    else versions.set(key, [e]);
  }
  const events = new Map<string, StoredEvent[]>();
  for (const list of versions.values()) {
    const e = currentVersion(list);
    if (closed.has(e.externalId) || e.cancels || e.status !== 'actual') continue;
    const bySource = events.get(e.source);
    if (bySource) bySource.push(e);
    else events.set(e.source, [e]);
  }

  const records = (input.gates ?? [])
    .filter((g) => Date.parse(g.at) <= asOfMs)
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at));

  const seasons = new Map<string, SeasonRecord[]>();
  for (const record of input.seasons ?? []) seasons.set(record.pcode, [...(seasons.get(record.pcode) ?? []), record]);

  return { values, series: new Map(), implausible: new Map(), references: new Map(), events, records, lineages: new Map(), seasons };
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

// --- indicators: series ----------------------------------------------------------------------

const seriesKey = (pcode: string, indicator: string, source: string): string => `${pcode}|${indicator}|${source}`;

/** Get a memoised result for a condition, computing it the first time. */
function memo<T>(store: Map<IndicatorCondition, Map<string, T>>, condition: IndicatorCondition, key: string, compute: () => T): T {
  let byKey = store.get(condition);
  if (!byKey) store.set(condition, (byKey = new Map()));
  if (byKey.has(key)) return byKey.get(key)!;
  const result = compute();
  byKey.set(key, result);
  return result;
}

type Series = { pcode: string; values: StoredValue[]; season?: SeasonOccurrence & { calendarOf: string } };

/**
 * The series read for the area: its P-code (or station) and one value per period, oldest first;
 * with end_of_season, up to the value of the period in which the area's season ended.
 */
function series(condition: IndicatorCondition, context: Context): Series | { note: string } {
  const place = seriesPcode(condition, context);
  if ('note' in place) return place;
  const values = periodSeries(condition, place.pcode, condition.status ?? 'final', context);
  if (condition.aggregation?.method !== 'end_of_season') return { pcode: place.pcode, values };
  return seasonSeries(condition, place.pcode, values, context);
}

/**
 * end_of_season: the season read is the latest to have ended by asOf (the one named by
 * `aggregation.season`, else any season of the calendar), from the calendar of the area or of its
 * nearest ancestor with one. Its value is that of the period in which its last day falls (the
 * shortest such period). Once the next occurrence of the season has begun, last season's figure no
 * longer speaks: unknown until the new season ends. No calendar, no such season or no value is
 * unknown, with a note saying which.
 */
function seasonSeries(condition: IndicatorCondition, pcode: string, values: StoredValue[], context: Context): Series | { note: string } {
  const chain = lineage(context.area.pcode, context.parents, context.index.lineages);
  const calendarOf = chain.find((p) => context.index.seasons.has(p));
  if (!calendarOf) {
    return { note: `${condition.name}: end_of_season needs a season calendar for ${context.area.pcode} or an area above it; none is loaded (asp areas seasons FILE)` };
  }
  const calendar = context.index.seasons.get(calendarOf)!;
  const wanted = condition.aggregation?.season;
  const candidates = wanted ? calendar.filter((r) => r.season === wanted) : calendar;
  if (candidates.length === 0) {
    return { note: `${condition.name}: the season calendar of ${calendarOf} has no season "${wanted}" (it has ${calendar.map((r) => r.season).join(', ')})` };
  }
  const ended = candidates
    .map((record) => ({ record, occurrence: lastEnded(record, context.asOfDate) }))
    .sort((a, b) => (a.occurrence.end < b.occurrence.end ? 1 : a.occurrence.end > b.occurrence.end ? -1 : 0))[0];
  const { record, occurrence } = ended;
  const next = nextOccurrence(record, occurrence);
  const days = (o: SeasonOccurrence) => `${o.start}–${o.end}`;
  if (next.start <= context.asOfDate) {
    return { note: `${condition.name} for ${pcode}: season ${record.season} ${days(next)} (calendar of ${calendarOf}) is under way; its end-of-season value comes after ${next.end}` };
  }
  let found = -1;
  values.forEach((v, i) => {
    if (v.periodStart > occurrence.end || v.periodEnd < occurrence.end) return;
    const best = found >= 0 ? values[found] : null;
    if (!best || v.periodEnd < best.periodEnd || (v.periodEnd === best.periodEnd && v.periodStart > best.periodStart)) found = i;
  });
  if (found < 0) {
    return { note: `no ${condition.name} value from ${condition.source} for ${pcode} for the period in which season ${record.season} ${days(occurrence)} (calendar of ${calendarOf}) ended, known by ${context.input.asOf} (${condition.status ?? 'final'})` };
  }
  return { pcode, values: values.slice(0, found + 1), season: { ...occurrence, calendarOf } };
}

/** One value per period after the as-of, status and revision rules, ordered by period. */
function periodSeries(condition: IndicatorCondition, pcode: string, wanted: Status, context: Context): StoredValue[] {
  return memo(context.index.series, condition, `${pcode}|${wanted}`, () => {
    const byPeriod = new Map<string, StoredValue>();
    const ranges = declaredRanges(condition, context.input.catalogue);
    const implausible: string[] = [];
    context.index.implausible.set(condition, (context.index.implausible.get(condition) ?? new Map()).set(`${pcode}|${wanted}`, implausible));
    for (const value of context.index.values.get(seriesKey(pcode, condition.name, condition.source)) ?? []) {
      if (wanted === 'final' && value.status !== 'final') continue;
      if (wanted === 'forecast' && value.status !== 'forecast') continue;
      if (value.status === 'final' && value.periodEnd > context.asOfDate) continue; // period not over yet
      if (value.status === 'forecast' && !(withinLead(value, condition) && forPeriod(value, condition))) continue;
      // A forecast speaks for a period still to come: once its period is over, last season's
      // projection must not keep triggering (a final figure, if any, stands for it).
      if (value.status === 'forecast' && value.periodEnd < context.asOfDate) continue;
      const problem = implausibility(value.value, ranges);
      if (problem) {
        implausible.push(`${value.indicator} for ${value.pcode} ${value.periodStart}–${value.periodEnd} from ${value.source}: ${problem}; not read as evidence`);
        continue;
      }
      const key = `${value.periodStart}/${value.periodEnd}`;
      const current = byPeriod.get(key);
      if (!current || better(value, current)) byPeriod.set(key, value);
    }
    return [...byPeriod.values()].sort((a, b) => (a.periodEnd < b.periodEnd ? -1 : a.periodEnd > b.periodEnd ? 1 : a.periodStart < b.periodStart ? -1 : 1));
  });
}

/**
 * A final beats a forecast for the same period; among forecasts, the latest issue; among equals,
 * the later-published revision.
 */
function better(candidate: StoredValue, current: StoredValue): boolean {
  if (candidate.status !== current.status) return candidate.status === 'final';
  if (candidate.status === 'forecast' && issueMs(candidate) !== issueMs(current)) return issueMs(candidate) > issueMs(current);
  return Date.parse(candidate.knownAt) > Date.parse(current.knownAt);
}

/** When a value was issued: as the source says, else when the engine received it. */
function issuedAt(value: StoredValue): string {
  return value.issuedAt ?? value.knownAt;
}

function issueMs(value: StoredValue): number {
  return Date.parse(issuedAt(value));
}

/** Lead of a forecast: whole days from the day it was issued (UTC) to the start of the period it forecasts. */
function leadDays(value: StoredValue): number {
  return (Date.parse(`${value.periodStart}T00:00:00Z`) - Date.parse(`${issuedAt(value).slice(0, 10)}T00:00:00Z`)) / DAY_MS;
}

function withinLead(value: StoredValue, condition: IndicatorCondition): boolean {
  if (!condition.forecast) return true;
  const lead = leadDays(value);
  if (condition.forecast.min_lead_days !== undefined && lead < condition.forecast.min_lead_days) return false;
  if (condition.forecast.max_lead_days !== undefined && lead > condition.forecast.max_lead_days) return false;
  return true;
}

/** `forecast.for_period`: only the forecasts of a period starting and ending in the named months. */
function forPeriod(value: StoredValue, condition: IndicatorCondition): boolean {
  const wanted = condition.forecast?.for_period;
  if (!wanted) return true;
  return Number(value.periodStart.slice(5, 7)) === wanted.start_month && Number(value.periodEnd.slice(5, 7)) === wanted.end_month;
}

/** Which series applies to the area: its own P-code, an ancestor at the indicator's level, or a station. */
function seriesPcode(condition: IndicatorCondition, context: Context): { pcode: string } | { note: string } {
  const unit = condition.spatial_unit;
  if ('station' in unit) return { pcode: unit.station };
  if ('point' in unit) return { note: `${condition.name}: a point/radius spatial unit is not evaluated here (no geometry)` };
  if (unit.admin_level === context.area.level) return { pcode: context.area.pcode };
  if (unit.admin_level < context.area.level) {
    const ancestor = lineage(context.area.pcode, context.parents, context.index.lineages).find((p) => context.levels.get(p) === unit.admin_level);
    if (ancestor) return { pcode: ancestor };
    return { note: `${condition.name}: no ancestor of ${context.area.pcode} at admin level ${unit.admin_level}` };
  }
  return { note: `${condition.name}: values at admin level ${unit.admin_level} would need aggregating to level ${context.area.level}; not done here` };
}

function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

/** True when the period at `index` starts the day after the one before it ends. */
function followsPrevious(values: StoredValue[], index: number): boolean {
  return index > 0 && nextDay(values[index - 1].periodEnd) === values[index].periodStart;
}

// --- indicators: time aggregation ------------------------------------------------------------

/** The figure for one period: the value as published, or the aggregate of the window ending there. */
interface Reading {
  value: number;
  /** The stored values it comes from, oldest first (one when as published). */
  used: StoredValue[];
  /** The aggregation method when a window was aggregated. */
  method: string | null;
}

const WINDOW_PERIOD = { months: 'monthly', dekads: 'dekadal', days: 'daily' } as const;

/** The reading at `index`, or why there is none (unknown). */
function reading(condition: IndicatorCondition, values: StoredValue[], index: number): Reading | string {
  const aggregation = condition.aggregation;
  // end_of_season: the series was cut at the period in which the season ends (seasonSeries).
  if (!aggregation || aggregation.method === 'as_published' || aggregation.method === 'end_of_season') {
    return { value: values[index].value, used: [values[index]], method: null };
  }
  const method = aggregation.method;
  const window = aggregation.window;
  if (!window) return `aggregation ${method} needs a window (count and unit); none is given`;
  // Only windows counted in the series' own periods: 3 months of monthly values, 6 dekads of dekadal ones.
  if (WINDOW_PERIOD[window.unit] !== condition.period) {
    return `aggregation ${method} over ${window.count} ${window.unit} needs ${WINDOW_PERIOD[window.unit]} values; the indicator's period is ${condition.period}, so it is not computed`;
  }
  const first = index - window.count + 1;
  if (first < 0) {
    return `${method} of ${window.count} ${window.unit} ending ${values[index].periodEnd} needs ${window.count} consecutive periods; only ${index + 1} known`;
  }
  for (let k = first + 1; k <= index; k++) {
    if (!followsPrevious(values, k)) {
      return `${method} of ${window.count} ${window.unit} ending ${values[index].periodEnd} needs consecutive periods; no value between ${values[k - 1].periodEnd} and ${values[k].periodStart}`;
    }
  }
  const used = values.slice(first, index + 1);
  return { value: aggregate(method, used.map((v) => v.value)), used, method };
}

function aggregate(method: 'mean' | 'sum' | 'min' | 'max' | 'median' | 'last', xs: number[]): number {
  switch (method) {
    case 'mean': return xs.reduce((s, x) => s + x, 0) / xs.length;
    case 'sum': return xs.reduce((s, x) => s + x, 0);
    case 'min': return Math.min(...xs);
    case 'max': return Math.max(...xs);
    case 'median': return median(xs);
    case 'last': return xs[xs.length - 1];
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// --- indicators: references (relative_to) ----------------------------------------------------

interface LongTermReference {
  value: number;
  years: number[];
}

/** At least this many years of the same period are needed for a long-term median or mean. */
const MIN_REFERENCE_YEARS = 3;

/**
 * The long-term median or mean of the same period of the year (the same month for monthly
 * values, the same start day MM-DD otherwise) in the baseline years, or in every earlier year.
 * It is computed from final values known by asOf: a reference is a climatology of what was
 * observed, not of past forecasts. With a window, each year contributes its aggregate.
 */
function longTermReference(condition: IndicatorCondition, pcode: string, current: StoredValue, context: Context): LongTermReference | string {
  return memo(context.index.references, condition, `${pcode}|${current.periodStart}|${current.periodEnd}`, () => {
    const relative = condition.relative_to!;
    const history = periodSeries(condition, pcode, 'final', context);
    const monthly = condition.period === 'monthly';
    const periodOfYear = (v: StoredValue): string => (monthly ? v.periodStart.slice(5, 7) : v.periodStart.slice(5, 10));
    const wantedPeriod = periodOfYear(current);
    const year = Number(current.periodStart.slice(0, 4));
    const baseline = relative.baseline;
    const inBaseline = (y: number): boolean => (baseline ? y >= baseline.from_year && y <= baseline.to_year : y < year);
    const byYear = new Map<number, number>();
    for (let i = 0; i < history.length; i++) {
      const y = Number(history[i].periodStart.slice(0, 4));
      if (!inBaseline(y) || byYear.has(y) || periodOfYear(history[i]) !== wantedPeriod) continue;
      const r = reading(condition, history, i);
      if (typeof r !== 'string') byYear.set(y, r.value);
    }
    const years = [...byYear.keys()].sort((a, b) => a - b);
    const what = monthly ? `month ${wantedPeriod}` : `period starting ${wantedPeriod}`;
    const span = baseline ? `baseline years ${baseline.from_year}–${baseline.to_year}` : `years before ${year}`;
    if (years.length < MIN_REFERENCE_YEARS) {
      return `${relative.reference} needs final values for ${what} in at least ${MIN_REFERENCE_YEARS} ${span} known by ${context.input.asOf}; found ${years.length}${years.length ? ` (${years.join(', ')})` : ''}`;
    }
    const xs = years.map((y) => byYear.get(y)!);
    const value = relative.reference === 'long_term_median' ? median(xs) : xs.reduce((s, x) => s + x, 0) / xs.length;
    return { value, years };
  });
}

interface Compared {
  x: number;
  reading: Reading;
  reference: { kind: string; value: number; years?: number[] } | null;
}

/** The number compared with the threshold or bands, after aggregation and `relative_to`; a string says why there is none. */
function compared(condition: IndicatorCondition, pcode: string, values: StoredValue[], index: number, context: Context): Compared | string {
  const current = reading(condition, values, index);
  if (typeof current === 'string') return current;
  const relative = condition.relative_to;
  if (!relative) return { x: current.value, reading: current, reference: null };
  let reference: Compared['reference'];
  if (relative.reference === 'danger_level') {
    if (relative.level === undefined) return 'relative_to danger_level needs the danger "level"';
    reference = { kind: 'danger_level', value: relative.level };
  } else if (relative.reference === 'previous_period') {
    if (!followsPrevious(values, index)) return 'no value for the previous period';
    const previous = reading(condition, values, index - 1);
    if (typeof previous === 'string') return `previous period: ${previous}`;
    reference = { kind: 'previous_period', value: previous.value };
  } else if (relative.reference === 'long_term_median' || relative.reference === 'long_term_mean') {
    const longTerm = longTermReference(condition, pcode, values[index], context);
    if (typeof longTerm === 'string') return longTerm;
    reference = { kind: relative.reference, value: longTerm.value, years: longTerm.years };
  } else {
    return `relative_to return_period_level needs the ${relative.return_period_years ?? '?'}-year level fitted to annual maxima, which this evaluator does not do; state the level as a threshold or a danger_level instead`;
  }
  if (relative.as === 'difference') return { x: current.value - reference.value, reading: current, reference };
  if (reference.value === 0) return 'reference is 0, percent difference undefined';
  return { x: ((current.value - reference.value) / Math.abs(reference.value)) * 100, reading: current, reference };
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

interface Outcome {
  holds: Truth;
  test: string;
  band: string | null;
  compared: Compared | null;
}

/** Whether one period's value meets the condition, with the test in words; holds null when it cannot be computed. */
function test(condition: IndicatorCondition, pcode: string, values: StoredValue[], index: number, context: Context): Outcome {
  const c = compared(condition, pcode, values, index, context);
  if (typeof c === 'string') return { holds: null, test: c, band: null, compared: null };
  const x = c.x;
  // Say how the figure was made before testing it: the window's values, then the reference.
  let label = '';
  if (c.reading.method) label += `${c.reading.method} of ${c.reading.used.length} ${condition.period} values (${c.reading.used.map((v) => fmt(v.value)).join(', ')}) = ${fmt(c.reading.value)}; `;
  if (condition.relative_to) {
    const ref = c.reference;
    const longTerm = ref?.years ? ` ${fmt(ref.value)} (${ref.years.length} years ${ref.years[0]}–${ref.years[ref.years.length - 1]})` : '';
    label += `${condition.relative_to.as} vs ${condition.relative_to.reference}${longTerm} `;
  }
  if (condition.threshold) {
    const holds = compare(x, condition.threshold.op, condition.threshold.value);
    return { holds, test: `${label}${fmt(x)} ${OPS[condition.threshold.op]} ${fmt(condition.threshold.value)} → ${holds ? 'holds' : 'does not hold'}`, band: null, compared: c };
  }
  if (condition.bands) {
    const { band, test: words } = bandOf(x, condition.bands, condition.band_edges ?? 'min_inclusive');
    const triggering = condition.triggering_bands ?? condition.bands.map((b) => b.name);
    const holds = band !== null && triggering.includes(band.name);
    return { holds, test: `${label}${words}${band ? (holds ? ' (triggering)' : ' (not triggering)') : ''}`, band: band?.name ?? null, compared: c };
  }
  if (condition.probability) {
    const holds = compare(x, condition.probability.op, condition.probability.percent);
    return { holds, test: `${label}P(${condition.probability.of}) ${fmt(x)} % ${OPS[condition.probability.op]} ${fmt(condition.probability.percent)} % → ${holds ? 'holds' : 'does not hold'}`, band: null, compared: c };
  }
  return { holds: null, test: 'no threshold, bands or probability', band: null, compared: null };
}

function indicatorEvidence(
  condition: IndicatorCondition, catalogue: IndicatorCatalogue | undefined, pcode: string, c: Compared, words: string, holds: boolean, season?: Series['season'],
): IndicatorEvidence {
  const used = c.reading.used;
  const last = used[used.length - 1];
  const evidence: IndicatorEvidence = {
    kind: 'indicator', trigger: condition.id ?? null, pcode, indicator: last.indicator, periodStart: used[0].periodStart,
    periodEnd: last.periodEnd, value: c.reading.value, status: used.some((v) => v.status === 'forecast') ? 'forecast' : 'final',
    source: last.source, knownAt: used.reduce((latest, v) => (Date.parse(v.knownAt) > Date.parse(latest) ? v.knownAt : latest), last.knownAt),
    test: words, holds,
  };
  const ranges = declaredRanges(condition, catalogue);
  if (ranges.length > 0) evidence.plausibility = plausibilityChecks(last.indicator, ranges, used.length);
  if (c.reading.method) {
    evidence.window = {
      method: c.reading.method,
      periods: used.map((v) => ({ periodStart: v.periodStart, periodEnd: v.periodEnd, value: v.value, status: v.status, knownAt: v.knownAt })),
    };
  }
  if (c.reference) evidence.reference = c.reference;
  if (last.status === 'forecast') {
    evidence.issuedAt = issuedAt(last);
    evidence.leadDays = leadDays(last);
  }
  if (season) evidence.season = season;
  return evidence;
}

function evaluateIndicator(condition: IndicatorCondition, context: Context): Truth {
  const found = series(condition, context);
  if ('note' in found) {
    context.evidence.push({ kind: 'note', text: found.note });
    return null;
  }
  const { pcode, values, season } = found;
  for (const text of context.index.implausible.get(condition)?.get(`${pcode}|${condition.status ?? 'final'}`) ?? []) context.evidence.push({ kind: 'note', text });
  if (values.length === 0) {
    context.evidence.push({ kind: 'note', text: `no ${condition.name} value from ${condition.source} for ${pcode} known by ${context.input.asOf} (${condition.status ?? 'final'})` });
    return null;
  }
  if (condition.forecast?.issued_in_months || condition.forecast?.successive_issues) return evaluateIssues(condition, pcode, values, context);
  const needed = condition.persistence?.periods ?? 1;
  // Walk back from the latest period; the condition must hold in `needed` consecutive periods.
  let result: Truth = true;
  for (let k = 0; k < needed; k++) {
    const index = values.length - 1 - k;
    if (index < 0) {
      context.evidence.push({ kind: 'note', text: `${condition.name} for ${pcode}: persistence needs ${needed} consecutive periods, only ${values.length} available` });
      return false;
    }
    if (k > 0 && !followsPrevious(values, index + 1)) {
      context.evidence.push({ kind: 'note', text: `${condition.name} for ${pcode}: persistence needs ${needed} consecutive periods; no value between ${values[index].periodEnd} and ${values[index + 1].periodStart}` });
      return false;
    }
    const outcome = test(condition, pcode, values, index, context);
    if (outcome.holds === null || outcome.compared === null) {
      context.evidence.push({ kind: 'note', text: `${condition.name} for ${pcode} ${values[index].periodStart}–${values[index].periodEnd}: ${outcome.test}` });
      result = result === false ? false : null;
      continue;
    }
    context.evidence.push(indicatorEvidence(condition, context.input.catalogue, pcode, outcome.compared, seasonWords(season, outcome.test), outcome.holds, season));
    if (!outcome.holds) return false;
  }
  return result;
}

/** The test in words, prefixed with the season read for end_of_season. */
function seasonWords(season: Series['season'], test: string): string {
  return season ? `end of season ${season.season} ${season.start}–${season.end} (calendar of ${season.calendarOf}): ${test}` : test;
}

const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Every issue known of the forecast for one period that the condition may read (its lead window), oldest first. */
function issuesOf(condition: IndicatorCondition, pcode: string, target: StoredValue, context: Context): StoredValue[] {
  return (context.index.values.get(seriesKey(pcode, condition.name, condition.source)) ?? [])
    .filter((v) => v.status === 'forecast' && v.periodStart === target.periodStart && v.periodEnd === target.periodEnd && withinLead(v, condition))
    .sort((a, b) => issueMs(a) - issueMs(b) || Date.parse(a.knownAt) - Date.parse(b.knownAt));
}

/**
 * `forecast.issued_in_months` / `successive_issues`: the forecast for the latest period read must
 * meet the condition in each of the named issues (the latest issue of each named month, by its UTC
 * issue date), or in each of the latest n issues. False when any of them does not; unknown when
 * one is not known yet (a readiness month's issue alone does not open activation).
 */
function evaluateIssues(condition: IndicatorCondition, pcode: string, values: StoredValue[], context: Context): Truth {
  const target = values[values.length - 1];
  const period = `${target.periodStart}–${target.periodEnd}`;
  const issues = issuesOf(condition, pcode, target, context);
  const months = condition.forecast?.issued_in_months;
  const wanted: { label: string; issue: StoredValue | undefined }[] = months
    ? months.map((month) => ({ label: `${MONTH_NAMES[month - 1]} issue`, issue: issues.filter((v) => Number(issuedAt(v).slice(5, 7)) === month).at(-1) }))
    : issues.slice(-condition.forecast!.successive_issues!).map((issue, k, latest) => ({ label: `issue ${k + 1} of the latest ${latest.length}`, issue }));
  let result: Truth = true;
  const unknown = (text: string) => {
    context.evidence.push({ kind: 'note', text });
    if (result === true) result = null;
  };
  const n = condition.forecast?.successive_issues;
  if (n !== undefined && issues.length < n) {
    unknown(`${condition.name} for ${pcode} ${period}: the latest ${n} issues must meet the condition; ${issues.length} known by ${context.input.asOf}`);
  }
  for (const { label, issue } of wanted) {
    if (!issue) {
      unknown(`${condition.name} for ${pcode} ${period}: no forecast issued in ${label.replace(' issue', '')} known by ${context.input.asOf}`);
      continue;
    }
    const index = values.length - 1;
    const withIssue = [...values.slice(0, index), issue];
    const outcome = test(condition, pcode, withIssue, index, context);
    const issued = `${label} of ${issuedAt(issue).slice(0, 10)}`;
    if (outcome.holds === null || outcome.compared === null) {
      unknown(`${condition.name} for ${pcode} ${period}, ${issued}: ${outcome.test}`);
      continue;
    }
    context.evidence.push(indicatorEvidence(condition, context.input.catalogue, pcode, outcome.compared, `${issued}: ${outcome.test}`, outcome.holds));
    if (!outcome.holds) result = false;
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
  const outcome = test(condition, found.pcode, found.values, index, context);
  if (outcome.holds === null || outcome.compared === null) return null;
  const holds = outcome.band !== null && bands.includes(outcome.band);
  context.evidence.push(indicatorEvidence(condition, context.input.catalogue, found.pcode, outcome.compared, seasonWords(found.season, outcome.test), outcome.holds, found.season));
  return holds;
}

// --- events ----------------------------------------------------------------------------------

/**
 * An event as known: its latest version by the source's rank (a shapes-only version only when
 * there is no other), with its shapes as they stand: for each class, those of the latest known
 * version that carries the class (as `event_footprints` does in SQL), whatever order they came in.
 */
function currentVersion(versions: StoredEvent[]): StoredEvent {
  const later = (a: StoredEvent, b: StoredEvent) =>
    a.versionRank !== b.versionRank ? a.versionRank > b.versionRank : Date.parse(a.knownAt) >= Date.parse(b.knownAt);
  let current = versions[0];
  for (const v of versions) {
    const vOnly = Boolean(v.footprintsOnly);
    const cOnly = Boolean(current.footprintsOnly);
    if (vOnly !== cOnly ? !vOnly : later(v, current)) current = v;
  }
  if (versions.length === 1) return current;
  const carrier = new Map<string, StoredEvent>();
  for (const v of versions) {
    for (const cls of new Set(v.footprints.map((f) => f.class))) {
      const best = carrier.get(cls);
      if (!best || later(v, best)) carrier.set(cls, v);
    }
  }
  const footprints = [...carrier.entries()].flatMap(([cls, v]) => v.footprints.filter((f) => f.class === cls));
  return { ...current, footprints };
}

const rank = (level: AlertLevel | null): number => (level === null ? -1 : ALERT_LEVELS.indexOf(level));

function evaluateEvent(condition: EventCondition, context: Context): Truth {
  let any = false;
  const spec = footprintSpec(condition);
  for (const e of context.index.events.get(condition.source) ?? []) {
    if (e.hazard !== condition.hazard) continue;
    const reach = eventReachOf(e, spec, condition.footprint !== undefined);
    if (!affects(reach.pcodes, context)) continue;
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
    if (reach.problem) {
      reasons.push(reach.problem);
      holds = false;
    } else if (condition.footprint) {
      reasons.push(`${describeSpec(spec)} present`);
    }
    const expired = eventExpired(e, condition, context.asOfMs);
    if (expired) {
      reasons.push(expired);
      holds = false;
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

/**
 * The areas an event reaches for a condition: those of the footprints it names (all but a
 * bounding box when it names none) plus, when it names none, the P-codes the event names itself.
 * Only areal footprints (or any, within the rule's buffer) reach anything: the areas a point, a
 * line or a zero-area polygon touches come back for the evidence, with the problem, and the
 * condition does not hold there. Input without per-footprint areas (built by hand) falls back to
 * the event's own list (`affectedPcodes`; from the store, the P-codes the event names itself).
 */
const ANY_FOOTPRINT: FootprintSpec = { class: null, label: null, minValue: null, unit: null };

function eventReachOf(e: StoredEvent, spec: FootprintSpec, named: boolean): { pcodes: string[]; problem: string | null } {
  const footprints = e.footprints as StoredFootprint[];
  if (!named && footprints.length === 0) return { pcodes: e.affectedPcodes, problem: null };
  const selected = footprints.filter((f) => footprintSelected(f, spec));
  // The named shape is absent: the evidence goes to the areas the event reaches at all.
  if (named && selected.length === 0) return { pcodes: eventReachOf(e, ANY_FOOTPRINT, false).pcodes, problem: `${describeSpec(spec)} absent` };
  if (selected.some((f) => f.pcodes === undefined)) return { pcodes: e.affectedPcodes, problem: null };
  const areal = selected.filter((f) => f.areal !== false);
  const own = named ? [] : e.pcodes;
  if (areal.length === 0 && selected.length > 0 && own.length === 0) {
    return {
      pcodes: [...new Set(selected.flatMap((f) => f.touched ?? []))],
      problem: `${describeSpec(spec)} has no area (a point, a line or a zero-area polygon) and the rule gives no buffer_km: it affects nothing`,
    };
  }
  return { pcodes: [...new Set([...areal.flatMap((f) => f.pcodes ?? []), ...own])], problem: null };
}

/** An affected P-code counts for the area when it is the area, one of its ancestors or one of its descendants. */
function affects(pcodes: string[], context: Context): boolean {
  const own = lineage(context.area.pcode, context.parents, context.index.lineages);
  return pcodes.some((p) => own.includes(p) || lineage(p, context.parents, context.index.lineages).includes(context.area.pcode));
}

// --- gates and declarations ------------------------------------------------------------------

export function gateName(gate: Gate): string {
  return `${gate.kind}: ${gate.by}`;
}

/**
 * The record kinds that satisfy a manual gate. A `declaration` gate is satisfied by any official
 * declaration (DECLARATION_KINDS) or a confirmation recorded as `declaration`; every other gate
 * only by a record of exactly its kind (an official alert by `official_alert`, a coordinator's
 * confirmation by `coordinator_confirmation`, …).
 */
export function recordKindsForGate(kind: Gate['kind']): string[] {
  return kind === 'declaration' ? [...DECLARATION_KINDS, 'declaration'] : [kind];
}

/** Records known by asOf of one of the kinds, for the area itself, an ancestor or 'all', latest first. */
function recordsFor(kinds: readonly string[], context: Context): GateRecord[] {
  const own = lineage(context.area.pcode, context.parents, context.index.lineages);
  return context.index.records.filter((r) => kinds.includes(r.kind) && (r.pcodes === 'all' || r.pcodes.some((p) => own.includes(p))));
}

function describeRecord(record: GateRecord): string {
  return `${record.kind}${record.id ? ` ${record.id}` : ''} of ${record.at.slice(0, 10)}`;
}

/** Why a record does not count at asOf whatever it is used for: it has run out. */
function expiry(record: GateRecord, context: Context): string[] {
  return record.validUntil !== undefined && context.asOfDate > record.validUntil ? [`valid until ${record.validUntil}`] : [];
}

/**
 * The latest record without a problem and, when there is none, why each candidate does not count
 * (to be noted, so a coordinator sees that a declaration exists but does not count, and why).
 */
function firstValid(candidates: GateRecord[], problems: (record: GateRecord) => string[]): { found: GateRecord | undefined; rejected: string[] } {
  const rejected: string[] = [];
  for (const record of candidates) {
    const found = problems(record);
    if (found.length === 0) return { found: record, rejected: [] };
    rejected.push(`${describeRecord(record)} does not count: ${found.join('; ')}`);
  }
  return { found: undefined, rejected };
}

function evaluateGate(gate: Gate, context: Context): Truth {
  const name = gateName(gate);
  const { found, rejected } = firstValid(recordsFor(recordKindsForGate(gate.kind), context), (r) => expiry(r, context));
  context.evidence.push({ kind: 'gate', name, satisfied: found !== undefined, at: found?.at ?? null, id: found?.id ?? null });
  for (const text of rejected) context.evidence.push({ kind: 'note', text });
  if (found) return true;
  context.unsatisfiedGates.push(name);
  return context.assume(name);
}

const sameIssuer = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/** The issuers a declaration condition accepts (none: any issuer), as `"A" or "B"` for messages. */
function acceptedIssuers(condition: DeclarationCondition): { issuers: string[]; words: string } {
  const issuers = condition.issuer === undefined ? [] : typeof condition.issuer === 'string' ? [condition.issuer] : condition.issuer;
  return { issuers, words: issuers.map((issuer) => `"${issuer}"`).join(' or ') };
}

function evaluateDeclaration(condition: DeclarationCondition, context: Context): Truth {
  const hazards: readonly string[] | undefined = condition.hazards;
  const { issuers, words: needed } = acceptedIssuers(condition);
  const problems = (record: GateRecord): string[] => {
    const found = expiry(record, context);
    if (condition.valid_days !== undefined) {
      const end = Date.parse(record.at) + condition.valid_days * DAY_MS;
      if (end < context.asOfMs) found.push(`the rule counts a declaration for ${condition.valid_days} days, until ${new Date(end).toISOString().slice(0, 10)}`);
    }
    if (hazards) {
      if (record.hazard == null) found.push(`no hazard recorded; the rule needs ${hazards.join(' or ')}`);
      else if (!hazards.includes(record.hazard)) found.push(`hazard ${record.hazard}; the rule needs ${hazards.join(' or ')}`);
    }
    if (issuers.length > 0 && record.issuer != null && !issuers.some((issuer) => sameIssuer(record.issuer!, issuer))) {
      found.push(`issued by "${record.issuer}"; the rule needs ${needed}`);
    }
    return found;
  };
  const { found, rejected } = firstValid(recordsFor(condition.kinds, context), problems);
  const name = `${condition.kinds.join(' | ')}${hazards ? ` for ${hazards.join(' | ')}` : ''}`;
  context.evidence.push({ kind: 'declaration', name, satisfied: found !== undefined, at: found?.at ?? null, id: found?.id ?? null });
  for (const text of rejected) context.evidence.push({ kind: 'note', text });
  if (found && issuers.length > 0 && found.issuer == null) {
    context.evidence.push({ kind: 'note', text: `${describeRecord(found)}: no issuer recorded, so ${needed} could not be checked` });
  }
  return found !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** The P-code and its ancestors, nearest first (stops on unknown parents and cycles); memoised per call. */
function lineage(pcode: string, parents: Map<string, string | null>, memoised: Map<string, string[]>): string[] {
  const known = memoised.get(pcode);
  if (known) return known;
  const chain = [pcode];
  let current = parents.get(pcode) ?? null;
  while (current !== null && !chain.includes(current)) {
    chain.push(current);
    current = parents.get(current) ?? null;
  }
  memoised.set(pcode, chain);
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
