import { stat } from 'node:fs/promises';
import type { Store } from '../db/store.ts';
import { estimateCost, holdingEvents, type CostEstimate } from './estimate.ts';
import { readRuleHistory } from './evaluation-input.ts';
import { UserError } from '../errors.ts';
import { evaluateRule, type EvaluationInput } from '../rules/evaluate.ts';
import { formatProblem, loadRules, triggerNodes, type UnknownRecord } from '../rules/load.ts';
import type { Rule } from '../rules/schema.ts';

/**
 * Backtest: replays a rule over the stored indicator and event history, period by period, as the
 * live engine would have run it, and counts what it would have triggered and cost.
 *
 * The question is how the rule behaves over history, not when the archive was loaded: every final
 * indicator value counts as known at the end of its period, and an event version at its issue
 * (else valid-from) time, an official declaration on the day it was declared, and every issue of
 * a forecast at its issue time (`issued_at`, which is when the engine received it where the feed
 * did not say): at each period end only the issues made by then count. The stored known_at is
 * ignored. Coordinators' confirmations of manual gates are decisions of the live process, not
 * history: none are replayed.
 */

export type BacktestStep = 'monthly' | 'dekadal' | 'weekly' | 'daily';
export const BACKTEST_STEPS: BacktestStep[] = ['monthly', 'dekadal', 'weekly', 'daily'];

export interface BacktestOptions {
  /** First day (YYYY-MM-DD): the first period end evaluated is on or after it. */
  from: string;
  /** Last day (YYYY-MM-DD): the last period end evaluated is on or before it. */
  to: string;
  /** Default: the rule's monitoring cadence when dekadal, weekly or daily, else monthly. */
  step?: BacktestStep;
  /** Periods estimated so far of all of them (the estimates are what takes time). */
  onProgress?: (periods: number, total: number) => void;
}

/** The history the replay reads: everything stored for the rule's indicators and hazards, and the declarations. */
export type History = Pick<EvaluationInput, 'areas' | 'indicators' | 'events' | 'gates' | 'seasons'>;

export interface AreaTier {
  pcode: string;
  tier: string | null;
  /** The events that hold there (`source:externalId`), whose footprints select the households. */
  events?: string[];
}

/** What the rule decided at one period end, after episodes and cool-down. */
export interface ReplayPeriod {
  periodEnd: string;
  /** Areas in activation (an open episode), with the tier of this period. */
  activation: AreaTier[];
  readiness: string[];
  /** Areas that opened an episode at this period end. */
  newEpisodes: string[];
  /** Areas whose episode ended: in activation at the previous period end, not at this one. */
  ended: string[];
  /** Areas the rule put in activation that could not open an episode yet (cool_down). */
  heldByCoolDown: string[];
  /** Areas whose activation waits for a manual gate (confirmations are not replayed). */
  waitingForGates: string[];
}

/** One area's activation episode: from the period end it opened to the last one it was active. */
export interface AreaEpisode {
  pcode: string;
  start: string;
  end: string;
  periods: number;
  /** Periods spent in each tier (key `activated` when the rule has no tiers). */
  tiers: Record<string, number>;
  /** Still in activation at the last period end evaluated. */
  ongoing: boolean;
}

export interface Replay {
  /** Every area the rule covers. */
  areas: string[];
  periods: ReplayPeriod[];
  episodes: AreaEpisode[];
}

/**
 * Replays the rule over the period ends, in memory: an area opens an episode when it reaches
 * activation (unless cooling down), keeps it while it stays in activation (the tier may change)
 * and closes it at the first period end it is no longer in activation. As in the live engine
 * (src/engine/activations.ts), `cool_down` runs from that period end for its days, or for its
 * periods × the days of one monitoring period (a month counts as 30 days): the area can open
 * again at a period end on or after that day.
 */
export function replayRule(rule: Rule, history: History, periodEnds: string[]): Replay {
  const open = new Map<string, AreaEpisode>();
  const coolDays = coolDownDays(rule);
  const blockedUntil = new Map<string, string>(); // area → first day it may open again
  const episodes: AreaEpisode[] = [];
  const periods: ReplayPeriod[] = [];
  let areas: string[] = [];

  for (const periodEnd of periodEnds) {
    const decisions = evaluateRule({ rule, asOf: endOfDay(periodEnd), ...history });
    areas = decisions.map((d) => d.pcode);
    const period: ReplayPeriod = {
      periodEnd, activation: [], readiness: [], newEpisodes: [], ended: [], heldByCoolDown: [], waitingForGates: [],
    };
    for (const decision of decisions) {
      const { pcode } = decision;
      const episode = open.get(pcode);
      if (decision.stage === 'activation') {
        if (episode) {
          episode.end = periodEnd;
          episode.periods++;
        } else if (periodEnd < (blockedUntil.get(pcode) ?? '')) {
          period.heldByCoolDown.push(pcode);
          continue;
        } else {
          const opened: AreaEpisode = { pcode, start: periodEnd, end: periodEnd, periods: 1, tiers: {}, ongoing: false };
          open.set(pcode, opened);
          episodes.push(opened);
          period.newEpisodes.push(pcode);
        }
        const current = open.get(pcode)!;
        const tier = decision.tier ?? 'activated';
        current.tiers[tier] = (current.tiers[tier] ?? 0) + 1;
        const events = holdingEvents(decision);
        period.activation.push(events.length ? { pcode, tier: decision.tier, events } : { pcode, tier: decision.tier });
        continue;
      }
      if (episode) {
        open.delete(pcode);
        period.ended.push(pcode);
        if (coolDays > 0) blockedUntil.set(pcode, addDays(periodEnd, coolDays));
      }
      if (decision.stage === 'readiness') period.readiness.push(pcode);
      if (decision.waitingFor.length > 0) period.waitingForGates.push(pcode);
    }
    periods.push(period);
  }
  for (const episode of open.values()) episode.ongoing = true;
  return { areas, periods, episodes };
}

/** The cool-down in days, as the live engine counts it: `days`, or `periods` × the days of one monitoring period. */
export function coolDownDays(rule: Rule): number {
  const coolDown = rule.cool_down;
  if (!coolDown) return 0;
  if (coolDown.days) return coolDown.days;
  const cadence = rule.monitoring?.cadence;
  const periodDays = cadence === 'daily' ? 1 : cadence === 'weekly' ? 7 : cadence === 'dekadal' ? 10 : cadence === 'seasonal' ? 91 : 30;
  return (coolDown.periods ?? 0) * periodDays;
}

/** A run of consecutive period ends with at least one area in activation. */
export interface Shock {
  start: string;
  end: string;
  periods: number;
  /** Every area in activation at some period end of the shock. */
  areas: string[];
  /** The most areas in activation at one period end. */
  peakAreas: number;
  peakHouseholds: number;
  cost: number;
  ongoing: boolean;
}

/**
 * Shocks: a shock starts at a period end where at least one area is in activation and none was at
 * the previous period end (or it is the first one evaluated), and lasts while any area stays in
 * activation. Areas that join a running shock add to it; they do not start another.
 */
export function shocksOf(periods: (ReplayPeriod & { households?: number; cost?: number })[]): Shock[] {
  const shocks: Shock[] = [];
  const areas: Set<string>[] = [];
  periods.forEach((period, index) => {
    if (period.activation.length === 0) return;
    if (index === 0 || periods[index - 1].activation.length === 0) {
      shocks.push({ start: period.periodEnd, end: period.periodEnd, periods: 0, areas: [], peakAreas: 0, peakHouseholds: 0, cost: 0, ongoing: false });
      areas.push(new Set());
    }
    const shock = shocks[shocks.length - 1];
    shock.end = period.periodEnd;
    shock.periods++;
    shock.peakAreas = Math.max(shock.peakAreas, period.activation.length);
    shock.peakHouseholds = Math.max(shock.peakHouseholds, period.households ?? 0);
    shock.cost += period.cost ?? 0;
    shock.ongoing = index === periods.length - 1;
    for (const { pcode } of period.activation) areas[areas.length - 1].add(pcode);
  });
  return shocks.map((shock, i) => ({ ...shock, cost: round(shock.cost, 2), areas: [...areas[i]].sort() }));
}

// ---------------------------------------------------------------------------------------------
// Period ends
// ---------------------------------------------------------------------------------------------

/** The step the rule is watched at: its cadence when dekadal, weekly or daily, else monthly. */
export function defaultStep(rule: Rule): BacktestStep {
  const cadence = rule.monitoring?.cadence;
  return cadence === 'dekadal' || cadence === 'weekly' || cadence === 'daily' ? cadence : 'monthly';
}

/**
 * Every period end from `from` to `to` (inclusive): month ends; dekad ends (the 10th, the 20th
 * and the month end); Sundays (weeks run Monday–Sunday, as ISO weeks); or every day.
 */
export function periodEnds(from: string, to: string, step: BacktestStep): string[] {
  const ends: string[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const d = new Date(`${day}T00:00:00Z`);
    const monthEnd = addDays(day, 1).slice(8, 10) === '01';
    const isEnd =
      step === 'daily' ||
      (step === 'weekly' && d.getUTCDay() === 0) ||
      (step === 'monthly' && monthEnd) ||
      (step === 'dekadal' && (monthEnd || d.getUTCDate() === 10 || d.getUTCDate() === 20));
    if (isEnd) ends.push(day);
  }
  return ends;
}

// ---------------------------------------------------------------------------------------------
// The backtest
// ---------------------------------------------------------------------------------------------

export interface BacktestPeriod extends ReplayPeriod {
  /** Households reached in the areas in activation, at today's registry. */
  households: number;
  /** What this period end commits: see `BacktestReport.notes`. */
  cost: number;
}

export interface AreaShare {
  pcode: string;
  periodsInActivation: number;
  /** periodsInActivation / periods evaluated. */
  share: number;
  episodes: number;
  /** Periods in activation per tier. */
  tiers: Record<string, number>;
}

export interface BacktestReport {
  rule: {
    id: string;
    title: string;
    hash: string;
    /** A rule file, or the stored approved version, or the stored latest draft. */
    origin: 'file' | 'approved' | 'draft';
    file: string | null;
    /** The rule's tier ids, most severe first. */
    tiers: string[];
  };
  from: string;
  to: string;
  step: BacktestStep;
  /** How the replay reads the history and counts; say these with any figure quoted. */
  notes: string[];
  periods: BacktestPeriod[];
  episodes: AreaEpisode[];
  shocks: Shock[];
  areas: AreaShare[];
  summary: {
    periodsEvaluated: number;
    periodsWithActivation: number;
    /** Area episodes (one area, one continuous activation). */
    areaEpisodes: number;
    shocks: number;
    /** (to − from + 1 day) / 365.25. */
    years: number;
    shocksPerYear: number;
    /** years / shocks; null without a shock. */
    returnPeriodYears: number | null;
    currency: string | null;
    totalCost: number;
    meanCostPerShock: number | null;
    peakHouseholds: number;
    peakPeriod: string | null;
  };
}

/** The most period ends one backtest evaluates (ten years of days is 3,653). */
const MAX_PERIODS = 4000;

/**
 * Backtests a rule file (a draft, before it is approved) or a stored rule id (its approved
 * version, else its latest draft) over `from` … `to`.
 *
 * ```ts
 * const report = await backtestRule(store, 'rules/demo/xd-ct-vci-drought.yaml', { from: '2016-01-01', to: '2026-10-31' })
 * ```
 */
export async function backtestRule(store: Store, ruleRef: string, options: BacktestOptions): Promise<BacktestReport> {
  for (const [name, value] of [['--from', options.from], ['--to', options.to]] as const) {
    if (!isDate(value)) throw new UserError(`${name} ${value}: not a date (use YYYY-MM-DD)`);
  }
  if (options.from > options.to) throw new UserError(`--from ${options.from} is after --to ${options.to}`);
  if (options.step && !BACKTEST_STEPS.includes(options.step)) {
    throw new UserError(`--step ${options.step}: use one of ${BACKTEST_STEPS.join(', ')}`);
  }
  const resolved = await resolveRule(store, ruleRef);
  const step = options.step ?? defaultStep(resolved.rule);
  const ends = periodEnds(options.from, options.to, step);
  if (ends.length === 0) throw new UserError(`no ${step} period ends between ${options.from} and ${options.to}`);
  if (ends.length > MAX_PERIODS) throw new UserError(`${ends.length} ${step} periods is too many for one backtest (at most ${MAX_PERIODS}); shorten the range or use a longer step`);

  // The rule is replayed as if in force throughout: a draft is backtested before its start date.
  const rule: Rule = { ...resolved.rule, effective: { from: '0001-01-01' } };
  const history = await loadHistory(store, rule);
  const replay = replayRule(rule, history, ends);

  // One estimate per distinct set of areas and tiers: the same set recurs month after month.
  const cache = new Map<string, Promise<CostEstimate>>();
  const estimateFor = (areas: AreaTier[]) => {
    const key = areas.map((a) => `${a.pcode}:${a.tier ?? ''}:${(a.events ?? []).join('+')}`).sort().join(',');
    if (!cache.has(key)) cache.set(key, estimateCost(store, resolved.rule, areas));
    return cache.get(key)!;
  };
  let currency: string | null = null;
  let paymentsWord: CostEstimate['payments'] | null = null;
  const { cycles, frequency } = paymentCycles(resolved.rule, step);
  const estimateNotes = new Set<string>();
  const periods: BacktestPeriod[] = [];
  for (const period of replay.periods) {
    options.onProgress?.(periods.length, replay.periods.length);
    if (period.activation.length === 0) {
      periods.push({ ...period, households: 0, cost: 0 });
      continue;
    }
    const estimate = await estimateFor(period.activation);
    currency ??= estimate.currency;
    paymentsWord ??= estimate.payments;
    for (const note of estimate.notes) estimateNotes.add(note);
    periods.push({ ...period, households: estimate.households, cost: periodCost(estimate, period.newEpisodes, cycles) });
  }

  options.onProgress?.(periods.length, replay.periods.length);
  const shocks = shocksOf(periods);
  const years = (Date.parse(`${options.to}T00:00:00Z`) - Date.parse(`${options.from}T00:00:00Z`) + 86_400_000) / (365.25 * 86_400_000);
  const totalCost = round(periods.reduce((sum, p) => sum + p.cost, 0), 2);
  const peak = periods.reduce<BacktestPeriod | null>((best, p) => (p.households > (best?.households ?? 0) ? p : best), null);

  return {
    rule: {
      id: rule.id, title: rule.title, hash: resolved.hash, origin: resolved.origin, file: resolved.file,
      tiers: [...(rule.tiers ?? [])].sort((a, b) => b.severity - a.severity).map((t) => t.id),
    },
    from: options.from,
    to: options.to,
    step,
    notes: backtestNotes(resolved.rule, step, paymentsWord, { cycles, frequency }, [...estimateNotes]),
    periods,
    episodes: replay.episodes,
    shocks,
    areas: areaShares(replay),
    summary: {
      periodsEvaluated: periods.length,
      periodsWithActivation: periods.filter((p) => p.activation.length > 0).length,
      areaEpisodes: replay.episodes.length,
      shocks: shocks.length,
      years: round(years, 2),
      shocksPerYear: round(shocks.length / years, 2),
      returnPeriodYears: shocks.length > 0 ? round(years / shocks.length, 2) : null,
      currency,
      totalCost,
      meanCostPerShock: shocks.length > 0 ? round(totalCost / shocks.length, 2) : null,
      peakHouseholds: peak?.households ?? 0,
      peakPeriod: peak?.periodEnd ?? null,
    },
  };
}

/**
 * While triggered, every period end in activation pays the areas in activation for the period's
 * length (one payment cycle when the step and the payments are both monthly); with a fixed number
 * of payments, an area's whole schedule is committed when its episode opens.
 */
function periodCost(estimate: CostEstimate, newEpisodes: string[], cyclesPerPeriod: number): number {
  if (estimate.payments === 'while_triggered') return round(estimate.costPerPayment * cyclesPerPeriod, 2);
  return estimate.areas.filter((a) => newEpisodes.includes(a.pcode)).reduce((sum, a) => sum + a.cost, 0);
}

const DAYS: Record<string, number> = {
  daily: 1, weekly: 7, fortnightly: 14, dekadal: 365.25 / 36, monthly: 365.25 / 12, bimonthly: 365.25 / 6, quarterly: 365.25 / 4,
};

/** Payment cycles per period end while triggered: the step over the payment interval (1/3 with dekads and monthly payments). */
function paymentCycles(rule: Rule, step: BacktestStep): { cycles: number; frequency: string | null } {
  const frequencies = new Set(
    rule.response.filter((c) => c.mode !== 'design_tweak' && c.benefit && c.benefit.kind !== 'none').map((c) => c.payments?.frequency ?? null),
  );
  const [frequency] = [...frequencies];
  if (frequencies.size !== 1 || !frequency || !DAYS[frequency]) return { cycles: 1, frequency: null };
  return { cycles: DAYS[step] / DAYS[frequency], frequency };
}

function backtestNotes(
  rule: Rule, step: BacktestStep, payments: CostEstimate['payments'] | null, paying: { cycles: number; frequency: string | null }, estimateNotes: string[],
): string[] {
  const perPeriod = paying.cycles === 1
    ? 'one payment cycle'
    : `${round(paying.cycles, 3)} of a payment cycle (${step} period ends, ${paying.frequency} payments)`;
  const notes = [
    `replayed at every ${step} period end, as of the end of that day; every final indicator value counts as known at the end of its period, every forecast issue at its issue time (issued_at; when the engine received it where the feed did not say) and an event version at its issue (else valid-from) time: the stored known_at (when the archive was loaded) is ignored`,
    `the rule is replayed as if in force throughout (its effective dates, from ${rule.effective.from}${rule.effective.to ? ` to ${rule.effective.to}` : ''}, are ignored)${rule.monitoring?.months ? `; its monitoring months (${rule.monitoring.months.join(', ')}) are kept` : ''}`,
    'an area episode opens at the period end an area reaches activation, stays open while the area stays in activation (its tier may change) and ends at the first period end it is not; '
      + (rule.cool_down
        ? `cool_down ${rule.cool_down.days ? `${rule.cool_down.days} day(s)` : `${rule.cool_down.periods} period(s) = ${coolDownDays(rule)} days (as the live engine counts a period)`} runs from that period end: the area can open again only at a period end at least that many days later`
        : 'the rule has no cool_down'),
    'a shock starts at a period end where at least one area is in activation and none was at the previous period end (or at the first period end evaluated) and lasts while any area stays in activation; frequency per year = shocks / years from --from to --to; return period = years / shocks',
    'households and cost are at today\'s registry and today\'s enrolments, not the registry of the time',
    payments === 0
      ? 'cost: the response pays nothing'
      : payments === null || payments === 'while_triggered'
      ? `cost: payments while triggered: each period end in activation pays every area in activation ${perPeriod}${paying.frequency ? '' : ' (the response does not give one payment frequency)'}`
      : `cost: the rule pays ${payments} payment(s) per activation; an area's whole schedule is counted at the period end its episode opens`,
  ];
  const gated = triggerNodes(rule as unknown as UnknownRecord).some(({ node }) => 'gate' in node || 'declaration' in node);
  if (gated) notes.push('official declarations are replayed from the day declared; coordinators\' confirmations of manual gates are not (none count as given): areas waiting for one are counted as waiting, not activated');
  return [...notes, ...estimateNotes];
}

function areaShares(replay: Replay): AreaShare[] {
  const shares = new Map(replay.areas.map((pcode): [string, AreaShare] => [pcode, { pcode, periodsInActivation: 0, share: 0, episodes: 0, tiers: {} }]));
  for (const episode of replay.episodes) {
    const share = shares.get(episode.pcode)!;
    share.episodes++;
    share.periodsInActivation += episode.periods;
    for (const [tier, n] of Object.entries(episode.tiers)) share.tiers[tier] = (share.tiers[tier] ?? 0) + n;
  }
  return [...shares.values()]
    .map((s) => ({ ...s, share: round(s.periodsInActivation / replay.periods.length, 4) }))
    .sort((a, b) => b.periodsInActivation - a.periodsInActivation || (a.pcode < b.pcode ? -1 : 1));
}

// ---------------------------------------------------------------------------------------------
// The rule and its history
// ---------------------------------------------------------------------------------------------

/** A rule file when RULE names one, else the stored rule with that id (approved, else latest draft). */
async function resolveRule(store: Store, ruleRef: string): Promise<{ rule: Rule; hash: string; origin: 'file' | 'approved' | 'draft'; file: string | null }> {
  const isFile = await stat(ruleRef).then((s) => s.isFile(), () => false);
  if (isFile) {
    const { rules, problems } = await loadRules(ruleRef);
    if (problems.length > 0) throw new UserError(`${ruleRef}: the rule has problems`, problems.map(formatProblem));
    if (rules.length !== 1) throw new UserError(`${ruleRef}: give one rule file (found ${rules.length} rules)`);
    return { rule: rules[0].rule, hash: rules[0].hash, origin: 'file', file: ruleRef };
  }
  if (/[/\\]|\.ya?ml$/i.test(ruleRef)) throw new UserError(`${ruleRef}: no such rule file`);
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ definition: Rule; hash: string; status: 'approved' | 'draft'; file: string }>(
      `SELECT definition, hash, status, file FROM rule_versions
        WHERE rule_id = $1 AND status IN ('approved', 'draft')
        ORDER BY (status = 'approved') DESC, created_at DESC, id DESC LIMIT 1`,
      [ruleRef],
    ),
  );
  if (rows.length === 0) throw new UserError(`${ruleRef}: neither a rule file nor a stored rule with an approved or draft version (asp rules list)`);
  const [version] = rows;
  return { rule: version.definition, hash: version.hash, origin: version.status, file: version.file };
}

/** Everything stored for the rule's indicators and hazards, read once, known as a backtest counts it. */
export async function loadHistory(store: Store, rule: Rule): Promise<History> {
  return readRuleHistory(store, rule, { backtest: true });
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/** The report as fixed-width text: the periods with anything to show, the shocks, the areas, the summary. */
export function backtestLines(report: BacktestReport): string[] {
  const { summary } = report;
  const money = (x: number) => `${Math.round(x).toLocaleString('en-US')}${summary.currency ? ` ${summary.currency}` : ''}`;
  const count = (x: number) => x.toLocaleString('en-US');
  // Most severe first; `activated` (a rule without tiers) last.
  const rank = (tier: string) => (report.rule.tiers.includes(tier) ? report.rule.tiers.indexOf(tier) : report.rule.tiers.length);
  const tierOrder = (tiers: string[]) => [...new Set(tiers)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  const byTier = (areas: AreaTier[]) => {
    const counts = new Map<string, number>();
    for (const a of areas) counts.set(a.tier ?? 'activated', (counts.get(a.tier ?? 'activated') ?? 0) + 1);
    return tierOrder([...counts.keys()]).map((t) => `${counts.get(t)} ${t}`).join(', ');
  };
  const lines = [
    `backtest of ${report.rule.id} (${report.rule.origin === 'file' ? report.rule.file : `stored ${report.rule.origin} version`}, ${report.rule.hash.slice(0, 12)})`,
    `${report.from} … ${report.to}, ${summary.periodsEvaluated} ${report.step} period ends`,
    '',
  ];
  const shown = report.periods.filter((p) => p.activation.length + p.readiness.length + p.ended.length + p.heldByCoolDown.length + p.waitingForGates.length > 0);
  // Only a rule with manual gates has areas waiting: the column is left out otherwise.
  const waiting = shown.some((p) => p.waitingForGates.length > 0);
  const dash = (xs: unknown[]) => (xs.length ? String(xs.length) : '-');
  lines.push(...table(
    ['period end', 'in activation', 'new episodes', 'ended', 'readiness', 'held (cool-down)', ...(waiting ? ['waiting (gate)'] : []), 'households', 'cost'],
    shown.map((p) => [
      p.periodEnd,
      p.activation.length ? `${p.activation.length}${p.activation.some((a) => a.tier) ? ` (${byTier(p.activation)})` : ''}` : '-',
      dash(p.newEpisodes),
      dash(p.ended),
      dash(p.readiness),
      dash(p.heldByCoolDown),
      ...(waiting ? [dash(p.waitingForGates)] : []),
      p.households ? count(p.households) : '-',
      p.cost ? money(p.cost) : '-',
    ]),
    [false, false, true, true, true, true, ...(waiting ? [true] : []), true, true],
  ));
  lines.push(`(${summary.periodsEvaluated - shown.length} period end(s) with nothing to show are left out)`, '');

  lines.push('shocks', ...table(
    ['#', 'start', 'end', 'periods', 'areas', 'peak areas', 'peak households', 'cost'],
    report.shocks.map((s, i) => [
      String(i + 1), s.start, s.ongoing ? `${s.end} (ongoing)` : s.end, String(s.periods), String(s.areas.length),
      String(s.peakAreas), count(s.peakHouseholds), money(s.cost),
    ]),
    [true, false, false, true, true, true, true, true],
  ), '');

  const tiers = tierOrder(report.areas.flatMap((a) => Object.keys(a.tiers)));
  const triggered = report.areas.filter((a) => a.periodsInActivation > 0);
  const never = report.areas.filter((a) => a.periodsInActivation === 0).map((a) => a.pcode);
  lines.push('areas (share of period ends in activation)', ...table(
    ['area', 'periods', 'share', 'episodes', ...tiers],
    triggered.map((a) => [a.pcode, String(a.periodsInActivation), `${(a.share * 100).toFixed(1)} %`, String(a.episodes), ...tiers.map((t) => String(a.tiers[t] ?? 0))]),
    [false, true, true, true, ...tiers.map(() => true)],
  ));
  if (never.length) lines.push(`(${never.length} area(s) never in activation${never.length <= 30 ? `: ${never.join(', ')}` : ''})`);
  lines.push('');

  lines.push(
    `period ends evaluated: ${summary.periodsEvaluated}; with any area in activation: ${summary.periodsWithActivation}`,
    `area episodes: ${summary.areaEpisodes}; shocks: ${summary.shocks} in ${summary.years} years → ${summary.shocksPerYear} per year, return period ${summary.returnPeriodYears ?? '–'} years`,
    `cost: total ${money(summary.totalCost)}, mean per shock ${summary.meanCostPerShock === null ? '–' : money(summary.meanCostPerShock)}; peak households ${count(summary.peakHouseholds)}${summary.peakPeriod ? ` (${summary.peakPeriod})` : ''}`,
    '',
    'notes:',
    ...report.notes.map((n) => `  - ${n}`),
  );
  return lines;
}

/** A fixed-width table: a header, a rule line, the rows; `right` aligns a column to the right. */
function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...(rows.length ? rows.map(line) : ['(none)'])];
}

// ---------------------------------------------------------------------------------------------

function endOfDay(date: string): string {
  return `${date}T23:59:59.999Z`;
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

function isDate(value: string): boolean {
  const ms = Date.parse(`${value}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === value;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
