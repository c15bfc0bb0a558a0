import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as turf from '@turf/turf';
import type { Feature, FeatureCollection, Geometry, Position } from 'geojson';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { gdacsAdapter } from '../../src/feeds/adapters/gdacs.ts';
import { usgsAdapter } from '../../src/feeds/adapters/usgs.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { generateLists } from '../../src/engine/targeting/generate-lists.ts';
import { dryRunRule } from '../../src/engine/dry-run.ts';
import { footprintSelected } from '../../src/rules/footprint-spec.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { insertHouseholds, type TestHousehold } from '../support/households.ts';
import { projectRoot } from '../support/paths.ts';
import { approveRuleText, flatTopUp, ruleHeader } from '../support/rules.ts';

/**
 * The one footprint selection, on payloads shaped like the real ones: a GDACS cyclone whose weak
 * buffers are zero-area polygons at one point, a ShakeMap contour file with its detail document
 * loaded in either order, an MMI threshold, and a cyclone long gone. Each right answer is worked
 * out here with turf, independently of the SQL.
 */

// A grid of households over Northaven Acacia (XD01001, lon 38–38.67) and Baobab (XD01002), every 0.05°.
const GRID: TestHousehold[] = [];
for (let i = 0; i < 24; i++) {
  for (let j = 0; j < 18; j++) {
    const lon = Number((38.025 + i * 0.05).toFixed(3));
    const lat = Number((3.075 + j * 0.05).toFixed(3));
    GRID.push({ id: `G${String(i).padStart(2, '0')}${String(j).padStart(2, '0')}`, pcode: lon < 38 + 2 / 3 ? 'XD01001' : 'XD01002', pmt: 10, size: 2, location: [lon, lat] });
  }
}
const UNLOCATED: TestHousehold = { id: 'NOPOINT', pcode: 'XD01001', pmt: 10, size: 2, location: null };

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, [...GRID, UNLOCATED]);
});
afterAll(async () => {
  await t.drop();
});

const rule = (id: string, event: string) => `${ruleHeader(id, { title: `Footprint selection ${id}` })}
areas: { admin_level: 2, within: [XD01] }
stages:
  activation:
    when: { event: ${event} }
${flatTopUp()}`;

async function listFor(ruleYaml: string, asOf: string): Promise<{ pcodes: string[]; listed: string[]; excluded: Record<string, number> }> {
  const ruleId = await approveRuleText(t.store, ruleYaml);
  await evaluateActivations(t.store, { ruleId, asOf });
  const activations = await listActivations(t.store, { ruleId, status: 'open' });
  if (activations.length === 0) return { pcodes: [], listed: [], excluded: {} };
  const [list] = await generateLists(t.store, activations[0].id, 'coordinator@test', { cycle: asOf.slice(0, 7), asOf: new Date(asOf) });
  const { rows } = await t.store.transaction(({ raw }) =>
    raw.query<{ id: string }>(`SELECT registry_id AS id FROM payment_list_entries WHERE list_id = $1 ORDER BY registry_id`, [list.id]),
  );
  return { pcodes: activations.map((a) => a.pcode).sort(), listed: rows.map((r) => r.id), excluded: list.excluded };
}

async function evidenceFor(ruleYaml: string, asOf: string): Promise<string[]> {
  const id = /^id: (\S+)/m.exec(ruleYaml)![1];
  const report = await dryRunRule(t.store, await tempFile(`${id}-dry.yaml`, ruleYaml), asOf);
  return report.decisions.flatMap((d) => d.evidence.map((e) => ('test' in e ? e.test : 'text' in e ? e.text : '')));
}

const inside = (geometry: Geometry) => GRID.filter((h) => turf.booleanPointInPolygon(h.location!, geometry as never)).map((h) => h.id).sort();

// --- GDACS: a cyclone whose orange and red buffers are zero-area polygons ----------------------

const CENTRE: Position = [38.3, 3.5];
async function gdacsCyclone(eventId: number, dates: { from: string; to: string }): Promise<FeatureCollection> {
  const doc = JSON.parse(await readFile(path.join(projectRoot, 'test/fixtures/feeds/gdacs/tc-1001111-ep14-geometry.json'), 'utf8')) as FeatureCollection;
  // Moved from the Mozambique Channel to Demoland, shrunk to a tenth around its centre.
  const move = (p: Position): Position => [Number((CENTRE[0] + (p[0] - 40.5) / 10).toFixed(6)), Number((CENTRE[1] + (p[1] + 18.2) / 10).toFixed(6))];
  const features = doc.features.filter((f) => !String(f.properties!.Class).startsWith('Point_Polygon'));
  for (const f of features) {
    Object.assign(f.properties!, {
      eventid: eventId, fromdate: dates.from, todate: dates.to, datemodified: dates.to, country: 'Demoland', iso3: 'XDL',
      affectedcountries: [{ iso2: 'XD', iso3: 'XDL', countryname: 'Demoland' }],
    });
    f.geometry = mapCoords(f.geometry, move);
    delete (f as { bbox?: unknown }).bbox;
  }
  // GDACS's weak-cyclone shape: the buffer collapsed onto one point, written as a polygon.
  for (const cls of ['Poly_Orange', 'Poly_Red']) {
    const f = features.find((x) => x.properties!.Class === cls)!;
    f.geometry = { type: 'Polygon', coordinates: [[CENTRE, CENTRE, CENTRE, CENTRE]] };
  }
  return { type: 'FeatureCollection', features };
}

function mapCoords(g: Geometry, move: (p: Position) => Position): Geometry {
  const walk = (x: unknown): unknown => (typeof (x as number[])[0] === 'number' ? move(x as Position) : (x as unknown[]).map(walk));
  if (g.type === 'GeometryCollection') return { ...g, geometries: g.geometries.map((c) => mapCoords(c, move)) };
  return { ...g, coordinates: walk(g.coordinates) } as Geometry;
}

async function ingestGdacs(doc: FeatureCollection, fetchedAt: string): Promise<void> {
  const result = await ingestPayload(t.store, gdacsAdapter, { source: 'gdacs', bytes: Buffer.from(JSON.stringify(doc)), url: `test://gdacs-${fetchedAt}.json`, fetchedAt: new Date(fetchedAt) });
  expect(result.payloadError).toBeNull();
}

describe('GDACS zero-area buffers never stand in for an area', () => {
  let green: Geometry;
  beforeAll(async () => {
    const doc = await gdacsCyclone(1009001, { from: '2026-11-18T00:00:00', to: '2026-11-19T12:00:00' });
    green = doc.features.find((f) => f.properties!.Class === 'Poly_Green' && f.properties!.polygonlabel === '60 km/h')!.geometry;
    await ingestGdacs(doc, '2026-11-19T13:00:00Z');
  });

  it('a rule on Poly_Red (a point written as a polygon) activates nothing, and the evidence says why', async () => {
    const yaml = rule('fp-red', '{ source: gdacs, hazard: tropical_cyclone, min_alert_level: orange, footprint: { class: Poly_Red } }');
    expect(await listFor(yaml, '2026-11-20T00:00:00Z')).toEqual({ pcodes: [], listed: [], excluded: {} });
    const evidence = await evidenceFor(yaml, '2026-11-20T00:00:00Z');
    expect(evidence.some((e) => /footprint Poly_Red has no area \(a point, a line or a zero-area polygon\)/.test(e))).toBe(true);
  });

  it('with buffer_km the red point counts with its surroundings: households within 12 km, nothing else', async () => {
    const yaml = rule('fp-red-buffer', '{ source: gdacs, hazard: tropical_cyclone, min_alert_level: orange, footprint: { class: Poly_Red }, buffer_km: 12 }');
    const expected = GRID.filter((h) => turf.distance(h.location!, CENTRE, { units: 'kilometers' }) <= 12).map((h) => h.id).sort();
    expect(expected.length).toBeGreaterThan(10);
    const got = await listFor(yaml, '2026-11-20T00:00:00Z');
    expect(got.pcodes).toEqual(['XD01001']);
    expect(got.listed).toEqual(expected);
  });

  it('a rule on the areal green buffer lists exactly the households inside it, and the dry-run estimate is that list', async () => {
    const yaml = rule('fp-green', '{ source: gdacs, hazard: tropical_cyclone, footprint: { class: Poly_Green, label: green } }');
    const estimate = (await dryRunRule(t.store, await tempFile('fp-green-estimate.yaml', yaml), '2026-11-20T00:00:00Z')).estimate;
    const got = await listFor(yaml, '2026-11-20T00:00:00Z');
    // Before, the estimate counted every household of the districts the footprint touches.
    expect(estimate.households).toBe(got.listed.length);
    expect(estimate.cost).toBe(100 * got.listed.length);
    const expected = inside(green);
    expect(expected.length).toBeGreaterThan(20);
    expect(got.listed).toEqual(expected);
    expect(got.excluded).toEqual({ 'no location: the rule pays households inside the footprint': 1 });
  });
});

describe('event lifetime: a cyclone long gone no longer triggers', () => {
  const yaml = rule('fp-old-cyclone', '{ source: gdacs, hazard: tropical_cyclone, footprint: { class: Poly_Green, label: green } }');
  beforeAll(async () => {
    await ingestGdacs(await gdacsCyclone(1009002, { from: '2026-05-01T00:00:00', to: '2026-05-02T12:00:00' }), '2026-05-02T13:00:00Z');
  });

  it('triggers in the weeks after it passed, and six months later the activation closes with the reason', async () => {
    const ruleId = await approveRuleText(t.store, yaml);
    await evaluateActivations(t.store, { ruleId, asOf: '2026-05-10T00:00:00Z' });
    expect((await listActivations(t.store, { ruleId, status: 'open' })).length).toBeGreaterThan(0);
    const evidence = await evidenceFor(yaml, '2026-11-02T00:00:00Z');
    expect(evidence.some((e) => /the event ended 2026-05-02, 183 days before; it counts for 30 days \(the default for tropical_cyclone, max_age_days\)/.test(e))).toBe(true);
    await evaluateActivations(t.store, { ruleId, asOf: '2026-11-02T00:00:00Z' });
    expect(await listActivations(t.store, { ruleId, status: 'open' })).toEqual([]);
  });

  it('a rule can keep an event longer with max_age_days', async () => {
    const longer = rule('fp-old-cyclone-long', '{ source: gdacs, hazard: tropical_cyclone, footprint: { class: Poly_Green, label: green }, max_age_days: 200 }');
    const got = await listFor(longer, '2026-11-02T00:00:00Z');
    expect(got.listed.length).toBeGreaterThan(20);
  });
});

// --- USGS: ShakeMap contours and the detail document, in either order --------------------------

const square = (x0: number, y0: number, x1: number, y1: number): Position[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
/** MMI 5 over most of Acacia, 6 around the epicentre, 7 close to it (nested rings, as ShakeMap draws). */
const MMI5 = square(38.05, 3.15, 38.6, 3.85);
const MMI6 = square(38.15, 3.3, 38.45, 3.7);
const MMI7 = square(38.25, 3.45, 38.35, 3.55);

const shift = (ring: Position[], dx: number): Position[] => ring.map(([x, y]) => [Number((x + dx).toFixed(6)), y]);

function contours(eventId: string, dx = 0): object {
  return {
    type: 'FeatureCollection',
    metadata: { eventid: eventId, longitude: 38.3 + dx, latitude: 3.5 },
    features: [5, 6, 7].map((value, k) => ({
      type: 'Feature', properties: { value, units: 'mmi', color: '#fff', weight: 2 },
      geometry: { type: 'MultiLineString', coordinates: [shift([MMI5, MMI6, MMI7][k], dx)] },
    })),
    bbox: [38 + dx, 3, 38.7 + dx, 4],
  };
}

async function detail(eventId: string, dx = 0): Promise<object> {
  const doc = JSON.parse(await readFile(path.join(projectRoot, '../shared/data/feeds/usgs/detail_us6000pi9w.geojson'), 'utf8')) as Feature;
  const time = Date.parse('2026-11-18T03:00:00Z');
  Object.assign(doc.properties!, { ids: `,${eventId},`, code: eventId.slice(2), net: 'us', time, updated: time + 3_600_000, alert: 'orange', place: 'Northaven, Demoland' });
  doc.id = eventId;
  doc.geometry = { type: 'Point', coordinates: [38.3 + dx, 3.5, 10] };
  return doc;
}

async function ingestUsgs(document: object, name: string, fetchedAt: string): Promise<void> {
  const result = await ingestPayload(t.store, usgsAdapter, { source: 'usgs', bytes: Buffer.from(JSON.stringify(document)), url: `test://${name}`, fetchedAt: new Date(fetchedAt) });
  expect(result.payloadError).toBeNull();
}

describe('ShakeMap contours attach to the earthquake whatever the order, and min_value counts', () => {
  const mmi6 = (id: string) => rule(id, '{ source: usgs, hazard: earthquake, min_alert_level: orange, footprint: { class: mmi, min_value: 6 } }');

  it('contours first, then the detail document: MMI ≥ 6 lists exactly the households inside the MMI 6 ring', async () => {
    await ingestUsgs(contours('us7000aaa1'), 'cont_mmi-1.json', '2026-11-18T05:00:00Z');
    await ingestUsgs(await detail('us7000aaa1'), 'detail-1.json', '2026-11-18T06:00:00Z');
    const got = await listFor(mmi6('fp-mmi6-contours-first'), '2026-11-19T00:00:00Z');
    expect(got.pcodes).toEqual(['XD01001']);
    expect(got.listed).toEqual(inside({ type: 'Polygon', coordinates: [MMI6] }));
    expect(got.listed.length).toBeLessThan(inside({ type: 'Polygon', coordinates: [MMI5] }).length / 2);
  });

  it('the detail document first, then the contours: the same (a second quake in Baobab, 0.7° east)', async () => {
    await ingestUsgs(await detail('us7000aaa2', 0.7), 'detail-2.json', '2026-11-18T05:00:00Z');
    await ingestUsgs(contours('us7000aaa2', 0.7), 'cont_mmi-2.json', '2026-11-18T06:00:00Z');
    const yaml = mmi6('fp-mmi6-detail-first');
    const got = await listFor(yaml, '2026-11-19T00:00:00Z');
    expect(got.pcodes).toEqual(['XD01001', 'XD01002']);
    const expected = [...inside({ type: 'Polygon', coordinates: [MMI6] }), ...inside({ type: 'Polygon', coordinates: [shift(MMI6, 0.7)] })].sort();
    expect(got.listed).toEqual(expected);
    // The alert comes from the detail document, not from the shapes-only contour version.
    const evidence = await evidenceFor(yaml, '2026-11-19T00:00:00Z');
    expect(evidence.some((e) => /alert orange ≥ orange.*footprint mmi ≥ 6 present/.test(e))).toBe(true);
  });

  it('two quakes in one district: households inside either MMI 6 ring are listed', async () => {
    await ingestUsgs(await detail('us7000aaa3', 0.2), 'detail-3.json', '2026-11-18T05:00:00Z');
    await ingestUsgs(contours('us7000aaa3', 0.2), 'cont_mmi-3.json', '2026-11-18T06:00:00Z');
    const got = await listFor(mmi6('fp-mmi6-two-quakes'), '2026-11-19T00:00:00Z');
    const rings = [0, 0.2, 0.7].map((dx) => inside({ type: 'Polygon', coordinates: [shift(MMI6, dx)] }));
    expect(rings[1].filter((id) => !rings[0].includes(id)).length).toBeGreaterThan(5); // the second quake reaches others
    expect(got.listed).toEqual([...new Set(rings.flat())].sort());
  });
});

describe('footprint_selected (SQL) and footprintSelected (TypeScript) agree', () => {
  it('over generated footprints and conditions', async () => {
    const classes = ['mmi', 'Poly_Red', 'Poly_Green', 'bbox', 'polygon'];
    const text = (values: string[]) => fc.option(fc.constantFrom(...values), { nil: null });
    const level = fc.option(fc.oneof(fc.integer({ min: 0, max: 10 }), fc.double({ min: -5, max: 12, noNaN: true })), { nil: null });
    const footprint = fc.record({ class: fc.constantFrom(...classes), label: text(['green', 'red', 'MMI 6']), value: level, unit: text(['mmi', 'MMI', 'km/h']) });
    const spec = fc.record({ class: text(classes), label: text(['green', 'red', 'MMI 6']), minValue: level, unit: text(['mmi', 'km/h']) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(footprint, spec), { minLength: 1, maxLength: 50 }), async (cases) => {
        const { rows } = await t.store.transaction(({ raw }) =>
          raw.query<{ selected: boolean }>(
            `SELECT footprint_selected(c->>'class', c->>'label', (c->>'value')::float8, c->>'unit',
                                       s->>'class', s->>'label', (s->>'minValue')::float8, s->>'unit') AS selected
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(pair, n), LATERAL (SELECT pair->0 AS c, pair->1 AS s) p
              ORDER BY n`,
            [JSON.stringify(cases)],
          ),
        );
        expect(rows.map((r) => r.selected)).toEqual(cases.map(([f, s]) => footprintSelected(f, s)));
      }),
      { seed: Number(process.env.FC_SEED ?? 20261206), numRuns: 200 },
    );
  });
});
