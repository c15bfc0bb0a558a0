import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { geometryProblem, ipcAdapter, parseIpcPeriod } from '../../src/feeds/adapters/ipc.ts';
import { PayloadError, type AdapterContext, type IndicatorValue, type ParseResult } from '../../src/feeds/model.ts';

const feeds = path.resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/data/feeds');
const sample = (name: string) => readFileSync(path.join(feeds, 'food_security', name));
const sampleJson = (name: string) => JSON.parse(sample(name).toString('utf8'));

/** The area code table: two IPC area ids and one area name of Ethiopia. */
const context: AdapterContext = {
  pcodeFor(scheme, code) {
    if (scheme === 'ipc') return ({ '25133842': 'ET0101', '19423621': 'ET0701' } as Record<string, string>)[code];
    if (scheme === 'ipc-name') return ({ 'ET:Kembata Tembaro': 'ET0702' } as Record<string, string>)[code];
    return undefined;
  },
};
const noCodes: AdapterContext = { pcodeFor: () => undefined };
const parse = (payload: unknown, ctx: AdapterContext = context): ParseResult =>
  ipcAdapter.parse(Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), ctx);

const rowsOf = (values: IndicatorValue[], pcode: string, periodStart?: string) =>
  values.filter((v) => v.pcode === pcode && (periodStart === undefined || v.periodStart === periodStart));
const value = (values: IndicatorValue[], pcode: string, indicator: string, periodStart: string, status?: string) => {
  const found = values.filter((v) => v.pcode === pcode && v.indicator === indicator && v.periodStart === periodStart && (!status || v.status === status));
  if (found.length !== 1) throw new Error(`${found.length} rows for ${pcode} ${indicator} ${periodStart}`);
  return found[0];
};

describe('IPC period strings', () => {
  it('parse month ranges to first day .. last day', () => {
    expect(parseIpcPeriod('May 2021 - Jun 2021')).toEqual({ start: '2021-05-01', end: '2021-06-30' });
    expect(parseIpcPeriod('Oct 2019 - Jan 2020')).toEqual({ start: '2019-10-01', end: '2020-01-31' });
    expect(parseIpcPeriod('Feb 2024 - Feb 2024')).toEqual({ start: '2024-02-01', end: '2024-02-29' });
    expect(parseIpcPeriod('September 2022 – February 2023')).toEqual({ start: '2022-09-01', end: '2023-02-28' });
    expect(parseIpcPeriod('Juin 2021 - Août 2021')).toEqual({ start: '2021-06-01', end: '2021-08-31' });
    expect(parseIpcPeriod('Nov - Dec 2021')).toEqual({ start: '2021-11-01', end: '2021-12-31' });
    expect(parseIpcPeriod('Nov - Feb 2022')).toEqual({ start: '2021-11-01', end: '2022-02-28' });
    expect(parseIpcPeriod('May 2021')).toEqual({ start: '2021-05-01', end: '2021-05-31' });
  });

  it('give null for "no such period" and undefined for unreadable text', () => {
    expect(parseIpcPeriod('')).toBeNull();
    expect(parseIpcPeriod(null)).toBeNull();
    expect(parseIpcPeriod('soon')).toBeUndefined();
    expect(parseIpcPeriod('Jun 2021 - May 2021')).toBeUndefined();
    expect(parseIpcPeriod('2021-05 - 2021-06')).toBeUndefined();
    expect(parseIpcPeriod(202105)).toBeUndefined();
  });
});

describe('IPC population?country=ET', () => {
  const doc = sampleJson('ipc_api_population_country-ET.json');
  const result = ipcAdapter.parse(sample('ipc_api_population_country-ET.json'), context);
  const areaCount = doc.reduce((n: number, a: { groups: { areas: unknown[] }[] }) => n + a.groups.reduce((m, g) => m + g.areas.length, 0), 0);

  it('gives one food-insecurity event per analysis', () => {
    expect(result.events).toHaveLength(5);
    expect(result.events.map((e) => e.externalId)).toEqual(['ipc:25133691', 'ipc:24026108', 'ipc:19423617', 'ipc:18549989', 'ipc:13963677']);
    expect(result.events.every((e) => e.hazard === 'food_insecurity' && e.source === 'ipc' && e.footprints.length === 0)).toBe(true);
    expect(result.events.every((e) => e.countries.length === 0 && e.properties.country === 'ET')).toBe(true);
  });

  it('versions an analysis by its analysis month and keeps its periods and severity', () => {
    const e = result.events.find((x) => x.externalId === 'ipc:19423617')!;
    expect(e.version).toBe('2020-10');
    expect(e.versionRank).toBe(Date.UTC(2020, 9, 1));
    expect(e.title).toBe('Acute Food Insecurity October 2020 (Belg+Meher)');
    expect(e.validFrom).toBe('2020-10-01T00:00:00.000Z');
    expect(e.validTo).toBe('2021-09-30T23:59:59.999Z');
    expect(e.properties.periods).toEqual({
      current: { text: 'Oct 2020 - Dec 2020', start: '2020-10-01', end: '2020-12-31' },
      projected: { text: 'Jan 2021 - Jun 2021', start: '2021-01-01', end: '2021-06-30' },
      second_projected: { text: 'Jul 2021 - Sep 2021', start: '2021-07-01', end: '2021-09-30' },
    });
    expect(e.severity.find((s) => s.name === 'p3plus_population')).toEqual({ name: 'p3plus_population', value: 8609537, unit: 'people' });
    expect(e.severity.find((s) => s.name === 'p3plus_share')?.value).toBeCloseTo(8609537 / 52987400, 10);
    expect(e.severity.find((s) => s.name === 'p3plus_population_second_projected')?.value).toBe(3995157);
    expect(e.properties).toMatchObject({ groups: 7, areas: 68 });
    // no second projection in the May 2021 analysis: "" means none
    const may = result.events.find((x) => x.externalId === 'ipc:25133691')!;
    expect(Object.keys(may.properties.periods as object)).toEqual(['current', 'projected']);
    expect(may.version).toBe('2021-05');
  });

  it('gives indicator values for mapped areas, per period, with current final and projections forecast', () => {
    const nw = rowsOf(result.indicators, 'ET0101');
    expect(nw).toHaveLength(16); // current + projected, 8 indicators each
    expect(new Set(nw.map((v) => v.indicator))).toEqual(
      new Set(['ipc_phase', 'ipc_p3plus_population', 'ipc_p3plus_share', 'ipc_phase1_population', 'ipc_phase2_population',
        'ipc_phase3_population', 'ipc_phase4_population', 'ipc_phase5_population']),
    );
    expect(value(nw, 'ET0101', 'ipc_phase', '2021-05-01')).toEqual({
      pcode: 'ET0101', indicator: 'ipc_phase', periodStart: '2021-05-01', periodEnd: '2021-06-30', value: 4, status: 'final', source: 'IPC',
    });
    expect(value(nw, 'ET0101', 'ipc_phase', '2021-07-01')).toMatchObject({ periodEnd: '2021-09-30', value: 4, status: 'forecast' });
    expect(value(nw, 'ET0101', 'ipc_p3plus_population', '2021-05-01').value).toBe(1222332);
    expect(value(nw, 'ET0101', 'ipc_p3plus_share', '2021-05-01').value).toBeCloseTo(1222332 / 1438037, 10);
    expect(value(nw, 'ET0101', 'ipc_phase5_population', '2021-05-01').value).toBe(143804);

    const guraghe = rowsOf(result.indicators, 'ET0701');
    expect(guraghe).toHaveLength(24); // current, projected and second projected
    expect(value(guraghe, 'ET0701', 'ipc_phase', '2020-10-01')).toMatchObject({ value: 2, status: 'final', periodEnd: '2020-12-31' });
    expect(value(guraghe, 'ET0701', 'ipc_phase', '2021-01-01')).toMatchObject({ value: 3, status: 'forecast', periodEnd: '2021-06-30' });
    expect(value(guraghe, 'ET0701', 'ipc_phase', '2021-07-01')).toMatchObject({ value: 3, status: 'forecast', periodEnd: '2021-09-30' });
    expect(value(guraghe, 'ET0701', 'ipc_p3plus_population', '2021-07-01').value).toBe(117718);
    expect(result.indicators.every((v) => v.source === 'IPC')).toBe(true);
    expect(result.indicators.every((v) => v.indicator !== 'ipc_p3plus_share' || (v.value >= 0 && v.value <= 1))).toBe(true);
  });

  it('resolves an area by its name when its id is not mapped, and lets the later analysis win a period', () => {
    const kt = rowsOf(result.indicators, 'ET0702');
    // May 2021 current; Oct 2020 current + projected; Aug 2020 current + projected (its second
    // projection, Jan–Jun 2021 forecast, is the Oct 2020 projection's period: the later one wins).
    expect(kt).toHaveLength(40);
    expect(value(kt, 'ET0702', 'ipc_phase', '2021-05-01').value).toBe(3);
    expect(value(kt, 'ET0702', 'ipc_p3plus_population', '2021-01-01', 'forecast').value).toBe(143541);
    expect(value(kt, 'ET0702', 'ipc_phase', '2020-10-01', 'final').value).toBe(2);
    expect(value(kt, 'ET0702', 'ipc_phase', '2020-10-01', 'forecast').value).toBe(3);
    expect(value(kt, 'ET0702', 'ipc_phase', '2020-07-01').value).toBe(2);
  });

  it('rejects every unmapped area by analysis id, area id and name, without stopping the others', () => {
    expect(areaCount).toBe(277);
    expect(result.indicators).toHaveLength(80);
    expect(result.rejected).toHaveLength(277 - 5);
    expect(result.rejected).toContainEqual({
      where: 'analysis 25133691 area 25133889 (North western, cluster 2)',
      reason: 'no P-code mapping for this IPC area',
    });
    expect(result.rejected.every((r) => r.reason === 'no P-code mapping for this IPC area')).toBe(true);
  });

  it('combines several IPC areas mapped to one P-code: worst phase, summed populations', () => {
    const both: AdapterContext = {
      pcodeFor: (scheme, code) => (scheme === 'ipc' && (code === '25133842' || code === '25133889') ? 'ET0101' : undefined),
    };
    const r = ipcAdapter.parse(sample('ipc_api_population_country-ET.json'), both);
    const current = rowsOf(r.indicators, 'ET0101', '2021-05-01');
    expect(current).toHaveLength(8);
    expect(value(current, 'ET0101', 'ipc_phase', '2021-05-01').value).toBe(4);
    const cluster2 = doc[0].groups.flatMap((g: { areas: Record<string, number | string>[] }) => g.areas).find((a: { id: string }) => a.id === '25133889');
    expect(value(current, 'ET0101', 'ipc_p3plus_population', '2021-05-01').value).toBe(1222332 + Number(cluster2.p3plus));
    expect(value(current, 'ET0101', 'ipc_p3plus_share', '2021-05-01').value).toBeCloseTo(
      (1222332 + Number(cluster2.p3plus)) / (1438037 + Number(cluster2.estimated_population)), 10,
    );
  });

  it('still gives the analysis events when no area can be mapped', () => {
    const r = ipcAdapter.parse(sample('ipc_api_population_country-ET.json'), noCodes);
    expect(r.events).toHaveLength(5);
    expect(r.indicators).toEqual([]);
    expect(r.rejected).toHaveLength(277);
  });
});

describe('IPC analyses?type=A', () => {
  const result = ipcAdapter.parse(sample('ipc_api_analyses_type-A_AF.json'), context);

  it('gives one event per analysis and no indicators', () => {
    expect(result.rejected).toEqual([]);
    expect(result.indicators).toEqual([]);
    expect(result.events).toHaveLength(31);
    const countries = result.events.map((e) => e.properties.country);
    expect(countries.filter((c) => c === 'AF')).toHaveLength(12);
    expect(countries.filter((c) => c === 'CF')).toHaveLength(12);
    expect(countries.filter((c) => c === 'ET')).toHaveLength(5);
    expect(countries.filter((c) => c === 'AO')).toHaveLength(2);
  });

  it('versions an analysis by the month in its title, the same version as the population payload', () => {
    const merged = result.events.find((e) => e.externalId === 'ipc:25133691')!;
    expect(merged.version).toBe('2021-05');
    expect(merged.versionRank).toBe(Date.UTC(2021, 4, 1));
    expect(merged.link).toBe('https://www.ipcinfo.org/ipc-country-analysis/details-map/en/c/1154897/?iso3=ETH');
    expect(merged.properties).toMatchObject({ created: '2022-05-05', modified: '2022-05-09', year: 2021 });
    expect(result.events.find((e) => e.externalId === 'ipc:19423617')!.version).toBe('2020-10'); // "October 2020"
    expect(result.events.find((e) => e.externalId === 'ipc:15803011')!.version).toBe('2020-04'); // "Apr 2020 (Projection update)"
    expect(result.events.find((e) => e.externalId === 'ipc:18677917')!.version).toBe('2020-09'); // "September 2020(17ème cycle)"
    expect(result.events.every((e) => /^\d{4}-\d{2}$/.test(e.version))).toBe(true);
  });
});

describe('IPC areas GeoJSON (areas/{id}/P, Afghanistan)', () => {
  const result = ipcAdapter.parse(sample('ipc_api_areas_AF_geojson.geojson'), context);
  const e = result.events[0];

  it('gives one event for the analysis and period, versioned by the analysis id', () => {
    expect(result.rejected).toEqual([]);
    expect(result.indicators).toEqual([]);
    expect(result.events).toHaveLength(1);
    expect(e.externalId).toBe('ipc:56661025:P');
    expect(e.version).toBe('56661025');
    expect(e.hazard).toBe('food_insecurity');
    expect(e.properties).toMatchObject({ analysisId: '56661025', ipcPeriod: 'P', period: 'projected' });
  });

  it('has a phase footprint per area, labelled with the area name', () => {
    expect(e.footprints).toHaveLength(45);
    expect(e.footprints.every((f) => f.class === 'phase' && f.unit === 'ipc_phase')).toBe(true);
    const phases = e.footprints.map((f) => f.value);
    expect(phases.filter((p) => p === 3)).toHaveLength(42);
    expect(phases.filter((p) => p === 4)).toHaveLength(2);
    expect(phases.filter((p) => p === 2)).toHaveLength(1);
    expect(e.footprints.filter((f) => f.geometry.type === 'Polygon')).toHaveLength(34);
    expect(e.footprints.filter((f) => f.geometry.type === 'Point')).toHaveLength(11); // urban areas
    expect(e.footprints.find((f) => f.label === 'Ghor')?.value).toBe(4);
    expect(e.severity.find((s) => s.name === 'max_phase')?.value).toBe(4);
  });

  it('converts the numbers given as strings and lists the areas', () => {
    const areas = e.properties.areas as Record<string, unknown>[];
    expect(areas).toHaveLength(45);
    expect(areas[0]).toEqual({ aar_id: '56661094', title: 'Jawzjan', overall_phase: 3, estimated_population: 618615, phase3plus_population: 216515 + 61862 + 0 });
    expect(areas.every((a) => typeof a.estimated_population === 'number')).toBe(true);
    const total = areas.reduce((s, a) => s + (a.estimated_population as number), 0);
    expect(e.severity.find((s) => s.name === 'analysed_population')?.value).toBe(total);
  });
});

describe('IPC malformed and unseen payloads', () => {
  /** A population analysis with two areas in one group (current and projected). */
  const analysis = (areas: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({
    id: '900', title: 'Acute Food Insecurity March 2024', country: 'KE', condition: 'A', analysis_date: 'Mar 2024',
    current_period_dates: 'Mar 2024 - Jun 2024', projected_period_dates: 'Jul 2024 - Sep 2024', second_projected_period_dates: '',
    p3plus: '1000', estimated_population: '10000', ...extra,
    groups: [{ id: '901', name: 'Turkana', areas }],
  });
  const area = (id: string, name: string, props: Record<string, unknown> = {}) => ({
    id, name, aag_id: '901', population: 53000000, estimated_population: '1000', p3plus: '300', p3plus_percentage: 0.3,
    phase1_population: 300, phase2_population: 400, phase3_population: 200, phase4_population: 100, phase5_population: 0,
    overall_phase: 3, overall_phase_projected: '4', estimated_population_projected: 1000, p3plus_projected: 500,
    ...props,
  });
  const kenya: AdapterContext = { pcodeFor: (scheme, code) => (scheme === 'ipc' ? ({ '902': 'KE023', '903': 'KE010', '904': 'KE008' } as Record<string, string>)[code] : undefined) };

  it('rejects an area whose phase is "x", the rest is fine; numbers given as strings are converted', () => {
    const r = parse([analysis([area('902', 'Turkana North'), area('903', 'Marsabit', { overall_phase: 'x' })])], kenya);
    expect(r.rejected).toEqual([{ where: 'analysis 900 area 903 (Marsabit)', reason: expect.stringMatching(/overall_phase "x" is not an IPC phase/) }]);
    expect(value(r.indicators, 'KE023', 'ipc_phase', '2024-03-01')).toMatchObject({ value: 3, periodEnd: '2024-06-30', status: 'final' });
    expect(value(r.indicators, 'KE023', 'ipc_phase', '2024-07-01')).toMatchObject({ value: 4, status: 'forecast' });
    expect(value(r.indicators, 'KE023', 'ipc_p3plus_population', '2024-03-01').value).toBe(300);
    expect(value(r.indicators, 'KE023', 'ipc_p3plus_share', '2024-03-01').value).toBeCloseTo(0.3, 10);
    // Marsabit's projected phase is fine: only its current period is rejected
    expect(rowsOf(r.indicators, 'KE010', '2024-03-01')).toEqual([]);
    expect(value(r.indicators, 'KE010', 'ipc_phase', '2024-07-01').value).toBe(4);
    expect(r.events[0].severity.find((s) => s.name === 'p3plus_population')?.value).toBe(1000);
  });

  it('skips phases 0 and 10 (not analysed) without a rejection', () => {
    const r = parse([analysis([area('902', 'A', { overall_phase: 10, overall_phase_projected: 0 }), area('903', 'B')])], kenya);
    expect(r.rejected).toEqual([]);
    expect(rowsOf(r.indicators, 'KE023')).toEqual([]);
    expect(rowsOf(r.indicators, 'KE010')).toHaveLength(8 + 3); // the projection has no per-phase populations
  });

  it('rejects an unreadable period, leaves its values out and keeps the others', () => {
    const r = parse([analysis([area('902', 'A')], { projected_period_dates: 'next season' })], kenya);
    expect(r.rejected.map((x) => x.where)).toEqual(['analysis 900', 'analysis 900']);
    expect(r.rejected[0].reason).toMatch(/projected_period_dates "next season"/);
    expect(r.indicators.every((v) => v.status === 'final')).toBe(true);
    expect(r.indicators).toHaveLength(8);
  });

  it('rejects an analysis without an id and an area without an id', () => {
    const r = parse([{ title: 'no id' }, analysis([{ name: 'nameless' }, area('904', 'Wajir')])], kenya);
    expect(r.rejected).toEqual([
      { where: 'analysis 0', reason: 'not an analysis object with an id' },
      { where: 'analysis 900 group 0 area 0', reason: 'not an area object with an id' },
    ]);
    expect(r.events.map((e) => e.externalId)).toEqual(['ipc:900']);
    expect(rowsOf(r.indicators, 'KE008')).toHaveLength(8 + 3);
  });

  it('accepts an empty list as a valid, empty result, and refuses invalid JSON and other shapes', () => {
    expect(parse([])).toEqual({ events: [], indicators: [], rejected: [] });
    expect(parse({ type: 'FeatureCollection', features: [] })).toEqual({ events: [], indicators: [], rejected: [] });
    expect(() => parse('[{"id": "1", "groups": [')).toThrow(PayloadError);
    expect(() => parse('')).toThrow(PayloadError);
    expect(() => parse('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')).toThrow(PayloadError);
    expect(() => parse([1, 2, 3])).toThrow(/not an IPC analyses or population list/);
    expect(() => parse({ hello: 'world' })).toThrow(PayloadError);
    expect(() => parse({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { mag: 5 }, geometry: null }] })).toThrow(/not IPC areas/);
  });

  it('rejects bad area features one by one and groups current and projected as separate events', () => {
    const ring = [[65, 37], [66, 37], [66, 38], [65, 38], [65, 37]];
    const feature = (props: Record<string, unknown>, geometry: unknown = { type: 'Polygon', coordinates: [ring] }) => ({
      type: 'Feature', properties: { anl_id: '777', aar_id: '1', title: 'Area', ipc_period: 'C', overall_phase: 3, estimated_population: '100', phase3_population: '10', phase4_population: 5, phase5_population: 0, ...props }, geometry,
    });
    const doc = {
      type: 'FeatureCollection',
      features: [
        feature({ aar_id: '1' }),
        feature({ aar_id: '2', ipc_period: 'P', overall_phase: '4' }),
        feature({ aar_id: '3' }, { type: 'Polygon', coordinates: [[[65, 37], [66, 95], [66, 38], [65, 37]]] }),
        feature({ aar_id: '4' }, { type: 'Polygon', coordinates: [[[65, 37], [66, 37], [66, 38], [65, 38]]] }),
        feature({ aar_id: '5', overall_phase: 'x' }),
        feature({ aar_id: '6', anl_id: undefined }),
        feature({ aar_id: '7', ipc_period: 'Q' }),
        feature({ aar_id: '8', overall_phase: 10 }),
        feature({ aar_id: '9' }, null),
      ],
    };
    const r = parse(doc);
    expect(r.events.map((e) => e.externalId).sort()).toEqual(['ipc:777:C', 'ipc:777:P']);
    const current = r.events.find((e) => e.externalId === 'ipc:777:C')!;
    expect(current.footprints.map((f) => f.value)).toEqual([3]);
    expect(r.events.find((e) => e.externalId === 'ipc:777:P')!.footprints.map((f) => f.value)).toEqual([4]);
    expect((current.properties.areas as { aar_id: string }[]).map((a) => a.aar_id)).toEqual(['1', '3', '4', '8', '9']);
    expect(r.rejected.map((x) => x.where)).toEqual([
      'feature 2 (aar_id 3, Area)', 'feature 3 (aar_id 4, Area)', 'feature 4 (aar_id 5, Area)',
      'feature 5 (aar_id 6, Area)', 'feature 6 (aar_id 7, Area)', 'feature 8 (aar_id 9, Area)',
    ]);
    expect(r.rejected[0].reason).toMatch(/ring 0 has fewer than 4 positions|outside longitude/);
    expect(r.rejected[1].reason).toMatch(/not closed/);
    expect(r.rejected[2].reason).toMatch(/not an IPC phase/);
    expect(r.rejected[3].reason).toMatch(/anl_id/);
    expect(r.rejected[4].reason).toMatch(/not C, P or A/);
    expect(r.rejected[5].reason).toMatch(/no geometry/);
  });

  it('checks footprint geometry: range, swapped coordinates, closed rings', () => {
    expect(geometryProblem({ type: 'Point', coordinates: [65.7, 37.5] })).toBeNull();
    expect(geometryProblem({ type: 'Point', coordinates: [37.5, 165.7] })).toMatch(/swapped/);
    expect(geometryProblem({ type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 0]]]] })).toBeNull();
    expect(geometryProblem({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] })).toMatch(/not closed/);
    expect(geometryProblem({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [0, 0]]] })).toMatch(/fewer than 4/);
    expect(geometryProblem({ type: 'Point', coordinates: ['65.7', '37.5'] })).toMatch(/not two numbers/);
    expect(geometryProblem({ type: 'LineString', coordinates: [[0, 0], [1, 1]] })).toMatch(/not Point, Polygon or MultiPolygon/);
  });
});
