import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as turf from '@turf/turf';
import fc from 'fast-check';
import type { Geometry } from 'geojson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importAreas } from '../../src/areas/import-areas.ts';
import { adapterFor } from '../../src/feeds/adapters/index.ts';
import { loadFeedsConfig } from '../../src/feeds/config.ts';
import { checkFootprints, hazardLimits, loadHazardLimits, PLACE_MARGIN_DEGREES } from '../../src/feeds/footprint-checks.ts';
import { listQuarantine } from '../../src/feeds/health.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import type { HazardEventVersion, SourceName } from '../../src/feeds/model.ts';
import { namedPlaceExtents } from '../../src/feeds/named-places.ts';
import { runFeed } from '../../src/feeds/run-feed.ts';
import { geometryProblem } from '../../src/feeds/validate.ts';
import { boxesMeet, extentOf, swapLatLon, type Box } from '../../src/geo/extent.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';
import { kenyaAdm1, sharedData } from '../support/paths.ts';

/**
 * Geometry checks that mean it: lat/lon swaps whose values stay in range are caught where a feed's
 * bbox or the country the source names says where the event should be; a whole-world polygon and
 * an oversized one are quarantined; a box written across the antimeridian is split, not read as a
 * band around the globe.
 */

const SEED = 20261207;
const KENYA: Box = turf.bbox(JSON.parse(readFileSync(kenyaAdm1, 'utf8'))) as Box;
const KENYA_CENTRE = [(KENYA[0] + KENYA[2]) / 2, (KENYA[1] + KENYA[3]) / 2];
const limits = hazardLimits(2e7, {});

/** An event of `hazard` naming `countries`, with these footprints. */
const eventWith = (geometries: Geometry[], countries = ['KEN'], hazard: HazardEventVersion['hazard'] = 'drought'): HazardEventVersion => ({
  source: 'gdacs', externalId: 'test', aliases: [], version: '1', versionRank: 1, hazard, eventAlertLevel: 'orange', episodeAlertLevel: 'orange',
  severity: [], footprints: geometries.map((geometry) => ({ class: 'shape', geometry })), validFrom: null, validTo: null, issuedAt: null,
  title: null, countries, link: null, status: 'actual', supersedes: [], cancels: false, pcodes: [], properties: {},
});

/** Every position moved by (dx, dy) degrees. */
function translate<G extends Geometry>(geometry: G, dx: number, dy: number): G {
  return JSON.parse(JSON.stringify(geometry, (key, value) => (key === 'coordinates' ? shift(value, dx, dy) : value))) as G;
}
const shift = (coords: unknown, dx: number, dy: number): unknown =>
  Array.isArray(coords) && typeof coords[0] === 'number' ? [coords[0] + dx, coords[1] + dy, ...coords.slice(2)] : Array.isArray(coords) ? coords.map((c) => shift(c, dx, dy)) : coords;

/** The footprint moved so the centre of its extent is the centre of Kenya. */
function overKenya(geometry: Geometry): Geometry {
  const [w, s, e, n] = extentOf(geometry)!;
  return translate(geometry, KENYA_CENTRE[0] - (w + e) / 2, KENYA_CENTRE[1] - (s + n) / 2);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

/** Every footprint the adapters read from the recorded GDACS, USGS, CAP and IPC payloads. */
function recordedFootprints(): { file: string; geometry: Geometry }[] {
  const folders: Record<string, SourceName> = { gdacs: 'gdacs', usgs: 'usgs', cap: 'cap', food_security: 'ipc' };
  const out: { file: string; geometry: Geometry }[] = [];
  for (const [folder, source] of Object.entries(folders)) {
    for (const file of listFiles(path.join(sharedData, 'feeds', folder))) {
      let events: HazardEventVersion[];
      try {
        events = adapterFor(source)!.parse(readFileSync(file), { pcodeFor: () => undefined }).events;
      } catch {
        continue; // not a payload with events (PAGER losses)
      }
      for (const event of events) for (const f of event.footprints) out.push({ file: path.basename(file), geometry: f.geometry });
    }
  }
  return out;
}

describe('lat/lon swaps of real footprints over Kenya', () => {
  const footprints = recordedFootprints();
  const places = new Map([['KEN', KENYA]]);

  it('stores every real footprint moved over Kenya (no false alarm) and catches every one of them swapped, in range or not', () => {
    const falseAlarms = footprints.filter(({ geometry }) => 'problem' in checkFootprints(eventWith([overKenya(geometry)]), { places, limits }));
    expect(falseAlarms.map((f) => f.file)).toEqual([]);

    const swapped = footprints.map(({ file, geometry }) => ({ file, geometry: swapLatLon(overKenya(geometry)) }));
    // The WGS84 range check alone sees only the widest: over Kenya, most swapped latitudes stay in range.
    const inRange = swapped.filter(({ geometry }) => geometryProblem(geometry) === null);
    expect([footprints.length, inRange.length]).toEqual([400, 395]);
    const verdicts = swapped.map(({ geometry }) => checkFootprints(eventWith([geometry]), { places, limits }));
    const caught = verdicts.filter((v) => 'problem' in v && /looks like swapped lat\/lon/.test(v.problem));
    expect(caught).toHaveLength(swapped.length);
  });

  it("catches them against a feed's declared bbox too, where the source names no country", () => {
    const feedBox: Box = [33, -5, 42, 6];
    const verdicts = footprints.map(({ geometry }) => checkFootprints(eventWith([swapLatLon(overKenya(geometry))], []), { feedBox, places, limits }));
    expect(verdicts.filter((v) => 'problem' in v && /outside the feed's declared bbox .*looks like swapped lat\/lon/.test(v.problem))).toHaveLength(footprints.length);
  });
});

describe('swap detection, against an independent reading', () => {
  const box = (w: number, s: number, width: number, height: number): Geometry => turf.bboxPolygon([w, s, w + width, s + height]).geometry;

  it('catches every box inside Kenya once swapped', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }), (x, y, size) => {
        const width = size * (KENYA[2] - KENYA[0]) * (1 - x);
        const height = size * (KENYA[3] - KENYA[1]) * (1 - y);
        const footprint = box(KENYA[0] + x * (KENYA[2] - KENYA[0]) * (1 - size), KENYA[1] + y * (KENYA[3] - KENYA[1]) * (1 - size), width, height);
        const verdict = checkFootprints(eventWith([swapLatLon(footprint)]), { places: new Map([['KEN', KENYA]]), limits });
        expect('problem' in verdict && verdict.problem).toMatch(/looks like swapped lat\/lon/);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('calls a footprint swapped exactly when it misses the named place and its [lat, lon] reading meets it (turf polygons as the oracle)', () => {
    const coordinate = (max: number) => fc.integer({ min: -max, max });
    const place = fc.tuple(coordinate(170), coordinate(80), fc.integer({ min: 1, max: 15 }), fc.integer({ min: 1, max: 15 }));
    fc.assert(
      fc.property(place, place, ([w, s, width, height], [pw, ps, pwidth, pheight]) => {
        const footprint = box(w, s, Math.min(width, 180 - w), Math.min(height, 90 - s));
        const named: Box = [pw, ps, Math.min(pw + pwidth, 180), Math.min(ps + pheight, 90)];
        const grown = turf.bboxPolygon([named[0] - PLACE_MARGIN_DEGREES, named[1] - PLACE_MARGIN_DEGREES, named[2] + PLACE_MARGIN_DEGREES, named[3] + PLACE_MARGIN_DEGREES]);
        const meets = (g: Geometry) => turf.booleanIntersects(turf.bboxPolygon(turf.bbox(g) as Box), grown);
        const expected = meets(footprint) ? 'stored' : meets(swapLatLon(footprint)) ? 'swapped' : 'outside';
        const verdict = checkFootprints(eventWith([footprint], ['XXX']), { places: new Map([['XXX', named]]), limits: hazardLimits(1e12, {}) });
        const actual = !('problem' in verdict) ? 'stored' : /looks like swapped/.test(verdict.problem) ? 'swapped' : 'outside';
        expect(actual).toBe(expected);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe('the whole world, the antimeridian and oversized footprints', () => {
  const places = new Map<string, Box>();

  it('quarantines a whole-world polygon for every hazard, saying it spans the globe', async () => {
    const world = turf.bboxPolygon([-180, -90, 180, 90]).geometry;
    const shipped = await loadHazardLimits();
    for (const hazard of ['drought', 'flood', 'earthquake', 'tropical_cyclone', 'food_insecurity'] as const) {
      const verdict = checkFootprints(eventWith([world], [], hazard), { places, limits: shipped });
      expect('problem' in verdict && verdict.problem).toMatch(/covers 510,\d{3},\d{3} km², it spans the whole globe: more than the [\d,]+ km² a .* footprint plausibly covers/);
    }
  });

  it('splits a box written across the antimeridian (170 → -170) at 180° instead of spanning the globe', () => {
    const written: Geometry = { type: 'Polygon', coordinates: [[[170, -20], [-170, -20], [-170, -10], [170, -10], [170, -20]]] };
    const verdict = checkFootprints(eventWith([written], [], 'tropical_cyclone'), { places, limits });
    if ('problem' in verdict) throw new Error(verdict.problem);
    const stored = verdict.event.footprints[0].geometry;
    expect(stored.type).toBe('MultiPolygon');
    expect(extentOf(stored)).toEqual([-180, -20, 180, -10]);
    // The two halves are 10° by 10° each: the area of a 20° by 10° box, not of a band round the globe.
    const expected = turf.area(turf.bboxPolygon([0, -20, 20, -10]));
    expect(turf.area(stored)).toBeCloseTo(expected, -6);
    for (const part of (stored as { coordinates: number[][][][] }).coordinates) {
      const [w, , e] = turf.bbox(turf.polygon(part));
      expect(e - w).toBeCloseTo(10, 9);
    }
  });

  it('quarantines a footprint larger than its hazard plausibly covers, naming the limit', async () => {
    const shipped = await loadHazardLimits();
    const big = turf.bboxPolygon([20, -15, 45, 10]).geometry; // ~7.5 million km²: a continent's quarter
    const flood = checkFootprints(eventWith([big], [], 'flood'), { places, limits: shipped });
    expect('problem' in flood && flood.problem).toMatch(/^footprint 0 \(shape\) covers 7,\d{3},\d{3} km²: more than the 3,000,000 km² a flood footprint plausibly covers/);
    expect('event' in checkFootprints(eventWith([big], [], 'drought'), { places, limits: shipped })).toBe(true);
  });
});

describe('geometry checks through ingest (real Kenya boundaries in the areas table)', () => {
  let t: TestDatabase;
  const realGeometry = JSON.parse(readFileSync(path.join(sharedData, 'feeds/gdacs/api/dr-1016449-ep1-geometry.json'), 'utf8'));

  /**
   * The recorded GDACS drought geometry payload, each feature moved over Kenya (and optionally
   * written [lat, lon], its bbox too, as a consistent swapping writer would), naming Kenya.
   */
  function gdacsOverKenya(eventId: number, transform: (g: Geometry) => Geometry): Buffer {
    const features = realGeometry.features.map((feature: { geometry: Geometry; properties: Record<string, unknown> }) => {
      const geometry = transform(overKenya(feature.geometry));
      return {
        ...feature, bbox: extentOf(geometry), geometry,
        properties: { ...feature.properties, eventid: eventId, iso3: 'KEN', country: 'Kenya', affectedcountries: [{ iso2: 'KE', iso3: 'KEN', countryname: 'Kenya' }] },
      };
    });
    return Buffer.from(JSON.stringify({ ...realGeometry, bbox: undefined, features }));
  }
  const ingest = (bytes: Buffer, name: string, bbox?: Box) => ingestPayload(t.store, adapterFor('gdacs')!, { source: 'gdacs', bytes, url: `test://${name}.json`, bbox });
  const storedEvents = async () => (await t.store.transaction(({ raw }) => raw.query<{ external_id: string }>(`SELECT external_id FROM hazard_events ORDER BY external_id`))).rows.map((r) => r.external_id);

  beforeAll(async () => {
    t = await createTestDatabase();
    await importAreas(t.store, kenyaAdm1, { level: 1, iso3: 'KEN' });
  });
  afterAll(async () => t?.drop());

  it('stores the real footprints over Kenya and quarantines them written [lat, lon], saying so', async () => {
    expect(await ingest(gdacsOverKenya(9000001, (g) => g), 'over-kenya')).toMatchObject({ versionsAdded: 1, quarantined: 0 });
    const swapped = await ingest(gdacsOverKenya(9000002, swapLatLon), 'over-kenya-swapped');
    expect(swapped).toMatchObject({ eventsAdded: 0, versionsAdded: 0, quarantined: 1 });
    expect(await storedEvents()).toEqual(['DR9000001']);
    const [entry] = (await listQuarantine(t.store)).filter((q) => q.location.includes('9000002'));
    expect(entry.reason).toMatch(/^footprint 0 \(Point_Centroid\) lies at \[0\.\d+, 37\.\d+, 0\.\d+, 37\.\d+\], more than 3° outside KEN \[33\.91, -4\.67, 41\.91, 5\.41\] that the source names; read as \[lat, lon\] it lies there: it looks like swapped lat\/lon$/);
  });

  it('reads the extents of the countries and areas (P-codes, as CAP geocodes map to) that events name from the imported boundaries', async () => {
    const event = { ...eventWith([]), countries: ['KEN', 'SOM'], pcodes: ['KE023'] };
    const places = await t.store.transaction((tx) => namedPlaceExtents(tx, [event]));
    expect([...places.keys()].sort()).toEqual(['KE023', 'KEN']); // Somalia's boundaries are not imported
    expect(places.get('KEN')!.map((x) => Number(x.toFixed(2)))).toEqual(KENYA.map((x) => Number(x.toFixed(2))));
    const turkana = places.get('KE023')!;
    expect(boxesMeet(turkana, KENYA) && turkana[0] >= KENYA[0] && turkana[2] <= KENYA[2]).toBe(true);
    // Named by P-code alone, a swapped shape is caught against the area's extent.
    const inTurkana = turf.bboxPolygon([35, 3, 35.5, 3.5]).geometry;
    const verdict = checkFootprints({ ...eventWith([swapLatLon(inTurkana)], []), pcodes: ['KE023'] }, { places, limits });
    expect('problem' in verdict && verdict.problem).toMatch(/outside KE023 .* it looks like swapped lat\/lon/);
  });

  it('quarantines a whole-world drought polygon and stores an antimeridian box split in two', async () => {
    const world = turf.bboxPolygon([-180, -90, 180, 90]).geometry;
    expect(await ingest(gdacsOverKenya(9000003, () => world), 'world')).toMatchObject({ versionsAdded: 0, quarantined: 1 });
    const reasons = (await listQuarantine(t.store)).filter((q) => q.location.includes('9000003')).map((q) => q.reason);
    expect(reasons).toEqual([expect.stringMatching(/covers 510,\d{3},\d{3} km², it spans the whole globe/)]);

    const antimeridian: Geometry = { type: 'Polygon', coordinates: [[[175, -20], [-175, -20], [-175, -15], [175, -15], [175, -20]]] };
    const fiji = JSON.parse(gdacsOverKenya(9000004, () => antimeridian).toString());
    for (const f of fiji.features) f.properties = { ...f.properties, iso3: 'FJI', country: 'Fiji', affectedcountries: [{ iso2: 'FJ', iso3: 'FJI', countryname: 'Fiji' }] };
    expect(await ingest(Buffer.from(JSON.stringify(fiji)), 'antimeridian')).toMatchObject({ versionsAdded: 1, quarantined: 0 });
    const { rows } = await t.store.transaction(({ raw }) => raw.query<{ km2: number; parts: number }>(
      `SELECT round(ST_Area(f.geom::geography) / 1e6)::float8 AS km2, ST_NumGeometries(f.geom) AS parts
         FROM hazard_footprints f JOIN hazard_event_versions v ON v.id = f.version_id JOIN hazard_events e ON e.id = v.event_id
        WHERE e.external_id = 'DR9000004' AND f.class = 'Poly_area'`,
    ));
    // 10° by 5° at 15–20° S: about 570,000 km², in two parts, not a band of 350° round the globe.
    expect(rows).toHaveLength(1);
    expect(rows[0].parts).toBe(2);
    expect(rows[0].km2).toBeGreaterThan(500_000);
    expect(rows[0].km2).toBeLessThan(650_000);
  });

  it("quarantines footprints outside a feed's declared bbox (feeds config), and refuses a bbox that is not west, south, east, north", async () => {
    const payload = await tempFile('swapped.json', gdacsOverKenya(9000005, swapLatLon));
    const config = await tempFile('feeds.yaml', `feeds:
  - name: kenya-gdacs
    adapter: gdacs
    url: ${payload}
    schedule: "0 * * * *"
    bbox: [33, -5, 42, 6]
`);
    const [feed] = await loadFeedsConfig(config);
    expect(feed.bbox).toEqual([33, -5, 42, 6]);
    const run = await runFeed(t.store, feed);
    expect(run).toMatchObject({ status: 'success', versionsAdded: 0, quarantined: 1 });
    const reasons = (await listQuarantine(t.store)).filter((q) => q.location.includes('9000005')).map((q) => q.reason);
    expect(reasons).toEqual([expect.stringMatching(/outside the feed's declared bbox \[33, -5, 42, 6\]; read as \[lat, lon\] it lies inside: it looks like swapped lat\/lon/)]);

    const bad = await tempFile('feeds-bad.yaml', 'feeds:\n  - name: x\n    adapter: gdacs\n    url: x.json\n    schedule: "0 * * * *"\n    bbox: [42, -5, 33, 6]\n');
    await expect(loadFeedsConfig(bad)).rejects.toMatchObject({ details: [expect.stringMatching(/feeds-bad\.yaml:6: feeds\.0\.bbox: must be \[west, south, east, north\]/)] });
  });
});
