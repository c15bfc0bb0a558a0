import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MultiPolygon, Point, Polygon, Position } from 'geojson';
import { describe, expect, it } from 'vitest';
import { bboxGeometry, footprintLevel, gdacsAdapter, gdacsBoolean, normaliseAlert } from '../../src/feeds/adapters/gdacs.ts';
import { PayloadError, type Footprint, type HazardEventVersion, type ParseResult } from '../../src/feeds/model.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shared = (...parts: string[]) => path.resolve(root, '../shared/data/feeds/gdacs', ...parts);
const fixture = (name: string) => path.resolve(root, 'test/fixtures/feeds/gdacs', name);
const context = { pcodeFor: () => undefined };

const parse = (payload: Buffer | string): ParseResult =>
  gdacsAdapter.parse(Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'), context);
const cache = new Map<string, ParseResult>();
/** Parses a file once per run (the 7-day feed is 1.5 MB); tests only read the result. */
const parseFile = (file: string): ParseResult => {
  if (!cache.has(file)) cache.set(file, parse(readFileSync(file)));
  return cache.get(file)!;
};
const json = (value: unknown): string => JSON.stringify(value);

const RSS = shared('rss_2019-12-30_gdacs-rss.xml');
const RSS_24H = shared('rss_2019-12-30_gdacs-rss-24h.xml');
const RSS_7D = shared('rss_2019-12-30_gdacs-rss-7d.xml');
const RSS_HDX = shared('rss_2024-12-10_ocha-hdx-fixture.xml');

function byId(result: ParseResult, externalId: string): HazardEventVersion {
  const found = result.events.filter((e) => e.externalId === externalId);
  expect(found, externalId).toHaveLength(1);
  return found[0];
}
function footprint(event: HazardEventVersion, cls: string): Footprint {
  const found = event.footprints.filter((f) => f.class === cls);
  expect(found, cls).toHaveLength(1);
  return found[0];
}
function vertexCount(f: Footprint): number {
  const g = f.geometry as Polygon | MultiPolygon;
  return g.type === 'Polygon' ? g.coordinates.flat().length : g.coordinates.flat(2).length;
}
const lonLatRange = (ring: Position[]) => ({
  lon: [Math.min(...ring.map((p) => p[0])), Math.max(...ring.map((p) => p[0]))],
  lat: [Math.min(...ring.map((p) => p[1])), Math.max(...ring.map((p) => p[1]))],
});

/** A minimal GDACS RSS document around the given items. */
const rss = (items: string) => `<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:geo="http://www.w3.org/2003/01/geo/wgs84_pos#" xmlns:gdacs="http://www.gdacs.org" xmlns:georss="http://www.georss.org/georss">
  <channel><title>GDACS RSS information</title>${items}</channel>
</rss>`;
const item = (fields: Record<string, string | null>, extra = '') => {
  const base: Record<string, string | null> = {
    guid: '<guid isPermaLink="false">EQ1500000</guid>',
    eventtype: '<gdacs:eventtype>EQ</gdacs:eventtype>',
    eventid: '<gdacs:eventid>1500000</gdacs:eventid>',
    episodeid: '<gdacs:episodeid>1700000</gdacs:episodeid>',
    alertlevel: '<gdacs:alertlevel>Green</gdacs:alertlevel>',
    episodealertlevel: '<gdacs:episodealertlevel>Green</gdacs:episodealertlevel>',
    point: '<geo:Point><geo:lat>-1.25</geo:lat><geo:long>36.8</geo:long></geo:Point>',
    georss: '<georss:point>-1.25 36.8</georss:point>',
    bbox: '<gdacs:bbox>32.8 40.8 -5.25 2.75</gdacs:bbox>',
    ...fields,
  };
  return `<item>${Object.values(base).filter(Boolean).join('')}${extra}</item>`;
};

// ------------------------------------------------------------------------------------------------

describe('GDACS RSS, real samples', () => {
  it('reads every item of the three 2019 feeds and the 2024 HDX fixture, rejecting none', () => {
    const counts = [RSS, RSS_24H, RSS_7D, RSS_HDX].map((f) => {
      const r = parseFile(f);
      expect(r.rejected).toEqual([]);
      expect(r.indicators).toEqual([]);
      return r.events.length;
    });
    expect(counts).toEqual([16, 21, 115, 2]);

    const week = parseFile(RSS_7D).events;
    const hazards = week.reduce<Record<string, number>>((m, e) => ({ ...m, [e.hazard]: (m[e.hazard] ?? 0) + 1 }), {});
    expect(hazards).toEqual({ drought: 11, earthquake: 100, tropical_cyclone: 3, volcano: 1 });
    const volcano = byId(parseFile(RSS_7D), 'VO284096');
    expect(volcano).toMatchObject({ hazard: 'volcano', version: '1', versionRank: 1, countries: ['JPN'] });
    expect(volcano.properties.eventname).toBe('Nishinoshima');
    // VO has `<gdacs:severity unit="" value="0" />`: a value and no unit
    expect(volcano.severity[0]).toEqual({ name: 'severity', value: 0, unit: null, text: null });
  });

  it('uses eventtype+eventid as the identity (= the guid) and episodeid as the version', () => {
    for (const f of [RSS, RSS_24H, RSS_7D, RSS_HDX]) {
      for (const e of parseFile(f).events) {
        expect(e.source).toBe('gdacs');
        expect(e.externalId).toBe(e.properties.guid);
        expect(e.externalId).toMatch(/^(EQ|TC|DR|VO)\d+$/);
        expect(e.version).toMatch(/^\d+$/);
        expect(e.versionRank).toBe(Number(e.version));
        expect(e.status).toBe('actual');
        expect(['green', 'orange', 'red']).toContain(e.eventAlertLevel);
        expect(['green', 'orange', 'red']).toContain(e.episodeAlertLevel);
      }
    }
    // EQ episode ids are large global numbers, TC/DR ones sequential
    expect(byId(parseFile(RSS_HDX), 'EQ1457082')).toMatchObject({ version: '1608281', versionRank: 1608281 });
    expect(byId(parseFile(RSS), 'DR1012728')).toMatchObject({ version: '43', versionRank: 43 });
  });

  it('strips the UTF-8 BOM and the double-encoded BOM', () => {
    const plain = readFileSync(RSS);
    const doubled = readFileSync(RSS_HDX);
    expect([...plain.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect([...doubled.subarray(0, 6)]).toEqual([0xc3, 0xaf, 0xc2, 0xbb, 0xc2, 0xbf]);
    expect(parse(plain).events).toHaveLength(16);
    expect(parse(doubled).events.map((e) => e.externalId)).toEqual(['EQ1457082', 'EQ1456937']);
    // and on a document of our own
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rss(item({})))]);
    expect(parse(bom).events.map((e) => e.externalId)).toEqual(['EQ1500000']);
  });

  it('reads gdacs:bbox as lonmin lonmax latmin latmax and georss:point as lat lon', () => {
    const tc = byId(parseFile(RSS), 'TC1000643'); // bbox 55.078 81.078 -46.783 -20.783
    expect((footprint(tc, 'Point_Centroid').geometry as Point).coordinates).toEqual([59.8, -19.4]);
    const box = footprint(tc, 'bbox').geometry as Polygon;
    expect(box.type).toBe('Polygon');
    const ring = box.coordinates[0];
    expect(ring).toHaveLength(5);
    expect(ring[0]).toEqual(ring[4]);
    const range = lonLatRange(ring);
    expect(range.lon[0]).toBeCloseTo(55.0780533046962, 9);
    expect(range.lon[1]).toBeCloseTo(81.0780533046962, 9);
    expect(range.lat[0]).toBeCloseTo(-46.7828750315965, 9);
    expect(range.lat[1]).toBeCloseTo(-20.7828750315965, 9);
  });

  it('splits a bbox that overshoots the antimeridian (lonmin -181.2133) into two boxes', () => {
    const eq = byId(parseFile(RSS_HDX), 'EQ1457082');
    expect((footprint(eq, 'Point_Centroid').geometry as Point).coordinates).toEqual([-177.2133, 51.1125]);
    const box = footprint(eq, 'bbox').geometry as MultiPolygon;
    expect(box.type).toBe('MultiPolygon');
    const [east, west] = box.coordinates.map((p) => lonLatRange(p[0]));
    expect(east.lon[0]).toBeCloseTo(178.7867, 6);
    expect(east.lon[1]).toBe(180);
    expect(west.lon).toEqual([-180, -173.2133]);
    expect(east.lat).toEqual([47.1125, 55.1125]);
    expect(west.lat).toEqual([47.1125, 55.1125]);
    // the same holds for the other four boxes that cross it in the 7-day feed
    const crossing = parseFile(RSS_7D).events.filter((e) => footprint(e, 'bbox').geometry.type === 'MultiPolygon');
    expect(crossing.length).toBe(4);
  });

  it('keeps the EQ magnitude (unit M) and the population as a second measure', () => {
    const quakes = parseFile(RSS_7D).events.filter((e) => e.hazard === 'earthquake');
    expect(quakes).toHaveLength(100);
    for (const q of quakes) {
      expect(q.severity[0].name).toBe('magnitude');
      expect(q.severity[0].unit).toBe('M');
      expect(q.severity[0].value).toBeGreaterThanOrEqual(4);
      expect(q.severity[0].value).toBeLessThan(10);
      expect(q.severity[0].text).toMatch(/^Magnitude /);
      expect(q.severity[1].name).toBe('population');
    }
    const eq = byId(parseFile(RSS_HDX), 'EQ1457082');
    expect(eq.severity).toEqual([
      { name: 'magnitude', value: 5.8, unit: 'M', text: 'Magnitude 5.8M, Depth:28.6km' },
      { name: 'population', value: 204, unit: 'in MMI&>=III', text: 'Few people affected in MMI&>=III' },
    ]);
  });

  it('keeps the TC maximum wind speed in km/h', () => {
    const tc = byId(parseFile(RSS), 'TC1000643');
    expect(tc).toMatchObject({ hazard: 'tropical_cyclone', eventAlertLevel: 'green', episodeAlertLevel: 'green', countries: ['MUS'] });
    expect(tc.severity[0]).toEqual({
      name: 'max_wind_speed', value: 92.592, unit: 'km/h', text: 'Tropical Storm (maximum wind speed of 93 km/h)',
    });
    expect(tc.severity[1]).toMatchObject({ name: 'population', value: 0, unit: 'Pop74' });
    const glide = parseFile(RSS_7D).events.filter((e) => e.properties.glide === 'TC-2019-000176-PHL');
    expect(glide.map((e) => e.hazard)).toEqual(['tropical_cyclone']);
  });

  it('maps DR items: orange alerts, km2 severity, time window', () => {
    const dr = byId(parseFile(RSS), 'DR1012728');
    expect(dr).toMatchObject({
      hazard: 'drought', eventAlertLevel: 'orange', episodeAlertLevel: 'orange', countries: ['AGO'],
      validFrom: '2018-10-21T00:00:00.000Z', validTo: '2019-12-30T01:37:00.000Z',
      link: 'http://www.gdacs.org/report.aspx?eventtype=DR&eventid=1012728',
    });
    expect(dr.severity[0]).toMatchObject({ name: 'affected_area', value: 1775934, unit: 'km2' });
    expect(dr.properties).toMatchObject({ iscurrent: false, temporary: false, version: 0, alertscore: 2 });
  });

  it('takes issuedAt from gdacs:datemodified (2024 schema) or pubDate (2019), and converts the flags', () => {
    const eq = byId(parseFile(RSS_HDX), 'EQ1457082');
    expect(eq).toMatchObject({
      issuedAt: '2024-12-10T20:09:43.000Z', // datemodified, not pubDate 18:09:57
      validFrom: '2024-12-10T18:04:35.000Z',
      validTo: '2024-12-10T18:04:35.000Z',
      countries: ['USA'],
      link: 'https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1457082',
      title: 'Green earthquake alert (Magnitude 5.8M, Depth:28.583km) in United States 10/12/2024 18:04 UTC, Few people affected in 100km.',
    });
    expect(eq.properties).toMatchObject({
      iscurrent: true, temporary: false, glide: null, alertscore: 0, episodealertscore: 1,
      calculationtype: 'earthquakeonly', version: 1, dateadded: '2024-12-10T18:09:57.000Z',
    });
    const old = byId(parseFile(RSS), 'TC1000643');
    expect(old.issuedAt).toBe('2019-12-29T12:00:00.000Z'); // pubDate
    expect(old.properties.iscurrent).toBe(true);
  });

  it('gives an empty country list for an empty gdacs:iso3', () => {
    const eq = byId(parseFile(RSS_24H), 'EQ1200043');
    expect(eq.countries).toEqual([]);
    expect(parse(rss(item({}, '<gdacs:iso3>KEN, SOM;ETH</gdacs:iso3>'))).events[0].countries).toEqual(['KEN', 'SOM', 'ETH']);
  });

  it('finds the same versions in the 24h and 7d feeds, re-issued later', () => {
    const day = parseFile(RSS_24H).events;
    const week = parseFile(RSS_7D).events;
    for (const e of day) {
      const w = byId({ events: week, indicators: [], rejected: [] }, e.externalId);
      expect(w.version).toBe(e.version);
      expect(w.episodeAlertLevel).toBe(e.episodeAlertLevel);
    }
    // DR items carry a todate that moves with each feed run
    expect(byId(parseFile(RSS_24H), 'DR1012728').issuedAt).toBe('2019-12-30T00:17:00.000Z');
    expect(byId(parseFile(RSS_7D), 'DR1012728').issuedAt).toBe('2019-12-30T00:57:00.000Z');
  });
});

// ------------------------------------------------------------------------------------------------

describe('GDACS events API and geometry documents, real samples', () => {
  const dr = (ep: number, kind: 'event' | 'geometry') => parseFile(shared('api', `dr-1016449-ep${ep}-${kind}.json`));

  it('reads DR 1016449 episodes 1, 5, 7 as three versions of one event', () => {
    const events = [1, 5, 7].map((ep) => dr(ep, 'event'));
    const geometries = [1, 5, 7].map((ep) => dr(ep, 'geometry'));
    for (const r of [...events, ...geometries]) {
      expect(r.rejected).toEqual([]);
      expect(r.events).toHaveLength(1);
    }
    const ev = events.map((r) => r.events[0]);
    const geo = geometries.map((r) => r.events[0]);
    for (const list of [ev, geo]) {
      expect(list.map((e) => e.externalId)).toEqual(['DR1016449', 'DR1016449', 'DR1016449']);
      expect(list.map((e) => e.version)).toEqual(['1', '5', '7']);
      expect(list.map((e) => e.versionRank)).toEqual([1, 5, 7]);
      expect(list.map((e) => e.episodeAlertLevel)).toEqual(['green', 'orange', 'orange']);
      expect(list.map((e) => e.eventAlertLevel)).toEqual(['green', 'green', 'green']);
      expect(list.map((e) => e.properties.episodealertscore)).toEqual([0.5, 1, 1.25]);
      for (const e of list) {
        expect(e).toMatchObject({
          hazard: 'drought',
          countries: ['ARG', 'BOL', 'BRA', 'PRY'],
          validFrom: '2023-06-11T00:00:00.000Z', // "2023-06-11T00:00:00", no zone = UTC
          validTo: '2026-05-10T00:00:00.000Z',
          issuedAt: '2026-06-03T13:07:01.000Z',
          title: 'Drought in Argentina, Bolivia, Brazil, Paraguay',
        });
        expect(e.severity).toEqual([
          { name: 'affected_area', value: 320952, unit: 'km2', text: 'Minor impact for agricultural drought in 320952 km2' },
        ]);
        expect(e.properties).toMatchObject({ iscurrent: false, temporary: false, glide: 'DR-2023-000204-BRA', source: 'GDO' });
      }
    }
    // the event documents bring the centroid and the geometry link
    ev.forEach((e, i) => {
      expect(e.properties.payload).toBe('event');
      expect(e.footprints).toHaveLength(1);
      expect(footprint(e, 'Point_Centroid').geometry).toEqual({ type: 'Point', coordinates: [-53.808, -24.245] });
      expect(e.properties.geometryUrl).toBe(
        `https://www.gdacs.org/gdacsapi/api/polygons/getgeometry?eventtype=DR&eventid=1016449&episodeid=${[1, 5, 7][i]}`,
      );
      expect(e.link).toBe(`https://www.gdacs.org/report.aspx?eventid=1016449&episodeid=${[1, 5, 7][i]}&eventtype=DR`);
    });
    // the geometry documents bring the affected area, which grows from episode to episode
    expect(geo.map((e) => e.properties.payload)).toEqual(['geometry', 'geometry', 'geometry']);
    expect(geo.map((e) => e.footprints.map((f) => f.class))).toEqual([
      ['Point_Centroid', 'Poly_area'], ['Point_Centroid', 'Poly_area'], ['Point_Centroid', 'Poly_area'],
    ]);
    const areas = geo.map((e) => footprint(e, 'Poly_area'));
    expect(areas.map((f) => f.label)).toEqual(['Affected Area', 'Affected Area', 'Affected Area']);
    expect(areas.map((f) => f.geometry.type)).toEqual(['MultiPolygon', 'MultiPolygon', 'MultiPolygon']);
    const vertices = areas.map(vertexCount);
    expect(vertices[0]).toBe(217);
    expect(vertices[2]).toBeGreaterThan(vertices[1]);
    expect(vertices[1]).toBeGreaterThan(vertices[0]);
    expect(geo.map((e) => e.properties.polygondate)).toEqual([
      '2023-09-06T12:19:52.000Z', '2023-10-20T13:59:20.000Z', '2023-11-14T08:19:49.000Z',
    ]);
  });

  it('reads the 535 KB FL 1102983 ep2 geometry: Poly_Affected and Poly_Global, event orange vs episode green', () => {
    const r = parseFile(shared('api', 'fl-1102983-ep2-geometry.json'));
    expect(r.rejected).toEqual([]);
    expect(r.events).toHaveLength(1);
    const fl = r.events[0];
    expect(fl).toMatchObject({
      externalId: 'FL1102983', version: '2', versionRank: 2, hazard: 'flood',
      eventAlertLevel: 'orange', episodeAlertLevel: 'green', countries: ['ESP'],
      validFrom: '2024-10-27T15:00:00.000Z', validTo: '2024-11-04T11:00:00.000Z',
    });
    expect(fl.footprints.map((f) => [f.class, f.label, f.geometry.type])).toEqual([
      ['Point_Centroid', 'Centroid', 'Point'],
      ['Poly_Affected', 'Affected area', 'MultiPolygon'],
      ['Poly_Global', 'Global area', 'MultiPolygon'],
    ]);
    expect(vertexCount(footprint(fl, 'Poly_Global'))).toBeGreaterThan(vertexCount(footprint(fl, 'Poly_Affected')));
    expect(fl.properties).toMatchObject({ source: 'GLOFAS', sourceid: '3f2eac19-ee5a-4923-a3b4-1dd82818943f' });
    // FL severity has an empty unit
    expect(fl.severity).toEqual([{ name: 'severity', value: 0, unit: null, text: 'Magnitude 0' }]);
  });

  it('keeps the FL event documents’ alert change and sendai counts', () => {
    const [ep1, ep2] = [1, 2].map((ep) => parseFile(shared('api', `fl-1102983-ep${ep}-event.json`)).events[0]);
    expect([ep1.episodeAlertLevel, ep2.episodeAlertLevel]).toEqual(['orange', 'green']);
    expect([ep1.eventAlertLevel, ep2.eventAlertLevel]).toEqual(['orange', 'orange']);
    const sendai = ep2.properties.sendai as Array<Record<string, unknown>>;
    expect(sendai).toHaveLength(14);
    expect(sendai[0]).toMatchObject({ type: 'B', name: 'rescued', value: 26, region: 'Cullera', latest: true, onset: '2024-10-28T01:00:00.000Z' });
    expect(sendai.filter((s) => s.name === 'death' && s.latest).map((s) => s.value)).toEqual([1, 1, 62]);
    expect(ep2.properties.geometryUrl).toBe('https://www.gdacs.org/gdacsapi/api/polygons/getgeometry?eventtype=FL&eventid=1102983&episodeid=2');
  });

  it('reads an event list (FeatureCollection of Point features without episodes) as one version per feature', () => {
    // no list response was recorded; build one from the event documents as the API list endpoints do
    const docs = ['dr-1016449-ep1', 'dr-1016449-ep5', 'dr-1016449-ep7', 'fl-1102983-ep1', 'fl-1102983-ep2'].map((n) => {
      const doc = JSON.parse(readFileSync(shared('api', `${n}-event.json`), 'utf8'));
      for (const k of ['episodes', 'impacts', 'images', 'additionalinfos', 'documents', 'sendai']) delete doc.properties[k];
      return doc;
    });
    const r = parse(json({ type: 'FeatureCollection', features: docs }));
    expect(r.rejected).toEqual([]);
    expect(r.events.map((e) => `${e.externalId}/${e.version}/${e.episodeAlertLevel}`)).toEqual([
      'DR1016449/1/green', 'DR1016449/5/orange', 'DR1016449/7/orange', 'FL1102983/1/orange', 'FL1102983/2/green',
    ]);
    for (const e of r.events) {
      expect(e.properties.payload).toBe('eventlist');
      expect(e.footprints.map((f) => f.class)).toEqual(['Point_Centroid']);
      expect(e.properties.sendai).toBeUndefined();
    }
    // eventsbyarea adds a top-level "bbox": null; an empty list is a valid empty result
    expect(parse(json({ type: 'FeatureCollection', bbox: null, features: [] }))).toEqual({ events: [], indicators: [], rejected: [] });
  });
});

// ------------------------------------------------------------------------------------------------

describe('GDACS geometry documents not in the recorded samples (own fixtures)', () => {
  it('reads a TC geometry: wind buffers with colour labels and km/h levels, cones, track', () => {
    const r = parseFile(fixture('tc-1001111-ep14-geometry.json'));
    expect(r.events).toHaveLength(1);
    const tc = r.events[0];
    expect(tc).toMatchObject({
      externalId: 'TC1001111', version: '14', versionRank: 14, hazard: 'tropical_cyclone',
      eventAlertLevel: 'orange', episodeAlertLevel: 'red', countries: ['MOZ', 'MDG'],
      validFrom: '2025-01-26T18:00:00.000Z', validTo: '2025-01-28T06:00:00.000Z', issuedAt: '2025-01-28T07:12:44.000Z',
    });
    expect(tc.severity).toEqual([
      { name: 'max_wind_speed', value: 166.68, unit: 'km/h', text: 'Tropical Cyclone (maximum wind speed of 167 km/h)' },
    ]);
    expect(tc.footprints.map((f) => [f.class, f.label, f.value, f.unit, f.geometry.type])).toEqual([
      ['Point_Centroid', 'Centroid', null, null, 'Point'],
      ['Poly_Green', 'green', 60, 'km/h', 'Polygon'],
      ['Poly_Orange', 'orange', 90, 'km/h', 'Polygon'],
      ['Poly_Red', 'red', 120, 'km/h', 'MultiPolygon'],
      ['Poly_Green', 'green 28/01 06:00', null, null, 'Polygon'], // a per-forecast-time buffer: no level
      ['Poly_Cones', 'Uncertainty Cones', null, null, 'Polygon'],
      ['Line_Line_0', 'TS', null, null, 'LineString'],
      ['Point_Polygon_Point_0', '27/01 18:00', null, null, 'Polygon'],
    ]);
    // the last track dot was written [lat, lon]; its own bbox gives it away
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0].where).toBe('feature 8 (Point_Polygon_Point_1)');
    expect(r.rejected[0].reason).toMatch(/swapped/);
  });

  it('reads an EQ geometry: Poly_SMPInt_{mmi} rings with holes and their MMI', () => {
    const r = parseFile(fixture('eq-1400001-ep1500123-geometry.json'));
    expect(r.rejected).toEqual([]);
    const eq = r.events[0];
    expect(eq).toMatchObject({ externalId: 'EQ1400001', version: '1500123', versionRank: 1500123, hazard: 'earthquake', countries: ['COD', 'RWA'] });
    expect(eq.severity[0]).toMatchObject({ name: 'magnitude', value: 6.1, unit: 'M' });
    expect(eq.footprints.map((f) => [f.class, f.label, f.value, f.unit])).toEqual([
      ['Point_Centroid', 'Centroid', null, null],
      ['Poly_SMPInt_5', 'Intensity 5', 5, 'mmi'],
      ['Poly_SMPInt_6', 'Intensity 6', 6, 'mmi'],
      ['Poly_SMPInt_6.5', 'Intensity 6.5', 6.5, 'mmi'],
    ]);
    const six = footprint(eq, 'Poly_SMPInt_6').geometry as Polygon;
    expect(six.coordinates).toHaveLength(2); // exterior ring and hole, both kept
    expect(six.coordinates.every((ring) => ring.length === 17 && json(ring[0]) === json(ring[16]))).toBe(true);
    const sixHalf = footprint(eq, 'Poly_SMPInt_6.5').geometry as MultiPolygon;
    expect(sixHalf.coordinates.map((p) => p.length)).toEqual([2, 1]);
  });

  it('emits one version per (event, episode) when a geometry document mixes several', () => {
    const doc = JSON.parse(readFileSync(fixture('tc-1001111-ep14-geometry.json'), 'utf8'));
    doc.features = doc.features.slice(0, 4);
    doc.features[2].properties.episodeid = 13;
    doc.features[2].properties.episodealertlevel = 'Orange';
    doc.features[3].properties.eventid = '1001112';
    const r = parse(json(doc));
    expect(r.rejected).toEqual([]);
    expect(r.events.map((e) => [e.externalId, e.version, e.episodeAlertLevel, e.footprints.map((f) => f.class).join(',')])).toEqual([
      ['TC1001111', '14', 'red', 'Point_Centroid,Poly_Green'],
      ['TC1001111', '13', 'orange', 'Poly_Orange'],
      ['TC1001112', '14', 'red', 'Poly_Red'],
    ]);
  });
});

// ------------------------------------------------------------------------------------------------

describe('GDACS malformed and unexpected payloads', () => {
  const geometryDoc = (features: unknown[]) => json({ type: 'FeatureCollection', features });
  const gdacsFeature = (geometry: unknown, props: Record<string, unknown> = {}, bbox?: number[]) => ({
    type: 'Feature',
    ...(bbox ? { bbox } : {}),
    geometry,
    properties: { eventtype: 'FL', eventid: 1200000, episodeid: 3, alertlevel: 'Red', episodealertlevel: 'Orange', Class: 'Poly_Affected', ...props },
  });
  const centroid = gdacsFeature({ type: 'Point', coordinates: [139.7, 35.6] }, { Class: 'Point_Centroid' });
  const square = (x: number, y: number): Position[] => [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]];

  it('refuses invalid XML, an entity bomb, and XML that is not a GDACS RSS feed', () => {
    expect(() => parse('<rss><channel><item></channel></rss>')).toThrow(PayloadError);
    expect(() => parse('<rss><channel><item></channel></rss>')).toThrow(/not well-formed XML/);
    const bomb = `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss><channel><item><title>&lol3;</title></item></channel></rss>`;
    expect(() => parse(bomb)).toThrow(/DOCTYPE or ENTITY/);
    expect(() => parse('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>')).toThrow(/not a GDACS RSS feed/);
    expect(() => parse('<rss version="2.0"></rss>')).toThrow(/without a <channel>/);
    expect(() => parse(rss('<item><title>Some news</title><guid>n1</guid></item>'))).toThrow(/not a GDACS feed/);
  });

  it('returns an empty result for an RSS channel with zero items', () => {
    expect(parse(rss(''))).toEqual({ events: [], indicators: [], rejected: [] });
  });

  it('rejects an item without eventid and keeps the others', () => {
    const text = readFileSync(RSS_HDX, 'latin1').replace('<gdacs:eventid>1457082</gdacs:eventid>', '');
    const r = parse(Buffer.from(text, 'latin1'));
    expect(r.events.map((e) => e.externalId)).toEqual(['EQ1456937']);
    expect(r.rejected).toEqual([{ where: 'item 1 (guid EQ1457082)', reason: 'missing eventid' }]);
  });

  it('rejects items with a bad identity or version, each on its own', () => {
    const r = parse(rss([
      item({ eventid: '<gdacs:eventid>abc</gdacs:eventid>' }),
      item({ episodeid: null, guid: '<guid>EQ2</guid>' }),
      item({ eventtype: '<gdacs:eventtype />', guid: null }),
      item({ eventid: '<gdacs:eventid>1500000</gdacs:eventid><gdacs:eventid>1500001</gdacs:eventid>' }),
      '<item></item>',
      item({ episodeid: '<gdacs:episodeid>0042</gdacs:episodeid>' }),
    ].join('')));
    expect(r.rejected).toEqual([
      { where: 'item 1 (guid EQ1500000)', reason: 'eventid "abc" is not a whole number' },
      { where: 'item 2 (guid EQ2)', reason: 'missing episodeid' },
      { where: 'item 3', reason: 'missing eventtype' },
      { where: 'item 4 (guid EQ1500000)', reason: 'eventid appears 2 times with different values' },
      { where: 'item 5', reason: 'the item is empty' },
    ]);
    expect(r.events.map((e) => [e.externalId, e.version, e.versionRank])).toEqual([['EQ1500000', '42', 42]]);
  });

  it('rejects a bad point or bbox but keeps the item', () => {
    const r = parse(rss([
      // georss:point written "lon lat": disagrees with geo:Point
      item({ georss: '<georss:point>36.8 -1.25</georss:point>' }),
      // bbox in the standard order (minlon minlat maxlon maxlat) → min > max in GDACS order
      item({ guid: '<guid>EQ1500001</guid>', eventid: '<gdacs:eventid>1500001</gdacs:eventid>', bbox: '<gdacs:bbox>32.8 -5.25 40.8 2.75</gdacs:bbox>' }),
      // only georss:point, read as "lat lon"; latitude out of range in geo:Point is swapped
      item({ guid: '<guid>EQ1500002</guid>', eventid: '<gdacs:eventid>1500002</gdacs:eventid>', point: null, bbox: null, georss: '<georss:point>-1.25 36.8</georss:point>' }),
      item({ guid: '<guid>EQ1500003</guid>', eventid: '<gdacs:eventid>1500003</gdacs:eventid>', georss: null, bbox: null, point: '<geo:Point><geo:lat>139.7</geo:lat><geo:long>35.6</geo:long></geo:Point>' }),
    ].join('')));
    expect(r.events.map((e) => [e.externalId, e.footprints.map((f) => f.class).join(',')])).toEqual([
      ['EQ1500000', 'bbox'],
      ['EQ1500001', 'Point_Centroid'],
      ['EQ1500002', 'Point_Centroid'],
      ['EQ1500003', ''],
    ]);
    expect(r.events[2].footprints[0].geometry).toEqual({ type: 'Point', coordinates: [36.8, -1.25] });
    expect(r.rejected.map((x) => x.where)).toEqual([
      'item 1 (guid EQ1500000) point', 'item 2 (guid EQ1500001) bbox', 'item 4 (guid EQ1500003) point',
    ]);
    expect(r.rejected[0].reason).toMatch(/disagree/);
    expect(r.rejected[1].reason).toMatch(/not in the order lonmin lonmax latmin latmax/);
    expect(r.rejected[2].reason).toMatch(/latitude 139.7 is outside -90..90.*swapped/);
  });

  it('maps unknown alert levels to null and unknown event types to other', () => {
    const r = parse(rss(item({
      eventtype: '<gdacs:eventtype>XX</gdacs:eventtype>',
      alertlevel: '<gdacs:alertlevel>Purple</gdacs:alertlevel>',
      episodealertlevel: '<gdacs:episodealertlevel> RED </gdacs:episodealertlevel>',
    })));
    expect(r.events[0]).toMatchObject({ externalId: 'XX1500000', hazard: 'other', eventAlertLevel: null, episodeAlertLevel: 'red' });
    expect(parse(rss(item({ eventtype: '<gdacs:eventtype>WF</gdacs:eventtype>' }))).events[0].hazard).toBe('wildfire');
    expect(parse(rss(item({ eventtype: '<gdacs:eventtype>TS</gdacs:eventtype>' }))).events[0].hazard).toBe('tsunami');
    expect(parse(rss(item({ eventtype: '<gdacs:eventtype>FL</gdacs:eventtype>' }))).events[0].hazard).toBe('flood');
  });

  it('refuses JSON that is not GDACS, invalid JSON and empty payloads', () => {
    expect(() => parse('{"foo": 1}')).toThrow(PayloadError);
    expect(() => parse('[1, 2, 3]')).toThrow(/not a GDACS document/);
    expect(() => parse('{"type":"Feature","geometry":null,"properties":{"mag":5}}')).toThrow(/without GDACS event properties/);
    const usgs = json({ type: 'FeatureCollection', features: [{ type: 'Feature', id: 'us6000len8', geometry: { type: 'Point', coordinates: [62, 34.6, 10] }, properties: { mag: 6.3 } }] });
    expect(() => parse(usgs)).toThrow(/without GDACS event properties/);
    expect(() => parse('{"type": "FeatureCollection", "features": [')).toThrow(/not valid JSON/);
    expect(() => parse('')).toThrow(/empty/);
    expect(() => parse(Buffer.from([0xef, 0xbb, 0xbf, 0x20, 0x0a]))).toThrow(/empty/);
    expect(() => parse('eventtype,eventid\nEQ,1')).toThrow(/neither XML nor JSON/);
  });

  it('rejects a geometry feature with swapped coordinates and keeps the rest', () => {
    const swapped = gdacsFeature({ type: 'Polygon', coordinates: [square(139.7, 35.6).map(([x, y]) => [y, x])] }, { Class: 'Poly_Global' });
    const r = parse(geometryDoc([centroid, swapped, gdacsFeature({ type: 'Polygon', coordinates: [square(139.7, 35.6)] })]));
    expect(r.events).toHaveLength(1);
    expect(r.events[0].footprints.map((f) => f.class)).toEqual(['Point_Centroid', 'Poly_Affected']);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0].where).toBe('feature 1 (Poly_Global)');
    expect(r.rejected[0].reason).toMatch(/latitude 139.7 is outside -90..90 \(the pair looks swapped/);
  });

  it('rejects a footprint out of range, an unclosed or short ring, and an unknown geometry type', () => {
    const open = square(10, 10).slice(0, 4);
    const r = parse(geometryDoc([
      centroid,
      gdacsFeature({ type: 'Polygon', coordinates: [square(179.5, 10)] }), // lon 180.5
      gdacsFeature({ type: 'Polygon', coordinates: [open] }, { Class: 'Poly_Open' }),
      gdacsFeature({ type: 'Polygon', coordinates: [[[10, 10], [11, 10], [10, 10]]] }, { Class: 'Poly_Short' }),
      gdacsFeature({ type: 'Circle', coordinates: [10, 10], radius: 5 }, { Class: 'Poly_Circle' }),
      gdacsFeature(null, { Class: 'Poly_Null' }),
      gdacsFeature({ type: 'Point', coordinates: ['10.5', ' -3.25 '] }, { Class: 'Point_Strings' }), // numeric strings: converted
      gdacsFeature({ type: 'Point', coordinates: ['ten', 3] }, { Class: 'Point_Words' }),
    ]));
    expect(r.events).toHaveLength(1);
    expect(r.events[0].footprints.map((f) => f.class)).toEqual(['Point_Centroid', 'Point_Strings']);
    expect(r.events[0].footprints[1].geometry).toEqual({ type: 'Point', coordinates: [10.5, -3.25] });
    expect(r.rejected.map((x) => x.where)).toEqual([
      'feature 1 (Poly_Affected)', 'feature 2 (Poly_Open)', 'feature 3 (Poly_Short)', 'feature 4 (Poly_Circle)',
      'feature 5 (Poly_Null)', 'feature 7 (Point_Words)',
    ]);
    expect(r.rejected.map((x) => x.reason)).toEqual([
      'coordinate [180.5, 10]: longitude 180.5 is outside -180..180',
      'a polygon ring is not closed (first [10, 10] ≠ last [10, 11])',
      'a polygon ring has 3 positions (at least 4 needed)',
      'unsupported geometry type "Circle"',
      'the feature has no geometry',
      'coordinate ["ten", 3] is not numeric',
    ]);
  });

  it('catches an in-range swapped point through the feature bbox, keeping the version without it', () => {
    const doc = JSON.parse(readFileSync(shared('api', 'dr-1016449-ep1-event.json'), 'utf8'));
    doc.geometry.coordinates = [-24.245, -53.808]; // bbox stays [-53.808, -24.245, …]
    const r = parse(json(doc));
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ externalId: 'DR1016449', version: '1', footprints: [] });
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0].where).toBe('document');
    expect(r.rejected[0].reason).toMatch(/look swapped/);
  });

  it('rejects features with a missing or wrongly typed identity, each on its own', () => {
    const r = parse(geometryDoc([
      centroid,
      gdacsFeature({ type: 'Point', coordinates: [1, 1] }, { eventid: undefined, Class: 'Point_NoId' }),
      gdacsFeature({ type: 'Point', coordinates: [1, 1] }, { eventid: { id: 5 }, Class: 'Point_ObjectId' }),
      gdacsFeature({ type: 'Point', coordinates: [1, 1] }, { episodeid: 3.5, Class: 'Point_FractionalEpisode' }),
      gdacsFeature({ type: 'Point', coordinates: [1, 1] }, { episodeid: '7a', Class: 'Point_TextEpisode' }),
      gdacsFeature({ type: 'Point', coordinates: [1, 1] }, { eventtype: 12, Class: 'Point_NumberType' }),
      { type: 'Feature', geometry: { type: 'Point', coordinates: [1, 1] } },
      'not a feature',
    ]));
    expect(r.events.map((e) => e.externalId)).toEqual(['FL1200000']);
    expect(r.rejected).toEqual([
      { where: 'feature 1 (Point_NoId)', reason: 'missing eventid' },
      { where: 'feature 2 (Point_ObjectId)', reason: 'eventid {"id":5} is not a whole number' },
      { where: 'feature 3 (Point_FractionalEpisode)', reason: 'episodeid 3.5 is not a whole number' },
      { where: 'feature 4 (Point_TextEpisode)', reason: 'episodeid "7a" is not a whole number' },
      { where: 'feature 5 (Point_NumberType)', reason: 'eventtype "12" is not a GDACS event type' },
      { where: 'feature 6', reason: 'not a GeoJSON Feature with properties' },
      { where: 'feature 7', reason: 'not a GeoJSON Feature with properties' },
    ]);
  });
});

describe('GDACS helpers', () => {
  it('normalises alert levels and string booleans', () => {
    expect(['Green', 'ORANGE', ' red ', 'yellow', 'Purple', '', null].map(normaliseAlert)).toEqual(['green', 'orange', 'red', 'yellow', null, null, null]);
    expect(['true', 'False', true, 'yes', null].map(gdacsBoolean)).toEqual([true, false, true, null, null]);
  });

  it('reads levels from classes and labels', () => {
    expect(footprintLevel('Poly_SMPInt_6.5', 'Intensity 6.5')).toEqual({ label: 'Intensity 6.5', value: 6.5, unit: 'mmi' });
    expect(footprintLevel('Poly_Orange', '90 km/h')).toEqual({ label: 'orange', value: 90, unit: 'km/h' });
    expect(footprintLevel('Poly_Red', null)).toEqual({ label: 'red', value: null, unit: null });
    expect(footprintLevel('Poly_Buffer', '60 km/h')).toEqual({ label: '60 km/h', value: 60, unit: 'km/h' });
    expect(footprintLevel('Poly_Affected', 'Affected area')).toEqual({ label: 'Affected area', value: null, unit: null });
  });

  it('builds bbox polygons in GDACS order, across either side of the antimeridian', () => {
    expect(bboxGeometry('10 20 -5 5')).toEqual({ type: 'Polygon', coordinates: [[[10, -5], [20, -5], [20, 5], [10, 5], [10, -5]]] });
    expect(bboxGeometry('176 184 -20 -12')).toEqual({
      type: 'MultiPolygon',
      coordinates: [[[[176, -20], [180, -20], [180, -12], [176, -12], [176, -20]]], [[[-180, -20], [-176, -20], [-176, -12], [-180, -12], [-180, -20]]]],
    });
    expect(bboxGeometry('10 20 85 93')).toEqual({ type: 'Polygon', coordinates: [[[10, 85], [20, 85], [20, 90], [10, 90], [10, 85]]] });
    expect(() => bboxGeometry('10 20 5')).toThrow(/four numbers/);
    expect(() => bboxGeometry('10 20 95 100')).toThrow(/out of range/);
    expect(() => bboxGeometry('400 410 5 10')).toThrow(/out of range/);
  });
});
