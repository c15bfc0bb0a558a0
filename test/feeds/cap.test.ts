import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { booleanPointInPolygon, point } from '@turf/turf';
import type { Point, Polygon } from 'geojson';
import { beforeAll, describe, expect, it } from 'vitest';
import { capAdapter, capLinksOf, circleGeometry, parseReferences, polygonGeometry } from '../../src/feeds/adapters/cap.ts';
import { PayloadError, type AdapterContext, type HazardEventVersion, type ParseResult } from '../../src/feeds/model.ts';
import { hazardEventVersionSchema } from '../../src/feeds/validate.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const sample = (name: string) => readFileSync(path.resolve(root, '../shared/data/feeds/cap', name));
const fixture = (name: string) => readFileSync(path.resolve(root, 'test/fixtures/feeds/cap', name));

/** A context that maps exactly the given scheme/code pairs. */
const contextWith = (map: Record<string, string> = {}): AdapterContext => ({
  pcodeFor: (scheme, code) => map[`${scheme}|${code}`],
});
const noMapping = contextWith();

const parse = (bytes: Buffer | string, context: AdapterContext = noMapping): ParseResult => {
  const result = capAdapter.parse(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, context);
  // Whatever the adapter emits must pass the storage side's checks.
  for (const event of result.events) {
    const checked = hazardEventVersionSchema.safeParse(event);
    expect(checked.success, JSON.stringify(checked.error?.issues)).toBe(true);
    expect(JSON.parse(JSON.stringify(event.properties))).toEqual(event.properties);
  }
  expect(result.indicators).toEqual([]);
  return result;
};

const only = (result: ParseResult): HazardEventVersion => {
  expect(result.rejected).toEqual([]);
  expect(result.events).toHaveLength(1);
  return result.events[0];
};

/** A minimal CAP 1.2 alert around the given pieces. */
const alertXml = (o: { msgType?: string; status?: string; identifier?: string | null; sender?: string; sent?: string; references?: string; info?: string }) => `<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  ${o.identifier === null ? '' : `<identifier>${o.identifier ?? 'T-1'}</identifier>`}
  <sender>${o.sender ?? 'test@example.org'}</sender>
  <sent>${o.sent ?? '2024-05-01T12:00:00+00:00'}</sent>
  <status>${o.status ?? 'Actual'}</status>
  <msgType>${o.msgType ?? 'Alert'}</msgType>
  <scope>Public</scope>
  ${o.references ? `<references>${o.references}</references>` : ''}
  ${o.info ?? ''}
</alert>`;

const infoXml = (area: string, extra = '') => `<info>
    <language>en-US</language><category>Met</category><event>Severe Thunderstorm Warning</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <expires>2024-05-01T18:00:00+00:00</expires>${extra}
    <area><areaDesc>Test area</areaDesc>${area}</area>
  </info>`;
const goodPolygon = '<polygon>-1.0,36.0 -1.0,37.0 -2.0,37.0 -2.0,36.0 -1.0,36.0</polygon>';

describe('CAP adapter: Environment Canada signed Update (rscap_canada_signed.xml)', () => {
  const context = contextWith({ 'profile:CAP-CP:Location:0.3|4718090': 'CA4718090' });
  let event: HazardEventVersion;
  beforeAll(() => {
    event = only(parse(sample('rscap_canada_signed.xml'), context));
  });

  it('reads identity, version and the 9 references it supersedes', () => {
    expect(event.source).toBe('cap');
    expect(event.externalId).toBe('cap-pac@ec.gc.ca,2.49.0.1.124.f2c83f5f.2013');
    expect(event.version).toBe('2013-01-24T21:26:00.000Z');
    expect(event.versionRank).toBe(Date.parse('2013-01-24T21:26:00Z'));
    expect(event.supersedes).toHaveLength(9);
    expect(event.supersedes[0]).toBe('cap-pac@ec.gc.ca,2.49.0.1.124.726d2331.2013');
    expect(event.supersedes).toContain('cap-pac@ec.gc.ca,2.49.0.1.124.b5af9b7c.2013');
    expect(event.supersedes.every((id) => id.split(',').length === 2)).toBe(true);
    expect(event.cancels).toBe(false);
    expect(event.status).toBe('actual');
    expect(event.properties.msgType).toBe('Update');
  });

  it('takes the English info as the main one and keeps both languages', () => {
    expect(event.title).toBe('snowfall warning');
    expect(event.properties.language).toBe('en-CA');
    expect(event.properties.infos).toEqual([
      { language: 'en-CA', event: 'snowfall', headline: 'snowfall warning' },
      { language: 'fr-CA', event: 'neige', headline: 'avertissement de neige' },
    ]);
    expect(event.hazard).toBe('other'); // snowfall is none of the engine's hazard types
    expect(event.eventAlertLevel).toBe('yellow'); // severity Moderate
    expect(event.episodeAlertLevel).toBeNull();
    expect(event.severity).toEqual([
      { name: 'cap_severity', value: null, unit: null, text: 'Moderate' },
      { name: 'cap_urgency', value: null, unit: null, text: 'Future' },
      { name: 'cap_certainty', value: null, unit: null, text: 'Likely' },
    ]);
    expect(event.validFrom).toBe('2013-01-24T21:26:00.000Z');
    expect(event.validTo).toBe('2013-01-25T13:26:00.000Z');
    expect(event.issuedAt).toBe('2013-01-24T21:26:00.000Z');
    expect(event.properties.eventCode).toContainEqual({ valueName: 'SAME', value: 'WSW' });
  });

  it('converts both polygons from lat,lon to [lon, lat] and they cover the named places', () => {
    expect(event.footprints.map((f) => [f.class, f.label])).toEqual([
      ['polygon', 'La Ronge - Prince Albert Nat. Park - Narrow Hills Prov. Park'],
      ['polygon', 'Île à la Crosse - Buffalo Narrows - Beauval'],
    ]);
    const [first, second] = event.footprints.map((f) => f.geometry as Polygon);
    expect(first.coordinates[0][0]).toEqual([-104.2, 54.4054]);
    expect(first.coordinates[0]).toHaveLength(38);
    expect(first.coordinates[0].at(-1)).toEqual(first.coordinates[0][0]);
    // La Ronge (55.10 N, 105.28 W) and Île-à-la-Crosse (55.45 N, 107.89 W).
    expect(booleanPointInPolygon(point([-105.28, 55.1]), first)).toBe(true);
    expect(booleanPointInPolygon(point([-107.89, 55.45]), second)).toBe(true);
    expect(booleanPointInPolygon(point([-107.89, 55.45]), first)).toBe(false);
  });

  it('maps CAP-CP geocodes through pcodeFor, deduplicated, and lists the unmapped ones', () => {
    expect(event.pcodes).toEqual(['CA4718090']); // 4718090 is in both areas
    const unmapped = event.properties.unmappedGeocodes as { valueName: string; value: string; areaDesc: string }[];
    expect(unmapped).toContainEqual({ valueName: 'layer:EC-MSC-SMC:1.0:CLC', value: '067200', areaDesc: 'La Ronge - Prince Albert Nat. Park - Narrow Hills Prov. Park' });
    expect(unmapped.some((u) => u.value === '4718090')).toBe(false);
    expect(unmapped).toHaveLength(35 - 1);
  });

  it('is still an event with no geocode mapped at all, thanks to its polygons', () => {
    const unmappedOnly = only(parse(sample('rscap_canada_signed.xml')));
    expect(unmappedOnly.pcodes).toEqual([]);
    expect(unmappedOnly.footprints).toHaveLength(2);
  });
});

describe('CAP adapter: AirNow circle (rscap_airnow.xml)', () => {
  let event: HazardEventVersion;
  beforeAll(() => {
    event = only(parse(sample('rscap_airnow.xml')));
  });

  it('turns the circle into a 32-step polygon of radius 1 km around [-121.0784, 38.8963]', () => {
    expect(event.externalId).toBe('http://www.airnow.gov,1594385161458');
    expect(event.footprints).toHaveLength(1);
    const [footprint] = event.footprints;
    expect(footprint).toMatchObject({ class: 'circle', label: 'Auburn, CA', value: 1, unit: 'km' });
    const ring = (footprint.geometry as Polygon).coordinates[0];
    expect(ring).toHaveLength(33);
    expect(ring[32]).toEqual(ring[0]);
    expect(booleanPointInPolygon(point([-121.0784, 38.8963]), footprint.geometry as Polygon)).toBe(true);
    // Every vertex is ~1 km from the centre (1° of latitude ≈ 111.2 km).
    const kmPerDegLat = 111.195;
    for (const [lon, lat] of ring) {
      const dx = (lon + 121.0784) * kmPerDegLat * Math.cos((38.8963 * Math.PI) / 180);
      const dy = (lat - 38.8963) * kmPerDegLat;
      expect(Math.hypot(dx, dy)).toBeCloseTo(1, 2);
    }
  });

  it('reads the time window in UTC from a -08:00 offset and keeps the parameters', () => {
    expect(event.version).toBe('2020-07-10T13:46:01.000Z');
    expect(event.validFrom).toBe('2020-07-10T08:00:00.000Z');
    expect(event.validTo).toBe('2020-07-11T08:00:00.000Z');
    expect(event.eventAlertLevel).toBe('yellow');
    expect(event.hazard).toBe('other'); // air quality
    expect(event.title).toBe('Air Quality Alert for Auburn');
    expect(event.link).toBe('http://feeds.enviroflash.info/cap/178.xml?id=3794B01A-A547-3A66-36AC9122CA2DDA30');
    expect(event.properties.parameters).toContainEqual({ valueName: 'OZONE', value: '105' });
    expect(event.properties.event).toMatch(/^Ozone is forecast to reach 105 AQI .* on Sat 07\/11\/2020\.$/);
  });
});

describe('CAP adapter: NOAA tsunami Update (rscap_wcatwc-warning.xml)', () => {
  it('is a red tsunami Update superseding its reference, with incidents, when its UGC zone is mapped', () => {
    const event = only(parse(sample('rscap_wcatwc-warning.xml'), contextWith({ 'UGC|AKZ185': 'US02185' })));
    expect(event.externalId).toBe('http://newwcatwc.arh.noaa.gov/tsuPortal/,PAAQ-2-lqw6d6');
    expect(event.hazard).toBe('tsunami');
    expect(event.eventAlertLevel).toBe('red'); // Extreme
    expect(event.supersedes).toEqual(['PAAQ,PAAQ-1-lqw6d6']);
    expect(event.properties.references).toEqual(['PAAQ,PAAQ-1-lqw6d6,2011-09-02T10:55:55-00:00']);
    expect(event.properties.incidents).toEqual(['lqw6d6']);
    expect(event.properties.msgType).toBe('Update');
    expect(event.pcodes).toEqual(['US02185']);
    expect(event.footprints).toEqual([]);
    expect(event.properties.unmappedGeocodes).toEqual([{ valueName: 'UGC', value: 'AKZ187', areaDesc: expect.stringMatching(/^Coastal areas between/) }]);
    // No <effective>: the window starts at sent; onset is kept.
    expect(event.validFrom).toBe('2011-09-02T11:36:50.000Z');
    expect(event.validTo).toBe('2011-09-02T12:36:50.000Z');
    expect(event.properties.onset).toBe('2011-09-02T11:36:50.000Z');
    // No <language>: CAP's default en-US applies, so this info is the main one.
    expect(event.title).toMatch(/^The tsunami Warning continues in effect/);
  });

  it('is a Rejection naming the geocodes when none maps to a P-code (geocode-only area)', () => {
    const result = parse(sample('rscap_wcatwc-warning.xml'));
    expect(result.events).toEqual([]);
    expect(result.rejected).toEqual([{
      where: 'alert PAAQ-2-lqw6d6',
      reason: 'no usable area (geocodes without a P-code mapping: UGC AKZ185, UGC AKZ187)',
    }]);
  });
});

describe('CAP adapter: Meteoalarm legacy Atom index', () => {
  const atom = sample('meteoalarm-legacy-atom-poland_2023-04-28.xml');

  it('builds an event from the cap: fields of an entry whose EMMA_ID maps, and rejects the other', () => {
    const result = parse(atom, contextWith({ 'EMMA_ID|PL805': 'PL805-PCODE' }));
    expect(result.events).toHaveLength(1);
    const [event] = result.events;
    expect(event.externalId).toBe('meteoalarm.org,2.49.0.0.616.0.PL.230427122201.PL805_00731');
    expect(event.version).toBe('2023-04-27T12:22:01.000Z');
    expect(event.properties.msgType).toBe('Alert'); // from cap:message_type
    expect(event.status).toBe('actual');
    expect(event.hazard).toBe('storm'); // Yellow Wind warning
    expect(event.eventAlertLevel).toBe('yellow'); // Moderate
    expect(event.pcodes).toEqual(['PL805-PCODE']);
    expect(event.footprints).toEqual([]);
    expect(event.validFrom).toBe('2023-04-27T12:21:00.000Z');
    expect(event.validTo).toBe('2023-04-27T20:00:00.000Z');
    expect(event.properties.onset).toBe('2023-04-27T12:30:00.000Z');
    const capUrl = 'https://feeds.meteoalarm.org/api/v1/warnings/feeds-poland/3adfb5e8-78f3-4240-bc8e-4b6a4da41c3b';
    expect(event.link).toBe(capUrl);
    expect(event.properties.capUrl).toBe(capUrl);
    expect(event.title).toBe('Yellow Wind Warning issued for Poland - Eastern coastal zone');
    expect(result.rejected).toEqual([{
      where: 'entry 2 (identifier 2.49.0.0.616.0.PL.230427073134.PL804_00821)',
      reason: 'no usable area (geocodes without a P-code mapping: EMMA_ID PL804)',
    }]);
  });

  it('rejects every entry, naming its geocode, without a mapping', () => {
    const result = parse(atom);
    expect(result.events).toEqual([]);
    expect(result.rejected.map((r) => r.reason)).toEqual([
      'no usable area (geocodes without a P-code mapping: EMMA_ID PL805)',
      'no usable area (geocodes without a P-code mapping: EMMA_ID PL804)',
    ]);
  });

  it('lists the CAP links of the index for the fetch side', () => {
    expect(capLinksOf(atom)).toEqual([
      'https://feeds.meteoalarm.org/api/v1/warnings/feeds-poland/3adfb5e8-78f3-4240-bc8e-4b6a4da41c3b',
      'https://feeds.meteoalarm.org/api/v1/warnings/feeds-poland/3a815d72-c066-4fbd-a114-0d325682a12b',
    ]);
    expect(capLinksOf(sample('rscap_airnow.xml'))).toEqual([]);
  });

  it('merges the entries of one alert (one per geocode) into one event with all its areas', () => {
    const entry = (code: string, area: string) => `<entry>
      <cap:geocode><valueName>EMMA_ID</valueName><value>${code}</value></cap:geocode>
      <cap:areaDesc>${area}</cap:areaDesc><cap:event>Orange Thunderstorm warning</cap:event>
      <cap:sent>2024-06-01T10:00:00+00:00</cap:sent><cap:expires>2024-06-01T22:00:00+00:00</cap:expires>
      <cap:severity>Severe</cap:severity><cap:message_type>Alert</cap:message_type><cap:status>Actual</cap:status>
      <cap:identifier>2.49.0.0.276.0.DE.240601.1</cap:identifier>
      <link href="https://feeds.meteoalarm.org/api/v1/warnings/feeds-germany/abc" type="application/cap+xml"/>
      <id>https://feeds.meteoalarm.org/api/v1/warnings/feeds-germany/abc?index_info=0&amp;index_area=${area.length}&amp;index_geocode=0</id>
    </entry>`;
    const feed = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
      <author><name>meteoalarm.org</name></author>${entry('DE001', 'North')}${entry('DE002', 'South')}${entry('DE003', 'East')}</feed>`;
    const result = parse(feed, contextWith({ 'EMMA_ID|DE001': 'DE1', 'EMMA_ID|DE002': 'DE2' }));
    const event = only(result);
    expect(event.externalId).toBe('meteoalarm.org,2.49.0.0.276.0.DE.240601.1');
    expect(event.pcodes).toEqual(['DE1', 'DE2']);
    expect(event.properties.unmappedGeocodes).toEqual([{ valueName: 'EMMA_ID', value: 'DE003', areaDesc: 'East' }]);
    expect(event.eventAlertLevel).toBe('orange');
    expect(event.hazard).toBe('storm');
    expect(capLinksOf(Buffer.from(feed))).toEqual(['https://feeds.meteoalarm.org/api/v1/warnings/feeds-germany/abc']);
  });

  it('takes the sender from the link host when the feed names no author', () => {
    const feed = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2"><entry>
      <cap:identifier>X-1</cap:identifier><cap:sent>2024-06-01T10:00:00Z</cap:sent><cap:status>Test</cap:status>
      <cap:message_type>Alert</cap:message_type><cap:event>Heat wave</cap:event><cap:severity>Extreme</cap:severity>
      <cap:areaDesc>Somewhere</cap:areaDesc><cap:polygon>10,10 10,11 11,11 10,10</cap:polygon>
      <link href="https://alerts.example.org/cap/X-1.xml" type="application/cap+xml"/></entry></feed>`;
    const event = only(parse(feed));
    expect(event.externalId).toBe('alerts.example.org,X-1');
    expect(event.status).toBe('test');
    expect(event.hazard).toBe('extreme_temperature');
    expect(event.eventAlertLevel).toBe('red');
    expect((event.footprints[0].geometry as Polygon).coordinates[0][1]).toEqual([11, 10]);
  });

  it('rejects an entry with cap: fields but no identifier, pointing at its CAP link', () => {
    const feed = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2"><entry>
      <id>urn:entry:1</id><cap:event>Flood</cap:event><cap:sent>2024-06-01T10:00:00Z</cap:sent>
      <link href="https://alerts.example.org/cap/1.xml" type="application/cap+xml"/></entry></feed>`;
    const result = parse(feed);
    expect(result.events).toEqual([]);
    expect(result.rejected).toEqual([{
      where: 'entry 1 (id urn:entry:1)',
      reason: 'index entry has cap: fields but no cap:identifier; fetch the full CAP alert at https://alerts.example.org/cap/1.xml',
    }]);
  });

  it('reads an Atom feed with zero entries as a valid, empty result', () => {
    const empty = `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
      <id>tag:meteoalarm.org,2021-02-19:KE</id><title>Meteoalarm</title><updated>2024-06-01T00:00:00Z</updated></feed>`;
    expect(parse(empty)).toEqual({ events: [], indicators: [], rejected: [] });
    expect(parse('<feed xmlns="http://www.w3.org/2005/Atom"/>')).toEqual({ events: [], indicators: [], rejected: [] });
    expect(capLinksOf(Buffer.from(empty))).toEqual([]);
  });
});

describe('CAP adapter: a plain RSS index that only links to CAP XML', () => {
  const rss = fixture('rss-index.xml');

  it('returns each item as a Rejection telling the fetch side to follow its link', () => {
    const result = parse(rss);
    expect(result.events).toEqual([]);
    expect(result.rejected).toEqual([
      { where: 'item 1 (id KMD-2024-05-03-0042)', reason: 'index entry only links to https://cap-sources.s3.amazonaws.com/ke-kmd-en/2024-05-03-09-30-00-0042.xml; fetch the full CAP alert' },
      { where: 'item 2 (id KMD-2024-05-04-0007)', reason: 'index entry only links to https://cap-sources.s3.amazonaws.com/ke-kmd-en/2024-05-04-06-00-00-0007.xml; fetch the full CAP alert' },
      { where: 'item 3 (id KMD-2024-05-03-0042-bis)', reason: 'index entry only links to https://cap-sources.s3.amazonaws.com/ke-kmd-en/2024-05-03-09-30-00-0042.xml; fetch the full CAP alert' },
    ]);
  });

  it('lists the CAP URLs once each, relative links resolved', () => {
    expect(capLinksOf(rss)).toEqual([
      'https://cap-sources.s3.amazonaws.com/ke-kmd-en/2024-05-03-09-30-00-0042.xml',
      'https://cap-sources.s3.amazonaws.com/ke-kmd-en/2024-05-04-06-00-00-0007.xml',
    ]);
  });

  it('rejects an item with neither cap: fields nor a link', () => {
    const result = parse('<rss version="2.0"><channel><title>x</title><item><title>no link</title></item></channel></rss>');
    expect(result.rejected).toEqual([{ where: 'item 1', reason: 'index entry has neither cap: fields nor a link to a CAP alert' }]);
  });
});

describe('CAP adapter: own payloads', () => {
  it('reads a cap:-prefixed alert: English info first choice, awareness level, polygon over lines, circle, geocodes, signature ignored', () => {
    const event = only(parse(fixture('prefixed-alert.xml'), contextWith({ 'KMD_COUNTY|07': 'KE007' })));
    expect(event.externalId).toBe('cap@meteo.go.ke,KMD-2024-05-03-0042');
    expect(event.version).toBe('2024-05-03T06:30:00.000Z');
    expect(event.title).toBe('Flood warning for the lower Tana River');
    expect(event.hazard).toBe('flood');
    expect(event.eventAlertLevel).toBe('orange'); // awareness_level wins over severity Moderate
    expect(event.properties.infos).toEqual([
      { language: 'sw-KE', event: 'Mafuriko', headline: 'Tahadhari ya mafuriko, Mto Tana' },
      { language: 'en-KE', event: 'Flood warning', headline: 'Flood warning for the lower Tana River' },
    ]);
    expect(event.properties.responseType).toEqual(['Prepare', 'Evacuate']);
    expect(event.validFrom).toBe('2024-05-03T07:00:00.000Z');
    expect(event.validTo).toBe('2024-05-06T15:00:00.000Z');
    expect(event.properties.onset).toBe('2024-05-03T15:00:00.000Z');
    expect(event.link).toBe('https://meteo.go.ke/warnings/KMD-2024-05-03-0042');
    expect(event.footprints.map((f) => [f.class, f.label, f.value ?? null, f.unit ?? null])).toEqual([
      ['polygon', 'Lower Tana River floodplain', null, null],
      ['circle', 'Garissa town', 25, 'km'],
    ]);
    expect((event.footprints[0].geometry as Polygon).coordinates).toEqual([[[39.6, -0.45], [40.1, -0.45], [40.1, -1.2], [39.6, -1.2], [39.6, -0.45]]]);
    expect(booleanPointInPolygon(point([39.6461, -0.4536]), event.footprints[1].geometry as Polygon)).toBe(true);
    expect(event.pcodes).toEqual(['KE007']);
    expect(event.properties.unmappedGeocodes).toEqual([{ valueName: 'KMD_COUNTY', value: '04', areaDesc: 'Lower Tana River floodplain' }]);
    expect(JSON.stringify(event.properties)).not.toContain('not a geocode');
  });

  it('reads a Cancel with references and no info: cancels and supersedes, needs no area', () => {
    const event = only(parse(fixture('cancel-no-info.xml')));
    expect(event.externalId).toBe('cap@meteo.go.ke,KMD-2024-05-04-0007');
    expect(event.cancels).toBe(true);
    expect(event.supersedes).toEqual(['cap@meteo.go.ke,KMD-2024-05-03-0042', 'cap@meteo.go.ke,KMD-2024-05-03-0043']);
    expect(event.status).toBe('actual');
    expect(event.hazard).toBe('other');
    expect(event.footprints).toEqual([]);
    expect(event.pcodes).toEqual([]);
    expect(event.eventAlertLevel).toBeNull();
    expect(event.validFrom).toBe('2024-05-04T03:00:00.000Z');
    expect(event.validTo).toBeNull();
    expect(event.properties.infos).toEqual([]);
  });

  it('rejects an alert whose polygon is written lon,lat (latitude > 90), naming the area', () => {
    const result = parse(fixture('swapped-polygon.xml'));
    expect(result.events).toEqual([]);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0].where).toBe('alert QLD-TC-2024-001');
    expect(result.rejected[0].reason).toBe('area "Cairns hinterland": polygon point 1 "145.5,-16.8" is out of range (latitude −90..90, longitude −180..180; lon,lat written in the wrong order?)');
  });

  it('emits Ack and Error with status system (never triggering) and keeps the given status', () => {
    for (const msgType of ['Ack', 'Error']) {
      const event = only(parse(alertXml({ msgType, references: 'other@example.org,O-1,2024-05-01T11:00:00Z' })));
      expect(event.status).toBe('system');
      expect(event.properties.msgType).toBe(msgType);
      expect(event.properties.status).toBe('Actual');
      expect(event.supersedes).toEqual([]); // an Ack does not close what it acknowledges
      expect(event.cancels).toBe(false);
    }
  });

  it('maps every CAP status and rejects an unknown one', () => {
    const statuses = { Actual: 'actual', Exercise: 'exercise', Test: 'test', Draft: 'draft', System: 'system' };
    for (const [given, expected] of Object.entries(statuses)) {
      expect(only(parse(alertXml({ status: given, info: infoXml(goodPolygon) }))).status).toBe(expected);
    }
    const result = parse(alertXml({ status: 'Rehearsal', info: infoXml(goodPolygon) }));
    expect(result.events).toEqual([]);
    expect(result.rejected).toEqual([{ where: 'alert T-1', reason: 'status "Rehearsal" is not a CAP status (Actual, Exercise, System, Test, Draft)' }]);
  });

  it('maps severity to the alert level and the event text to a hazard', () => {
    const levels: [string, string | null][] = [['Minor', 'green'], ['Moderate', 'yellow'], ['Severe', 'orange'], ['Extreme', 'red'], ['Unknown', null]];
    for (const [severity, level] of levels) {
      const info = infoXml(goodPolygon).replace('<severity>Severe</severity>', `<severity>${severity}</severity>`);
      expect(only(parse(alertXml({ info }))).eventAlertLevel).toBe(level);
    }
    const hazards: [string, string][] = [
      ['Flash Flood Warning', 'flood'], ['Heavy rain', 'flood'], ['Severe Thunderstorm Warning', 'storm'], ['Gale warning', 'storm'],
      ['Hurricane Warning', 'tropical_cyclone'], ['Typhoon', 'tropical_cyclone'], ['Tsunami Advisory', 'tsunami'],
      ['Earthquake', 'earthquake'], ['Red Flag Warning - fire weather', 'wildfire'], ['Drought', 'drought'],
      ['Excessive Heat Warning', 'extreme_temperature'], ['Extreme Cold Warning', 'extreme_temperature'], ['Fog', 'other'],
    ];
    for (const [text, hazard] of hazards) {
      const info = infoXml(goodPolygon).replace('Severe Thunderstorm Warning', text);
      expect(only(parse(alertXml({ info }))).hazard, text).toBe(hazard);
    }
  });

  it('rejects an alert missing its identifier, sender or a readable sent time', () => {
    expect(parse(alertXml({ identifier: null, info: infoXml(goodPolygon) })).rejected)
      .toEqual([{ where: 'alert (no identifier)', reason: 'the alert has no identifier' }]);
    expect(parse(alertXml({ sender: '', info: infoXml(goodPolygon) })).rejected)
      .toEqual([{ where: 'alert T-1', reason: 'the alert has no sender' }]);
    expect(parse(alertXml({ sent: 'yesterday', info: infoXml(goodPolygon) })).rejected)
      .toEqual([{ where: 'alert T-1', reason: 'sent "yesterday" is not a date-time' }]);
    expect(parse(alertXml({ msgType: 'Notice', info: infoXml(goodPolygon) })).rejected[0].reason)
      .toMatch(/^msgType "Notice" is not a CAP message type/);
  });

  it('rejects an Alert or Update without a usable area', () => {
    expect(parse(alertXml({})).rejected).toEqual([{ where: 'alert T-1', reason: 'no usable area (the alert has no info block)' }]);
    expect(parse(alertXml({ msgType: 'Update', references: 'a,b,c', info: infoXml('') })).rejected)
      .toEqual([{ where: 'alert T-1', reason: 'no usable area (no polygon, circle or geocode)' }]);
  });

  it('rejects unclosed, too short or unreadable polygons and bad circles', () => {
    const reasonFor = (area: string) => parse(alertXml({ info: infoXml(area) })).rejected.map((r) => r.reason);
    expect(reasonFor('<polygon>-1,36 -1,37 -2,37 -2,36</polygon>'))
      .toEqual(['area "Test area": polygon is not closed: the first point -1,36 differs from the last -2,36']);
    expect(reasonFor('<polygon>-1,36 -1,37 -1,36</polygon>'))
      .toEqual(['area "Test area": polygon has 3 points; a CAP polygon needs at least 4 (a closed ring)']);
    expect(reasonFor('<polygon>-1,36 -1;37 -2,37 -1,36</polygon>'))
      .toEqual(['area "Test area": polygon point 2 "-1;37" is not a "lat,lon" pair']);
    expect(reasonFor('<circle>-1.2,36.8 -5</circle>'))
      .toEqual(['area "Test area": circle radius "-5" is not a distance in km']);
    expect(reasonFor('<circle>36.8,-181 5</circle>')[0]).toMatch(/^area "Test area": circle point 1 "36.8,-181" is out of range/);
    expect(reasonFor('<circle>0,179.99 50</circle>')[0]).toMatch(/crosses the antimeridian/);
  });

  it('tolerates spaces after commas in polygons and reads a zero-radius circle as a point', () => {
    const read = polygonGeometry(' -1.0, 36.0  -1.0 ,37.0\n -2.0,37.0 -1.0,36.0 ');
    expect(read).toEqual({ geometry: { type: 'Polygon', coordinates: [[[36, -1], [37, -1], [37, -2], [36, -1]]] } });
    const c = circleGeometry('-1.2,36.8 0');
    expect('geometry' in c && (c.geometry as Point)).toEqual({ type: 'Point', coordinates: [36.8, -1.2] });
  });

  it('splits reference triplets into sender,identifier ids and flags malformed ones', () => {
    expect(parseReferences('a@x,ID-1,2024-01-01T00:00:00Z\n  a@x,ID-1,2024-01-02T00:00:00Z b@y,ID-2,2024-01-01T00:00:00Z junk'))
      .toEqual({
        ids: ['a@x,ID-1', 'b@y,ID-2'],
        triplets: ['a@x,ID-1,2024-01-01T00:00:00Z', 'a@x,ID-1,2024-01-02T00:00:00Z', 'b@y,ID-2,2024-01-01T00:00:00Z', 'junk'],
        malformed: ['junk'],
      });
  });

  it('keeps a Cancel whose area is broken, noting the problem instead of losing the cancellation', () => {
    const event = only(parse(alertXml({ msgType: 'Cancel', references: 'test@example.org,T-0,2024-05-01T10:00:00Z', info: infoXml('<polygon>95,36 95,37 96,37 95,36</polygon>') })));
    expect(event.cancels).toBe(true);
    expect(event.footprints).toEqual([]);
    expect(event.properties.areaProblems).toEqual([expect.stringMatching(/^area "Test area": polygon point 1 "95,36" is out of range/)]);
  });
});

describe('CAP adapter: unreadable payloads', () => {
  it('throws a PayloadError for invalid XML', () => {
    expect(() => parse('<alert><identifier>x</alert>')).toThrow(PayloadError);
    expect(() => parse('<alert><identifier>x</alert>')).toThrow(/not well-formed XML/);
  });

  it('refuses an entity bomb', () => {
    const bomb = `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>`;
    expect(() => parse(bomb)).toThrow(PayloadError);
    expect(() => parse(bomb)).toThrow(/DOCTYPE or ENTITY/);
    expect(() => capLinksOf(Buffer.from(bomb))).toThrow(PayloadError);
  });

  it('throws for an empty payload, an empty alert element and XML that is not CAP', () => {
    expect(() => parse('')).toThrow(/empty/);
    expect(() => parse('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>')).toThrow(/alert element is empty/);
    expect(() => parse('<html><body>Service unavailable</body></html>')).toThrow(/root element is html, expected alert, feed or rss/);
    expect(() => capLinksOf(Buffer.from('<html/>'))).toThrow(PayloadError);
  });
});
