import type { Geometry, Position } from 'geojson';
import { positionProblem } from '../../geo/polygonal.ts';
import { numberOf, parseJsonPayload, isObject, RecordError, recordProblem, type Json } from '../decode.ts';
import {
  PayloadError,
  emptyResult,
  type Adapter,
  type AdapterContext,
  type Footprint,
  type HazardEventVersion,
  type IndicatorValue,
  type ParseResult,
  type SeverityMeasure,
} from '../model.ts';

/**
 * IPC-CH API adapter (api.ipcinfo.org; Cadre Harmonisé analyses come through the same API).
 * Recognises by content:
 *
 * 1. `population?country=XX` (or `population/{id}`): a list of analyses → groups → areas. Indicator
 *    values per area and period (`ipc_phase`, `ipc_p3plus_population`, `ipc_p3plus_share`,
 *    `ipc_phase{1..5}_population`; current = final, projected and second projected = forecast),
 *    plus one hazard event version per analysis (`ipc:{id}`) as evidence that it exists.
 * 2. `areas/{id}/{C|P|A}?format=geojson`: one version per analysis and period
 *    (`ipc:{anl_id}:{C|P|A}`, version = the analysis id), a `phase` footprint per area.
 * 3. `analyses?type=A`: one version per analysis (`ipc:{id}`), no indicators.
 *
 * IPC areas are analysis units, not P-codes: an area's P-code comes from the area code table
 * (`context.pcodeFor('ipc', areaId)`, then `pcodeFor('ipc-name', 'ET:Area name')`); an area
 * without a mapping is a Rejection. Several IPC areas mapped to one P-code are combined (phase:
 * the worst; populations: summed; share: recomputed), and when two analyses in one payload give
 * the same P-code and period, the later analysis (analysis date, then id) wins.
 *
 * The analysis version is its analysis month as `YYYY-MM` (`analysis_date` "May 2021" → 2021-05,
 * versionRank = that month's first instant in ms), so the population and analyses payloads of one
 * analysis land on the same version. The analyses list has no analysis_date: the month is read
 * from the title ("… Acute Food Insecurity May 2021 (Merged)"), else `created` is used.
 */



export const ipcAdapter: Adapter = {
  source: 'ipc',
  parse(bytes, context) {
    const doc = parseJsonPayload(bytes);
    if (Array.isArray(doc)) return parseAnalysisList(doc, context);
    if (isObject(doc)) {
      if (doc.type === 'FeatureCollection') return parseAreasGeoJson(doc);
      if (Array.isArray(doc.groups) || ('id' in doc && ('title' in doc || 'country' in doc))) return parseAnalysisList([doc], context);
    }
    throw new PayloadError(
      `not an IPC API payload: ${Array.isArray(doc) ? 'an array' : isObject(doc) ? 'an object without analyses or area features' : typeof doc} ` +
        '(expected a population or analyses list, or areas GeoJSON)',
    );
  },
};

// ---------------------------------------------------------------------------------------------
// Dates: "May 2021 - Jun 2021", "Oct 2019 - Jan 2020", "Juin 2021 - Août 2021", "May 2021"

const MONTHS: Readonly<Record<string, number>> = (() => {
  const names: string[][] = [
    ['jan', 'january', 'janv', 'janvier', 'ene', 'enero', 'janeiro'],
    ['feb', 'february', 'fev', 'fevr', 'fevrier', 'febrero', 'fevereiro'],
    ['mar', 'march', 'mars', 'marzo', 'marco'],
    ['apr', 'april', 'avr', 'avril', 'abr', 'abril'],
    ['may', 'mai', 'mayo', 'maio'],
    ['jun', 'june', 'juin', 'junio', 'junho'],
    ['jul', 'july', 'juil', 'juillet', 'julio', 'julho'],
    ['aug', 'august', 'aout', 'ago', 'agosto'],
    ['sep', 'sept', 'september', 'septembre', 'septiembre', 'set', 'setembro'],
    ['oct', 'october', 'octobre', 'octubre', 'out', 'outubro'],
    ['nov', 'november', 'novembre', 'noviembre', 'novembro'],
    ['dec', 'december', 'decembre', 'dic', 'diciembre', 'dez', 'dezembro'],
  ];
  const map: Record<string, number> = {};
  names.forEach((words, month) => words.forEach((w) => (map[w] = month)));
  return map;
})();

/** A month name in English, French, Spanish or Portuguese (accents ignored) → 0..11, else null. */
function monthIndex(word: string): number | null {
  const key = word.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/\.$/, '');
  return key in MONTHS ? MONTHS[key] : null;
}

const pad = (n: number) => String(n).padStart(2, '0');
const ymd = (year: number, month: number, day: number) => `${year}-${pad(month + 1)}-${pad(day)}`;
const lastDay = (year: number, month: number) => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();

export interface IpcPeriod {
  start: string; // YYYY-MM-DD, first day of the first month
  end: string; // YYYY-MM-DD, last day of the last month
}

/**
 * An IPC period string → first day of the first month .. last day of the last month. "" → null
 * (no such period); anything unreadable → undefined.
 */
export function parseIpcPeriod(text: unknown): IpcPeriod | null | undefined {
  if (text === undefined || text === null) return null;
  if (typeof text !== 'string') return undefined;
  const t = text.trim();
  if (!t) return null;
  const parts = t.split(/\s*[-–—]\s*|\s+(?:to|au|à|a)\s+/i).filter(Boolean);
  if (parts.length < 1 || parts.length > 2) return undefined;
  const read = parts.map((p) => {
    const m = /^([\p{L}.]+)\s*(\d{4})?$/u.exec(p.trim());
    if (!m) return null;
    const month = monthIndex(m[1]);
    return month === null ? null : { month, year: m[2] ? Number(m[2]) : null };
  });
  if (read.some((r) => r === null)) return undefined;
  const first = read[0]!;
  const last = read[read.length - 1]!;
  if (last.year === null) return undefined;
  const firstYear = first.year ?? (first.month > last.month ? last.year - 1 : last.year);
  const start = ymd(firstYear, first.month, 1);
  const end = ymd(last.year, last.month, lastDay(last.year, last.month));
  return start <= end ? { start, end } : undefined;
}

/** A month ("May 2021", "2021-05-12") → { year, month }; the last month named in a title. */
function parseMonth(text: unknown, lastInText = false): { year: number; month: number } | null {
  if (typeof text !== 'string') return null;
  const iso = /^(\d{4})-(\d{2})/.exec(text.trim());
  if (iso && !lastInText) return { year: Number(iso[1]), month: Number(iso[2]) - 1 };
  const found = [...text.matchAll(/([\p{L}]+)\.?\s*(\d{4})/gu)]
    .map((m) => ({ month: monthIndex(m[1]), year: Number(m[2]) }))
    .filter((m): m is { month: number; year: number } => m.month !== null);
  if (found.length === 0) return null;
  return lastInText ? found[found.length - 1] : found[0];
}

// ---------------------------------------------------------------------------------------------
// Population and analyses lists

interface PeriodSpec {
  name: 'current' | 'projected' | 'second_projected';
  code: 'C' | 'P' | 'A';
  suffix: string;
  dates: string;
  status: IndicatorValue['status'];
}

const PERIODS: readonly PeriodSpec[] = [
  { name: 'current', code: 'C', suffix: '', dates: 'current_period_dates', status: 'final' },
  { name: 'projected', code: 'P', suffix: '_projected', dates: 'projected_period_dates', status: 'forecast' },
  { name: 'second_projected', code: 'A', suffix: '_second_projected', dates: 'second_projected_period_dates', status: 'forecast' },
];

const idOf = (value: unknown): string | null =>
  typeof value === 'string' && value.trim() ? value.trim() : typeof value === 'number' && Number.isFinite(value) ? String(value) : null;
const textOrNull = (value: unknown): string | null => (typeof value === 'string' && value.trim() ? value.trim() : null);

/** Area figures for one period, to be combined per P-code. */
interface AreaFigures {
  phase: number;
  p3plus: number | null;
  estimated: number | null;
  share: number | null; // the source's own percentage, used only when it cannot be recomputed
  phases: (number | null)[]; // phase 1..5 populations
}

interface AnalysisRows {
  analysisId: string;
  rank: number;
  /** `${pcode}\u0000${period code}` → the figures of every IPC area mapped to it. */
  byPcode: Map<string, { pcode: string; period: IpcPeriod; spec: PeriodSpec; figures: AreaFigures[] }>;
}

function parseAnalysisList(items: unknown[], context: AdapterContext): ParseResult {
  const result = emptyResult();
  if (items.length === 0) return result;
  if (!items.some((item) => isObject(item) && idOf(item.id) !== null)) {
    throw new PayloadError('not an IPC analyses or population list: no element is an analysis with an id');
  }
  const analyses: AnalysisRows[] = [];
  for (const [index, item] of items.entries()) {
    const id = isObject(item) ? idOf(item.id) : null;
    const where = id ? `analysis ${id}` : `analysis ${index}`;
    if (!isObject(item) || !id) {
      result.rejected.push({ where, reason: 'not an analysis object with an id' });
      continue;
    }
    const periods = new Map<PeriodSpec['code'], IpcPeriod>();
    for (const spec of PERIODS) {
      const period = parseIpcPeriod(item[spec.dates]);
      if (period) periods.set(spec.code, period);
      else if (period === undefined) {
        result.rejected.push({ where, reason: `${spec.dates} ${JSON.stringify(item[spec.dates])} is not a month range like "May 2021 - Jun 2021"` });
      }
    }
    const event = analysisEvent(item, id, periods);
    result.events.push(event);
    if (Array.isArray(item.groups)) {
      analyses.push(analysisRows(item, id, event.versionRank, periods, context, result));
    }
  }
  result.indicators.push(...indicatorRows(analyses));
  return result;
}

/** The analysis as a hazard event version (evidence that it exists; no footprints). */
function analysisEvent(item: Json, id: string, periods: Map<PeriodSpec['code'], IpcPeriod>): HazardEventVersion {
  const title = textOrNull(item.title);
  const month = parseMonth(item.analysis_date) ?? parseMonth(title, true);
  const created = textOrNull(item.created) ?? textOrNull(item.modified);
  let version: string;
  let versionRank: number;
  if (month) {
    version = `${month.year}-${pad(month.month + 1)}`;
    versionRank = Date.UTC(month.year, month.month, 1);
  } else if (textOrNull(item.current_period_dates)) {
    version = textOrNull(item.current_period_dates)!;
    versionRank = Date.parse(`${periods.get('C')?.start ?? ''}T00:00:00Z`) || 0;
  } else if (created && !Number.isNaN(Date.parse(created))) {
    version = created;
    versionRank = Date.parse(created);
  } else {
    version = id;
    versionRank = 0;
  }

  const severity: SeverityMeasure[] = [];
  for (const spec of PERIODS) {
    if (spec.code !== 'C' && !periods.has(spec.code)) continue;
    const p3 = numberOf(item[`p3plus${spec.suffix}`]);
    const estimated = numberOf(item[`estimated_population${spec.suffix}`]);
    const share = shareOf(p3, estimated, item[`p3plus_percentage${spec.suffix}`]);
    const tag = spec.suffix;
    if (p3 !== null) severity.push({ name: `p3plus_population${tag}`, value: p3, unit: 'people' });
    if (share !== null) severity.push({ name: `p3plus_share${tag}`, value: share, unit: 'share' });
    if (estimated !== null && estimated > 0) severity.push({ name: `analysed_population${tag}`, value: estimated, unit: 'people' });
  }

  const spans = [...periods.values()];
  const groups = Array.isArray(item.groups) ? item.groups : null;
  return {
    source: 'ipc',
    externalId: `ipc:${id}`,
    aliases: [],
    version,
    versionRank,
    hazard: 'food_insecurity',
    eventAlertLevel: null,
    episodeAlertLevel: null,
    severity,
    footprints: [],
    validFrom: spans.length ? `${spans.map((p) => p.start).sort()[0]}T00:00:00.000Z` : null,
    validTo: spans.length ? `${spans.map((p) => p.end).sort().reverse()[0]}T23:59:59.999Z` : null,
    issuedAt: month ? new Date(versionRank).toISOString() : null,
    title,
    countries: [],
    link: textOrNull(item.link),
    status: 'actual',
    supersedes: [],
    cancels: false,
    pcodes: [],
    properties: {
      analysisId: id,
      country: textOrNull(item.country),
      condition: textOrNull(item.condition),
      analysisDate: textOrNull(item.analysis_date),
      viewLevel: textOrNull(item.view_level),
      year: numberOf(item.year),
      created: textOrNull(item.created),
      modified: textOrNull(item.modified),
      periods: Object.fromEntries(
        PERIODS.map((spec) => [spec.name, { text: textOrNull(item[spec.dates]), ...(periods.get(spec.code) ?? { start: null, end: null }) }])
          .filter(([, p]) => (p as { text: string | null }).text !== null),
      ),
      ...(groups
        ? { groups: groups.length, areas: groups.reduce((n: number, g) => n + (isObject(g) && Array.isArray(g.areas) ? g.areas.length : 0), 0) }
        : {}),
    },
  };
}

/** p3plus / estimated population, else the source's percentage if it is a 0..1 share. */
function shareOf(p3plus: number | null, estimated: number | null, percentage: unknown): number | null {
  if (p3plus !== null && estimated !== null && estimated > 0 && p3plus >= 0 && p3plus <= estimated) return p3plus / estimated;
  const pct = numberOf(percentage);
  return pct !== null && pct >= 0 && pct <= 1 ? pct : null;
}

/** IPC phase codes: 1..5 are phases; 0 and 10 mean "not analysed". */
function readPhase(raw: unknown): number | 'not analysed' | null {
  if (raw === undefined || raw === null || raw === '') return 'not analysed';
  const n = numberOf(raw);
  if (n === 0 || n === 10) return 'not analysed';
  return n !== null && Number.isInteger(n) && n >= 1 && n <= 5 ? n : null;
}

function analysisRows(
  item: Json,
  id: string,
  rank: number,
  periods: Map<PeriodSpec['code'], IpcPeriod>,
  context: AdapterContext,
  result: ParseResult,
): AnalysisRows {
  const rows: AnalysisRows = { analysisId: id, rank, byPcode: new Map() };
  const country = textOrNull(item.country) ?? '';
  const undated = new Set<string>();
  for (const [g, group] of (item.groups as unknown[]).entries()) {
    if (!isObject(group) || !Array.isArray(group.areas)) {
      result.rejected.push({ where: `analysis ${id} group ${g}`, reason: 'not a group with an areas list' });
      continue;
    }
    for (const [a, area] of (group.areas as unknown[]).entries()) {
      const areaId = isObject(area) ? idOf(area.id) : null;
      const name = isObject(area) ? textOrNull(area.name) : null;
      const where = areaId ? `analysis ${id} area ${areaId}${name ? ` (${name})` : ''}` : `analysis ${id} group ${g} area ${a}`;
      if (!isObject(area) || !areaId) {
        result.rejected.push({ where, reason: 'not an area object with an id' });
        continue;
      }
      const figures: { spec: PeriodSpec; period: IpcPeriod; figures: AreaFigures }[] = [];
      for (const spec of PERIODS) {
        const phaseKey = `overall_phase${spec.suffix}`;
        const phase = readPhase(area[phaseKey]);
        if (phase === 'not analysed') continue;
        if (phase === null) {
          result.rejected.push({ where, reason: `${phaseKey} ${JSON.stringify(area[phaseKey])} is not an IPC phase (1–5, or 0/10 for not analysed)` });
          continue;
        }
        const period = periods.get(spec.code);
        if (!period) {
          undated.add(spec.dates);
          continue;
        }
        const p3plus = numberOf(area[`p3plus${spec.suffix}`]);
        const estimated = numberOf(area[`estimated_population${spec.suffix}`]);
        const nonNegative = (v: number | null) => (v !== null && v >= 0 ? v : null);
        figures.push({
          spec,
          period,
          figures: {
            phase,
            p3plus: nonNegative(p3plus),
            estimated: nonNegative(estimated),
            share: shareOf(null, null, area[`p3plus_percentage${spec.suffix}`]),
            phases: [1, 2, 3, 4, 5].map((n) => nonNegative(numberOf(area[`phase${n}_population${spec.suffix}`]))),
          },
        });
      }
      if (figures.length === 0) continue;
      const pcode = context.pcodeFor('ipc', areaId) ?? (name ? context.pcodeFor('ipc-name', `${country}:${name}`) : undefined);
      if (!pcode) {
        result.rejected.push({ where, reason: 'no P-code mapping for this IPC area' });
        continue;
      }
      for (const f of figures) {
        const key = `${pcode}\u0000${f.spec.code}`;
        const entry = rows.byPcode.get(key) ?? { pcode, period: f.period, spec: f.spec, figures: [] };
        entry.figures.push(f.figures);
        rows.byPcode.set(key, entry);
      }
    }
  }
  for (const dates of undated) {
    result.rejected.push({ where: `analysis ${id}`, reason: `areas carry phases for a period whose ${dates} is missing or unreadable; those values are left out` });
  }
  return rows;
}

/** Combines the areas of each P-code, then lets the later analysis win a P-code and period. */
function indicatorRows(analyses: AnalysisRows[]): IndicatorValue[] {
  const preferred = analyses.slice().sort((a, b) => b.rank - a.rank || compareIds(b.analysisId, a.analysisId));
  const taken = new Set<string>();
  const out: IndicatorValue[] = [];
  for (const analysis of preferred) {
    for (const { pcode, period, spec, figures } of analysis.byPcode.values()) {
      const slot = `${pcode}\u0000${period.start}\u0000${period.end}\u0000${spec.status}`;
      if (taken.has(slot)) continue;
      taken.add(slot);
      const sum = (values: (number | null)[]) => (values.every((v) => v !== null) ? (values as number[]).reduce((s, v) => s + v, 0) : null);
      const p3plus = sum(figures.map((f) => f.p3plus));
      const estimated = sum(figures.map((f) => f.estimated));
      const share = figures.length === 1 ? shareOf(p3plus, estimated, figures[0].share) : shareOf(p3plus, estimated, null);
      const row = (indicator: string, value: number | null) => {
        if (value !== null) out.push({ pcode, indicator, periodStart: period.start, periodEnd: period.end, value, status: spec.status, source: 'IPC' });
      };
      row('ipc_phase', Math.max(...figures.map((f) => f.phase)));
      row('ipc_p3plus_population', p3plus);
      row('ipc_p3plus_share', share);
      for (let n = 1; n <= 5; n++) row(`ipc_phase${n}_population`, sum(figures.map((f) => f.phases[n - 1])));
    }
  }
  return out;
}

function compareIds(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)];
  return Number.isFinite(x) && Number.isFinite(y) ? x - y : a.localeCompare(b);
}

// ---------------------------------------------------------------------------------------------
// Areas GeoJSON

const PERIOD_NAMES: Readonly<Record<string, PeriodSpec['name']>> = { C: 'current', P: 'projected', A: 'second_projected' };

interface AreaSummary {
  aar_id: string | null;
  title: string | null;
  overall_phase: number | null;
  estimated_population: number | null;
  phase3plus_population: number | null;
}

function parseAreasGeoJson(doc: Json): ParseResult {
  const result = emptyResult();
  if (!Array.isArray(doc.features)) throw new PayloadError('a FeatureCollection without a features array');
  const features = doc.features as unknown[];
  if (features.length === 0) return result;
  const ipcLike = (f: unknown) => isObject(f) && isObject(f.properties) && ('anl_id' in f.properties || 'aar_id' in f.properties);
  if (!features.some(ipcLike)) throw new PayloadError('not IPC areas GeoJSON: no feature carries anl_id or aar_id');

  const groups = new Map<string, { anl: string; period: string; footprints: Footprint[]; areas: AreaSummary[]; country: string | null }>();
  for (const [index, feature] of features.entries()) {
    const props = isObject(feature) && isObject(feature.properties) ? feature.properties : null;
    const aar = props ? idOf(props.aar_id) : null;
    const title = props ? textOrNull(props.title) : null;
    const where = `feature ${index}${aar ? ` (aar_id ${aar}${title ? `, ${title}` : ''})` : ''}`;
    try {
      if (!isObject(feature) || !props) throw new RecordError('not a Feature with properties');
      const anl = idOf(props.anl_id);
      if (!anl) throw new RecordError('no anl_id: the analysis is unknown');
      const period = typeof props.ipc_period === 'string' ? props.ipc_period.trim().toUpperCase() : '';
      if (!(period in PERIOD_NAMES)) throw new RecordError(`ipc_period ${JSON.stringify(props.ipc_period ?? null)} is not C, P or A`);
      const phase = readPhase(props.overall_phase);
      if (phase === null) throw new RecordError(`overall_phase ${JSON.stringify(props.overall_phase)} is not an IPC phase (1–5, or 0/10 for not analysed)`);

      const key = `${anl}\u0000${period}`;
      const group = groups.get(key) ?? { anl, period, footprints: [], areas: [], country: null };
      groups.set(key, group);
      group.country ??= textOrNull(props.country) ?? textOrNull(props.iso2);
      const phasePops = [3, 4, 5].map((n) => numberOf(props[`phase${n}_population`]));
      group.areas.push({
        aar_id: aar,
        title,
        overall_phase: phase === 'not analysed' ? null : phase,
        estimated_population: numberOf(props.estimated_population),
        phase3plus_population: phasePops.every((v) => v !== null) ? (phasePops as number[]).reduce((s, v) => s + v, 0) : null,
      });
      if (phase === 'not analysed') continue;
      const problem = geometryProblem(feature.geometry);
      if (problem) {
        result.rejected.push({ where, reason: `footprint left out: ${problem}` });
        continue;
      }
      group.footprints.push({ class: 'phase', geometry: feature.geometry as Geometry, label: title, value: phase, unit: 'ipc_phase' });
    } catch (error) {
      result.rejected.push({ where, reason: recordProblem(error) });
    }
  }

  for (const group of groups.values()) {
    const sumOf = (values: (number | null)[]) => (values.length && values.every((v) => v !== null) ? (values as number[]).reduce((s, v) => s + v, 0) : null);
    const analysed = group.areas.filter((a) => a.overall_phase !== null);
    const p3plus = sumOf(analysed.map((a) => a.phase3plus_population));
    const estimated = sumOf(analysed.map((a) => a.estimated_population));
    const phases = analysed.map((a) => a.overall_phase as number);
    const severity: SeverityMeasure[] = [];
    if (phases.length) severity.push({ name: 'max_phase', value: Math.max(...phases), unit: 'ipc_phase' });
    if (p3plus !== null) severity.push({ name: 'p3plus_population', value: p3plus, unit: 'people' });
    const share = shareOf(p3plus, estimated, null);
    if (share !== null) severity.push({ name: 'p3plus_share', value: share, unit: 'share' });
    if (estimated !== null) severity.push({ name: 'analysed_population', value: estimated, unit: 'people' });
    const periodName = PERIOD_NAMES[group.period];
    result.events.push({
      source: 'ipc',
      externalId: `ipc:${group.anl}:${group.period}`,
      aliases: [],
      version: group.anl,
      versionRank: numberOf(group.anl) ?? 0,
      hazard: 'food_insecurity',
      eventAlertLevel: null,
      episodeAlertLevel: null,
      severity,
      footprints: group.footprints,
      validFrom: null,
      validTo: null,
      issuedAt: null,
      title: `IPC analysis ${group.anl}, ${periodName.replace('_', ' ')} period`,
      countries: [],
      link: null,
      status: 'actual',
      supersedes: [],
      cancels: false,
      pcodes: [],
      properties: { analysisId: group.anl, ipcPeriod: group.period, period: periodName, country: group.country, areas: group.areas },
    });
  }
  return result;
}

/**
 * A footprint geometry: Point, Polygon or MultiPolygon with every position in WGS84 range and every
 * ring closed with at least 4 positions (GeoJSON rings are explicitly closed, so an open ring is an
 * error, not something to repair). The problem in words, or null.
 */
export function geometryProblem(geometry: unknown): string | null {
  if (!isObject(geometry)) return 'no geometry';
  const position = (p: unknown): string | null => {
    if (!Array.isArray(p) || p.length < 2) return `position ${JSON.stringify(p)} is not [longitude, latitude]`;
    if (typeof p[0] !== 'number' || typeof p[1] !== 'number') return `position ${JSON.stringify(p)} is not two numbers`;
    return positionProblem(p as Position);
  };
  const polygon = (rings: unknown, label: string): string | null => {
    if (!Array.isArray(rings) || rings.length === 0) return `${label} has no rings`;
    for (const [r, ring] of rings.entries()) {
      if (!Array.isArray(ring) || ring.length < 4) return `${label} ring ${r} has fewer than 4 positions`;
      for (const p of ring) {
        const problem = position(p);
        if (problem) return `${label} ring ${r}: ${problem}`;
      }
      const [first, last] = [ring[0] as Position, ring[ring.length - 1] as Position];
      if (first[0] !== last[0] || first[1] !== last[1]) return `${label} ring ${r} is not closed (first and last positions differ)`;
    }
    return null;
  };
  switch (geometry.type) {
    case 'Point':
      return position(geometry.coordinates);
    case 'Polygon':
      return polygon(geometry.coordinates, 'polygon');
    case 'MultiPolygon': {
      if (!Array.isArray(geometry.coordinates) || geometry.coordinates.length === 0) return 'multipolygon has no polygons';
      for (const [i, rings] of (geometry.coordinates as unknown[]).entries()) {
        const problem = polygon(rings, `polygon ${i}`);
        if (problem) return problem;
      }
      return null;
    }
    default:
      return `geometry type ${JSON.stringify(geometry.type ?? null)} is not Point, Polygon or MultiPolygon`;
  }
}
