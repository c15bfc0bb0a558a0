import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { booleanPointInPolygon } from '@turf/turf';
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { describe, expect, it } from 'vitest';
import { commaList, interiorPoint, normaliseAlert, usgsAdapter, usgsHazard } from '../../src/feeds/adapters/usgs.ts';
import { PayloadError, type Footprint, type HazardEventVersion, type ParseResult } from '../../src/feeds/model.ts';

const feeds = path.resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/data/feeds');
const sample = (name: string) => readFileSync(path.join(feeds, 'usgs', name));
const sampleJson = (name: string) => JSON.parse(sample(name).toString('utf8'));
const context = { pcodeFor: () => undefined };
const parse = (payload: unknown): ParseResult =>
  usgsAdapter.parse(Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), context);

const byId = (events: HazardEventVersion[], id: string) => {
  const event = events.find((e) => e.externalId === id);
  if (!event) throw new Error(`no event ${id}`);
  return event;
};
const measure = (event: HazardEventVersion, name: string) => event.severity.find((s) => s.name === name);
const inside = (p: Position, footprint: Footprint | undefined) => {
  if (!footprint) throw new Error('no footprint');
  return booleanPointInPolygon(p, footprint.geometry as Polygon | MultiPolygon);
};

/** A summary feed around the given features, as USGS writes it. */
const summary = (features: unknown[]) => ({
  type: 'FeatureCollection',
  metadata: { generated: 1697055391000, url: 'https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/all_day.geojson', title: 'test', status: 200, api: '1.10.3', count: features.length },
  features,
  bbox: [0, 0, 0, 0, 0, 0],
});
const quake = (id: string | undefined, props: Record<string, unknown> = {}, coordinates: unknown[] = [62.0449, 34.5565, 9]) => ({
  type: 'Feature',
  properties: {
    mag: 5.2, place: 'somewhere', time: 1696984916160, updated: 1697054252893, tz: null, url: `https://earthquake.usgs.gov/earthquakes/eventpage/${id}`,
    detail: null, felt: null, cdi: null, mmi: null, alert: null, status: 'automatic', tsunami: 0, sig: 400, net: 'us', code: 'x',
    ids: `,${id},`, sources: ',us,', types: ',origin,', magType: 'mb', type: 'earthquake', title: `M 5.2 - somewhere`,
    ...props,
  },
  geometry: { type: 'Point', coordinates },
  ...(id === undefined ? {} : { id }),
});

describe('USGS summary feed (significant_month, 2023-10-11)', () => {
  const doc = sampleJson('summary_significant_month_2023-10-11.geojson');
  const result = usgsAdapter.parse(sample('summary_significant_month_2023-10-11.geojson'), context);

  it('reads every feature: the count equals metadata.count, nothing rejected', () => {
    expect(result.rejected).toEqual([]);
    expect(result.events).toHaveLength(doc.metadata.count);
    expect(result.events).toHaveLength(18);
    expect(result.indicators).toEqual([]);
    expect(new Set(result.events.map((e) => e.externalId)).size).toBe(18);
  });

  it('keeps the PAGER alert levels red, orange, yellow and green (and null where PAGER did not run)', () => {
    const levels = new Set(result.events.map((e) => e.eventAlertLevel));
    expect(levels).toEqual(new Set(['red', 'orange', 'yellow', 'green', null]));
    expect(result.events.every((e) => e.episodeAlertLevel === null)).toBe(true);
    expect(byId(result.events, 'us6000len8').eventAlertLevel).toBe('red');
    expect(byId(result.events, 'us6000ldpm').eventAlertLevel).toBe('orange');
    expect(byId(result.events, 'us6000ldpv').eventAlertLevel).toBe('yellow');
    expect(byId(result.events, 'us6000lec2').eventAlertLevel).toBeNull();
  });

  it('has the Herat (western Afghanistan) sequence of October 2023', () => {
    const herat = result.events.filter((e) => /Afghanistan|Herāt/.test(e.title ?? ''));
    expect(herat.map((e) => e.externalId).sort()).toEqual(['us6000ldph', 'us6000ldpg', 'us6000ldpm', 'us6000ldpv', 'us6000len8'].sort());
    for (const e of herat) {
      const [lon, lat] = (e.footprints[0].geometry as { coordinates: number[] }).coordinates;
      expect(lon).toBeGreaterThan(61.5);
      expect(lon).toBeLessThan(62.5);
      expect(lat).toBeGreaterThan(34.3);
      expect(lat).toBeLessThan(34.8);
    }
  });

  it('maps identity, version, time, severity and the epicentre of one event', () => {
    const e = byId(result.events, 'us6000len8');
    expect(e.source).toBe('usgs');
    expect(e.hazard).toBe('earthquake');
    expect(e.version).toBe('1697054252893');
    expect(e.versionRank).toBe(1697054252893);
    expect(e.validFrom).toBe('2023-10-11T00:41:56.160Z');
    expect(e.issuedAt).toBe('2023-10-11T19:57:32.893Z');
    expect(e.title).toBe('M 6.3 - western Afghanistan');
    expect(e.link).toBe('https://earthquake.usgs.gov/earthquakes/eventpage/us6000len8');
    expect(measure(e, 'magnitude')).toEqual({ name: 'magnitude', value: 6.3, unit: 'mww' });
    expect(measure(e, 'mmi')?.value).toBe(7.857);
    expect(measure(e, 'cdi')?.value).toBe(6);
    expect(measure(e, 'sig')?.value).toBe(2029);
    expect(measure(e, 'depth')).toEqual({ name: 'depth', value: 9, unit: 'km' });
    // depth is dropped from the geometry: a GeoJSON [lon, lat] point
    expect(e.footprints).toEqual([
      { class: 'Point_Centroid', geometry: { type: 'Point', coordinates: [62.0449, 34.5565] }, label: 'western Afghanistan', value: null, unit: null },
    ]);
    expect(e.properties).toMatchObject({
      status: 'reviewed', deleted: false, tsunami: 0, felt: 49, net: 'us', code: '6000len8', tz: null, place: 'western Afghanistan',
      detail: 'https://earthquake.usgs.gov/earthquakes/feed/v1.0/detail/us6000len8.geojson', sources: ['us'],
    });
    expect(e.properties.types).toContain('shakemap');
  });

  it('indexes every id an event is known by (comma-wrapped ids, no empties)', () => {
    expect(byId(result.events, 'uw61965081').aliases).toEqual(['ew1696818070', 'at00s28p79', 'uw61965081', 'us6000le56']);
    expect(byId(result.events, 'us6000ldqd').aliases).toEqual(['at00s25h5f', 'us6000ldqd', 'pt23280002']);
    expect(result.events.every((e) => e.aliases.length > 0 && e.aliases.every((a) => a.length > 0))).toBe(true);
    expect(commaList(',,a, b ,,a,')).toEqual(['a', 'b']);
    expect(commaList(null)).toEqual([]);
  });
});

describe('USGS detail document (us6000pi9w, M7.1 Tibet 2025)', () => {
  const result = usgsAdapter.parse(sample('detail_us6000pi9w.geojson'), context);
  const e = result.events[0];

  it('maps the event like a summary feature', () => {
    expect(result.rejected).toEqual([]);
    expect(result.events).toHaveLength(1);
    expect(e.externalId).toBe('us6000pi9w');
    expect(e.aliases).toEqual(['us6000pi9w']);
    expect(measure(e, 'magnitude')).toEqual({ name: 'magnitude', value: 7.1, unit: 'mww' });
    expect(e.eventAlertLevel).toBe('red');
    expect(e.version).toBe('1736442321636');
    expect(e.validFrom).toBe('2025-01-07T01:05:16.824Z');
    expect(e.footprints[0].geometry).toEqual({ type: 'Point', coordinates: [87.3608, 28.639] });
  });

  it('adds the ShakeMap contour URL, maxmmi and the PAGER / ShakeMap product versions', () => {
    expect(e.properties.shakemapContoursUrl).toBe(
      'https://earthquake.usgs.gov/realtime/product/shakemap/us6000pi9w/us/1736298441909/download/cont_mmi.json',
    );
    expect(measure(e, 'shakemap_maxmmi')).toEqual({ name: 'shakemap_maxmmi', value: 9.212, unit: 'mmi' });
    expect(e.properties.shakemap).toMatchObject({ version: '5', updateTime: '2025-01-08T01:07:21.909Z', processTimestamp: '2025-01-08T01:06:16.000Z' });
    expect(e.properties.losspager).toMatchObject({ alertlevel: 'red', updateTime: '2025-01-08T01:08:44.449Z' });
  });

  it('takes the PAGER alert from the losspager product when the top-level alert is missing', () => {
    const doc = sampleJson('detail_us6000pi9w.geojson');
    doc.properties.alert = null;
    expect(parse(doc).events[0].eventAlertLevel).toBe('red');
    doc.properties.products.losspager[0].properties.alertlevel = 'Orange';
    expect(parse(doc).events[0].eventAlertLevel).toBe('orange');
  });

  it('prefers the ShakeMap product with the highest preferredWeight and ignores deleted ones', () => {
    const doc = sampleJson('detail_us6000pi9w.geojson');
    const original = doc.properties.products.shakemap[0];
    const worse = { ...original, preferredWeight: 10, contents: { 'download/cont_mmi.json': { url: 'https://example.org/worse.json' } } };
    const deleted = { ...original, preferredWeight: 999, status: 'DELETE', contents: { 'download/cont_mmi.json': { url: 'https://example.org/deleted.json' } } };
    doc.properties.products.shakemap = [worse, deleted, original];
    expect(parse(doc).events[0].properties.shakemapContoursUrl).toMatch(/us6000pi9w\/us\/1736298441909\/download\/cont_mmi\.json$/);
  });
});

describe('USGS ShakeMap v4 MMI contours (cont_mmi.json, iscgem882673)', () => {
  const doc = sampleJson('shakemap_v4_cont_mmi_iscgem882673.json');
  const result = usgsAdapter.parse(sample('shakemap_v4_cont_mmi_iscgem882673.json'), context);
  const e = result.events[0];
  const epicentre: Position = [doc.metadata.longitude, doc.metadata.latitude];
  const level = (v: number) => e.footprints.find((f) => f.class === 'mmi' && f.value === v);

  it('is one version of the event named in metadata.eventid, with no dated version', () => {
    expect(result.rejected).toEqual([]);
    expect(result.events).toHaveLength(1);
    expect(e.externalId).toBe('iscgem882673');
    expect(e.hazard).toBe('earthquake');
    expect(e.version).toBe('shakemap');
    expect(e.versionRank).toBe(0);
    expect(e.properties.versionKnown).toBe(false);
  });

  it('turns every whole and half MMI step into an "MMI ≥ value" polygon footprint', () => {
    const values = [3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8];
    expect(e.footprints.map((f) => [f.class, f.value, f.unit])).toEqual(values.map((v) => ['mmi', v, 'mmi']));
    for (const f of e.footprints) expect(['Polygon', 'MultiPolygon']).toContain(f.geometry.type);
    expect(e.properties.lineOnlyLevels).toEqual([]);
    expect(e.properties.epicentreMmiAtLeast).toBe(8);
  });

  it('puts the epicentre inside every level, the highest included', () => {
    expect(inside(epicentre, level(8))).toBe(true);
    for (const f of e.footprints) expect(inside(epicentre, f)).toBe(true);
  });

  it('gives nested areas: a point in MMI ≥ x is in every lower level', () => {
    const fps = e.footprints;
    for (let i = 0; i < 400; i++) {
      const p: Position = [-115.5 + ((i * 37) % 100) / 10, 41 + ((i * 53) % 71) / 10];
      const member = fps.map((f) => inside(p, f));
      const firstOut = member.indexOf(false);
      if (firstOut >= 0) expect(member.slice(firstOut).every((m) => !m)).toBe(true);
    }
  });

  it('closes the lines cut by the map edge on the correct side: the far corners are below MMI 3', () => {
    // The MMI 3 lines cut off the NW and SE corners and two pockets on the east edge (weaker
    // shaking far from the epicentre); the NE and SW corners stay above MMI 3.
    expect(inside([-115.55, 48.05], level(3))).toBe(false);
    expect(inside([-105.6, 41.0], level(3))).toBe(false);
    expect(inside([-105.6, 47.93], level(3))).toBe(false);
    expect(inside([-105.6, 42.2], level(3))).toBe(false);
    expect(inside([-105.6, 48.05], level(3))).toBe(true);
    expect(inside([-115.55, 41.0], level(3))).toBe(true);
    expect(inside([-113, 44], level(3))).toBe(true);
    // MMI 3.5 is crossed by long lines from edge to edge: the east of the map is below it.
    expect(inside([-106.5, 45], level(3.5))).toBe(false);
    expect(inside([-110.9, 45.5], level(3.5))).toBe(true);
  });

  it('keeps holes: a low-intensity pocket inside a higher area is left out', () => {
    // Every MMI 4.5 polygon with inner rings, and at least one: points inside the holes are out.
    const poly = level(4.5)!.geometry as MultiPolygon;
    const holes = poly.coordinates.flatMap((p) => p.slice(1));
    expect(holes.length).toBeGreaterThan(0);
    for (const hole of holes) {
      const p = interiorPoint([hole]);
      expect(p).not.toBeNull();
      expect(inside(p!, level(4.5))).toBe(false);
    }
  });

  it('shrinks with the level (areas decrease strictly)', () => {
    const size = (f: Footprint) => {
      // planar area in square degrees, shells minus holes
      const ring = (r: Position[]) => Math.abs(r.reduce((s, p, i) => (i ? s + r[i - 1][0] * p[1] - p[0] * r[i - 1][1] : 0), 0)) / 2;
      const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : (f.geometry as MultiPolygon).coordinates;
      return polys.reduce((s, p) => s + ring(p[0]) - p.slice(1).reduce((h, r) => h + ring(r), 0), 0);
    };
    const areas = e.footprints.map(size);
    for (let i = 1; i < areas.length; i++) expect(areas[i]).toBeLessThan(areas[i - 1]);
  });

  it('keeps levels as lines (mmi_contour) when the epicentre is not in the highest-intensity area', () => {
    const moved = structuredClone(doc);
    moved.metadata.longitude = -112;
    moved.metadata.latitude = 44; // in the MMI 5..5.5 band
    const r = parse(moved);
    const classes = r.events[0].footprints.map((f) => `${f.class} ${f.value}`);
    expect(classes).toEqual([
      'mmi 3', 'mmi 3.5', 'mmi 4', 'mmi 4.5', 'mmi 5',
      'mmi_contour 5.5', 'mmi_contour 6', 'mmi_contour 6.5', 'mmi_contour 7', 'mmi_contour 7.5', 'mmi_contour 8',
    ]);
    const lineOnly = r.events[0].properties.lineOnlyLevels as { value: number; reason: string }[];
    expect(lineOnly[0].reason).toMatch(/epicentre is not in the highest-intensity area/);
    expect(r.events[0].footprints[5].geometry.type).toBe('MultiLineString');
  });

  it('keeps a level as lines when one of its lines ends inside the map (cannot be closed)', () => {
    const cut = structuredClone(doc);
    const f35 = cut.features.find((f: { properties: { value: number } }) => f.properties.value === 3.5);
    f35.geometry.coordinates[0] = f35.geometry.coordinates[0].slice(0, 100); // the end is now inland
    const r = parse(cut);
    const classes = r.events[0].footprints.map((f) => `${f.class} ${f.value}`);
    expect(classes.slice(0, 2)).toEqual(['mmi 3', 'mmi_contour 3.5']);
    const lineOnly = r.events[0].properties.lineOnlyLevels as { value: number; reason: string }[];
    expect(lineOnly.find((l) => l.value === 3.5)?.reason).toMatch(/inside the map rather than on its edge/);
  });

  it('rejects a contour feature with an out-of-range coordinate and keeps its level as lines only', () => {
    const bad = structuredClone(doc);
    const f7 = bad.features.findIndex((f: { properties: { value: number } }) => f.properties.value === 7);
    bad.features[f7].geometry.coordinates[0][3] = [44.4, -110.9]; // swapped
    const r = parse(bad);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0].where).toBe(`feature ${f7} (MMI 7)`);
    expect(r.rejected[0].reason).toMatch(/outside longitude/);
    const classes = r.events[0].footprints.map((f) => `${f.class} ${f.value}`);
    expect(classes).not.toContain('mmi 7');
    expect(classes).not.toContain('mmi_contour 7'); // its only feature was rejected: no lines left
    expect(classes).toContain('mmi 6.5');
  });

  it('refuses contours of another quantity (PGA) and contours without an event id', () => {
    const pga = structuredClone(doc);
    for (const f of pga.features) f.properties.units = '%g';
    expect(() => parse(pga)).toThrow(/not MMI/);
    const anonymous = structuredClone(doc);
    delete anonymous.metadata.eventid;
    expect(() => parse(anonymous)).toThrow(PayloadError);
  });
});

describe('USGS contour polygonisation on a small synthetic map', () => {
  // Map 0..10 × 0..10, epicentre (5, 5). MMI 2: a line cutting off the NW corner. MMI 3: a line
  // from the west edge to the north edge (weaker to the west). MMI 4: a square ring with a low
  // pocket (an inner ring). MMI 5: a small square around the epicentre.
  const square = (a: number, b: number): Position[] => [[a, a], [b, a], [b, b], [a, b], [a, a]];
  const contours = (metadata: Record<string, unknown> = { eventid: 'us1234abcd', longitude: 5, latitude: 5 }) => ({
    type: 'FeatureCollection',
    metadata,
    features: [
      { type: 'Feature', properties: { value: 2, units: 'mmi' }, geometry: { type: 'MultiLineString', coordinates: [[[2, 10], [1, 9], [0, 8]]] } },
      { type: 'Feature', properties: { value: 3, units: 'mmi' }, geometry: { type: 'MultiLineString', coordinates: [[[0, 1], [1, 5], [3, 10]]] } },
      { type: 'Feature', properties: { value: 4, units: 'mmi' }, geometry: { type: 'MultiLineString', coordinates: [square(3, 8), square(3.5, 4.5)] } },
      { type: 'Feature', properties: { value: 5, units: 'mmi' }, geometry: { type: 'LineString', coordinates: square(4.8, 6.2) } },
      { type: 'Feature', properties: { value: 5.25, units: 'mmi' }, geometry: { type: 'LineString', coordinates: square(4.9, 5.5) } },
    ],
    bbox: [0, 0, 10, 10],
  });
  const r = parse(contours());
  const e = r.events[0];
  const level = (v: number) => e.footprints.find((f) => f.value === v);

  it('tells inside from outside for edge lines, rings and pockets', () => {
    expect(r.rejected).toEqual([]);
    expect(e.externalId).toBe('us1234abcd');
    expect(e.footprints.map((f) => `${f.class} ${f.value}`)).toEqual(['mmi 2', 'mmi 3', 'mmi 4', 'mmi 5', 'mmi_contour 5.25']);
    expect(inside([0.3, 9.7], level(2))).toBe(false); // the cut-off corner
    expect(inside([5, 0.5], level(2))).toBe(true);
    expect(inside([9.5, 9.5], level(2))).toBe(true);
    expect(inside([0.5, 9.5], level(3))).toBe(false);
    expect(inside([0.2, 6], level(3))).toBe(false);
    expect(inside([9.5, 0.5], level(3))).toBe(true);
    expect(inside([5, 9.9], level(3))).toBe(true);
    expect(inside([7, 7], level(4))).toBe(true);
    expect(inside([4, 4], level(4))).toBe(false); // the pocket
    expect(inside([9, 9], level(4))).toBe(false);
    expect(inside([5, 5], level(5))).toBe(true);
    expect(inside([6.5, 5], level(5))).toBe(false);
    expect((e.properties.lineOnlyLevels as { value: number; reason: string }[])).toEqual([{ value: 5.25, reason: 'not a whole or half MMI step' }]);
  });

  it('refuses contours that do not nest (a higher area reaching outside a lower one)', () => {
    const doc = contours();
    doc.features[1].geometry.coordinates = [[[0, 1], [4, 1.2], [10, 1]]]; // MMI 3 would hold the NW corner, below MMI 2
    const res = parse(doc).events[0];
    expect(res.footprints.map((f) => `${f.class} ${f.value}`).slice(0, 3)).toEqual(['mmi 2', 'mmi_contour 3', 'mmi_contour 4']);
  });

  it('writes closed rings, exterior counter-clockwise and holes clockwise', () => {
    const shoelace = (ring: Position[]) => ring.reduce((s, p, i) => (i ? s + ring[i - 1][0] * p[1] - p[0] * ring[i - 1][1] : 0), 0);
    for (const f of e.footprints.filter((x) => x.class === 'mmi')) {
      const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : (f.geometry as MultiPolygon).coordinates;
      for (const p of polys) {
        p.forEach((ring, i) => {
          expect(ring.length).toBeGreaterThanOrEqual(4);
          expect(ring[0]).toEqual(ring[ring.length - 1]);
          expect(Math.sign(shoelace(ring))).toBe(i === 0 ? 1 : -1);
        });
      }
    }
  });

  it('uses the ShakeMap process timestamp as the version when the metadata has one', () => {
    const dated = parse(contours({ eventid: 'us1234abcd', longitude: 5, latitude: 5, process_timestamp: '2025-01-08T01:06:16Z', version: 5 }));
    expect(dated.events[0].version).toBe('2025-01-08T01:06:16.000Z');
    expect(dated.events[0].versionRank).toBe(Date.parse('2025-01-08T01:06:16Z'));
    expect(dated.events[0].properties.shakemapVersion).toBe('5');
  });

  it('keeps lines only when there is no epicentre to orient the areas', () => {
    const lines = parse(contours({ eventid: 'us1234abcd' }));
    expect(lines.events[0].footprints.every((f) => f.class === 'mmi_contour' && f.geometry.type === 'MultiLineString')).toBe(true);
  });

  it('resolves crossing lines of one level by the even-odd rule', () => {
    const doc = contours();
    // Two overlapping squares at MMI 4 (ShakeMap smooths lines one by one, so they can cross):
    // the overlap is inside both, hence outside the area.
    doc.features[2].geometry.coordinates = [[[2, 2], [6, 2], [6, 6], [2, 6], [2, 2]], [[4, 4], [8, 4], [8, 8], [4, 8], [4, 4]]];
    doc.features[3].geometry = { type: 'LineString', coordinates: square(2.5, 3.5) };
    doc.metadata.longitude = 3;
    doc.metadata.latitude = 3;
    doc.features.pop();
    const res = parse(doc).events[0];
    const l4 = res.footprints.find((f) => f.value === 4);
    expect(l4?.class).toBe('mmi');
    expect(inside([3, 3], l4)).toBe(true);
    expect(inside([7, 7], l4)).toBe(true);
    expect(inside([5, 5], l4)).toBe(false);
  });

  it('resolves a ring crossing a line cut by the map edge (general clipping path)', () => {
    const doc = contours();
    // MMI 3: the west-edge line plus a small ring straddling it.
    doc.features[1].geometry.coordinates = [[[0, 1], [1, 5], [3, 10]], [[0.5, 3], [2, 3], [2, 4], [0.5, 4], [0.5, 3]]];
    const res = parse(doc).events[0];
    const l3 = res.footprints.find((f) => f.value === 3);
    expect(l3?.class).toBe('mmi');
    expect(inside([5, 5], l3)).toBe(true);
    expect(inside([1.5, 3.5], l3)).toBe(false); // east of the line but inside the ring
    expect(inside([0.6, 3.5], l3)).toBe(true); // west of the line but inside the ring
    expect(inside([0.2, 3.5], l3)).toBe(false);
    expect(res.footprints.map((f) => f.class)).toEqual(['mmi', 'mmi', 'mmi', 'mmi', 'mmi_contour']);
  });

  it('resolves two lines cut by the map edge that cross each other, by the even-odd rule', () => {
    // One level, two lines from the west edge to the east edge crossing at (5, 5): the epicentre's
    // wedge (west) and the opposite one (east, across both lines) are inside; north and south are not.
    const doc = {
      type: 'FeatureCollection',
      metadata: { eventid: 'us1234abcd', longitude: 1, latitude: 5 },
      features: [
        { type: 'Feature', properties: { value: 4, units: 'mmi' }, geometry: { type: 'MultiLineString', coordinates: [[[0, 3], [10, 7]], [[0, 7], [10, 3]]] } },
      ],
      bbox: [0, 0, 10, 10],
    };
    const l4 = parse(doc).events[0].footprints[0];
    expect(l4.class).toBe('mmi');
    expect(inside([1, 5], l4)).toBe(true);
    expect(inside([9, 5], l4)).toBe(true);
    expect(inside([5, 9], l4)).toBe(false);
    expect(inside([5, 1], l4)).toBe(false);
  });
});

describe('USGS malformed and unseen payloads', () => {
  it('rejects a feature without id and one with latitude 95, keeps the rest', () => {
    const r = parse(summary([quake(undefined), quake('us1', {}, [10, 95, 5]), quake('us2')]));
    expect(r.events.map((e) => e.externalId)).toEqual(['us2']);
    expect(r.rejected).toHaveLength(2);
    expect(r.rejected[0]).toEqual({ where: 'feature 0', reason: expect.stringMatching(/no id/) });
    expect(r.rejected[1].where).toBe('feature 1 (id us1)');
    expect(r.rejected[1].reason).toMatch(/latitude/);
  });

  it('rejects swapped (lat, lon) coordinates that fall out of range', () => {
    const r = parse(summary([quake('us3', {}, [45.5, -122.7, 10])]));
    expect(r.events).toHaveLength(0);
    expect(r.rejected[0].reason).toMatch(/swapped/);
  });

  it('converts a magnitude given as a string', () => {
    const r = parse(summary([quake('us4', { mag: '6.1', sig: '572' })]));
    expect(measure(r.events[0], 'magnitude')).toEqual({ name: 'magnitude', value: 6.1, unit: 'mb' });
    expect(measure(r.events[0], 'sig')?.value).toBe(572);
  });

  it('accepts an empty feature list as a valid, empty result', () => {
    expect(parse(summary([]))).toEqual({ events: [], indicators: [], rejected: [] });
  });

  it('reads an old-API feature with integer tz minutes', () => {
    const r = parse(summary([quake('nc72620000', { tz: -420, updated: '1463165000000', mmi: null, cdi: null, alert: null })]));
    expect(r.events[0].properties.tz).toBe(-420);
    expect(r.events[0].versionRank).toBe(1463165000000);
    expect(r.events[0].version).toBe('1463165000000');
  });

  it('keeps a deleted event, marked deleted, as a cancellation', () => {
    const r = parse(summary([quake('us5', { status: 'deleted' }), quake('us6')]));
    expect(r.events).toHaveLength(2);
    expect(r.events[0].properties).toMatchObject({ status: 'deleted', deleted: true });
    expect(r.events.map((e) => e.cancels)).toEqual([true, false]);
  });

  it('maps event types: volcanic eruption → volcano, others → other with the type kept', () => {
    const r = parse(summary([quake('uv1', { type: 'volcanic eruption' }), quake('uq1', { type: 'quarry blast' })]));
    expect(r.events.map((e) => e.hazard)).toEqual(['volcano', 'other']);
    expect(r.events[1].properties.type).toBe('quarry blast');
    expect(usgsHazard('Earthquake')).toBe('earthquake');
    expect(usgsHazard(undefined)).toBe('other');
  });

  it('normalises alert levels and drops unknown ones', () => {
    const r = parse(summary([quake('ua1', { alert: ' RED ' }), quake('ua2', { alert: 'pending' })]));
    expect(r.events.map((e) => e.eventAlertLevel)).toEqual(['red', null]);
    expect(normaliseAlert('Yellow')).toBe('yellow');
  });

  it('rejects a feature without an updated time (no version), and one whose geometry is not a Point', () => {
    const noUpdated = quake('ub1');
    delete (noUpdated.properties as Record<string, unknown>).updated;
    const polygon = { ...quake('ub2'), geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } };
    const r = parse(summary([noUpdated, polygon, 'not a feature']));
    expect(r.events).toEqual([]);
    expect(r.rejected.map((x) => x.where)).toEqual(['feature 0 (id ub1)', 'feature 1 (id ub2)', 'feature 2']);
    expect(r.rejected[0].reason).toMatch(/version/);
    expect(r.rejected[1].reason).toMatch(/not a Point/);
  });

  it('refuses PAGER losses.json: it carries no event id, the detail document is needed', () => {
    expect(() => usgsAdapter.parse(sample('pager_losses_us6000pi9w.json'), context)).toThrow(/detail document/);
  });

  it('refuses invalid JSON, XML (with or without a DOCTYPE), empty payloads and other GeoJSON', () => {
    expect(() => parse('{"type": "FeatureCollection", "features": [')).toThrow(PayloadError);
    expect(() => parse('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>')).toThrow(PayloadError);
    expect(() => parse('')).toThrow(PayloadError);
    expect(() => parse('[1, 2]')).toThrow(PayloadError);
    const gdacsLike = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { eventtype: 'EQ', eventid: 1 }, geometry: { type: 'Point', coordinates: [1, 2] } }] };
    expect(() => parse(gdacsLike)).toThrow(/not a USGS payload/);
  });
});
