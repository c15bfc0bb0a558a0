import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gdacsAdapter } from '../../src/feeds/adapters/gdacs.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { ingestOnce } from '../../src/feeds/run-feed.ts';
import { listQuarantine } from '../../src/feeds/health.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';
import { sharedData } from '../support/paths.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const feed = (relative: string) => path.join(sharedData, 'feeds', relative);
const query = async <R>(text: string, params: unknown[] = []) =>
  (await t.store.transaction(({ raw }) => raw.query<R>(text, params))).rows;

describe('GDACS drought 1016449, episodes 1, 5 and 7', () => {
  it('gives three versions of one event; the episode alert moves green → orange; the current footprint is episode 7', async () => {
    for (const episode of [1, 5, 7]) {
      await ingestOnce(t.store, 'gdacs', feed(`gdacs/api/dr-1016449-ep${episode}-event.json`));
      await ingestOnce(t.store, 'gdacs', feed(`gdacs/api/dr-1016449-ep${episode}-geometry.json`));
    }
    const versions = await query<{ version: string; episode_alert_level: string; event_alert_level: string }>(
      `SELECT v.version, v.episode_alert_level, v.event_alert_level
         FROM hazard_event_versions v JOIN hazard_events e ON e.id = v.event_id
        WHERE e.source = 'gdacs' AND e.external_id = 'DR1016449' ORDER BY v.version_rank`,
    );
    expect(versions).toEqual([
      { version: '1', episode_alert_level: 'green', event_alert_level: 'green' },
      { version: '5', episode_alert_level: 'orange', event_alert_level: 'green' },
      { version: '7', episode_alert_level: 'orange', event_alert_level: 'green' },
    ]);
    const [current] = await query<{ version: string; classes: string[]; points: number }>(
      `SELECT v.version, array_agg(DISTINCT f.class ORDER BY f.class) AS classes,
              max(ST_NPoints(f.geom)) FILTER (WHERE f.class = 'Poly_area')::int AS points
         FROM hazard_events e JOIN hazard_event_versions v ON v.id = e.current_version_id
         JOIN hazard_footprints f ON f.version_id = v.id
        WHERE e.external_id = 'DR1016449' GROUP BY v.version`,
    );
    expect(current.version).toBe('7');
    expect(current.classes).toEqual(['Point_Centroid', 'Poly_area']);
    const [episode1] = await query<{ points: number }>(
      `SELECT max(ST_NPoints(f.geom))::int AS points FROM hazard_footprints f JOIN hazard_event_versions v ON v.id = f.version_id
        JOIN hazard_events e ON e.id = v.event_id WHERE e.external_id = 'DR1016449' AND v.version = '1' AND f.class = 'Poly_area'`,
    );
    expect(current.points).toBeGreaterThan(episode1.points);
  });

  it('re-ingesting everything adds nothing', async () => {
    const before = await query<{ n: number }>(`SELECT (SELECT count(*) FROM hazard_event_versions) + (SELECT count(*) FROM hazard_footprints) + (SELECT count(*) FROM raw_payloads) AS n`);
    for (const episode of [1, 5, 7]) {
      const run = await ingestOnce(t.store, 'gdacs', feed(`gdacs/api/dr-1016449-ep${episode}-geometry.json`));
      expect(run).toMatchObject({ status: 'success', duplicates: 1, versionsAdded: 0, eventsAdded: 0 });
    }
    const after = await query<{ n: number }>(`SELECT (SELECT count(*) FROM hazard_event_versions) + (SELECT count(*) FROM hazard_footprints) + (SELECT count(*) FROM raw_payloads) AS n`);
    expect(after).toEqual(before);
  });

  it('keeps the raw payload byte for byte with its sha256, as evidence', async () => {
    const bytes = await readFile(feed('gdacs/api/dr-1016449-ep7-geometry.json'));
    const [stored] = await query<{ body: Uint8Array; size: number; sha256: string }>(
      `SELECT body, size, sha256 FROM raw_payloads WHERE source_url LIKE '%dr-1016449-ep7-geometry.json'`,
    );
    expect(Buffer.from(stored.body).equals(bytes)).toBe(true);
    expect(stored.size).toBe(bytes.length);
    expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('malformed payloads', () => {
  it('quarantines an unreadable payload with the reason, keeps it, and never throws', async () => {
    const broken = await tempFile('broken-rss.xml', '<rss><channel><item><title>cut');
    const run = await ingestOnce(t.store, 'gdacs', broken);
    expect(run.status).toBe('failed');
    expect(run.payloadErrors[0]).toMatch(/not well-formed XML/);
    const bomb = await tempFile('bomb.xml', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rss>&lol2;</rss>');
    const bombRun = await ingestOnce(t.store, 'gdacs', bomb);
    expect(bombRun.payloadErrors[0]).toMatch(/DOCTYPE or ENTITY/);
    const quarantine = await listQuarantine(t.store);
    expect(quarantine.map((q) => q.reason)).toEqual(expect.arrayContaining([expect.stringMatching(/not well-formed XML/), expect.stringMatching(/DOCTYPE/)]));
  });

  it('lands the valid records of a payload and quarantines the bad ones', async () => {
    const csv = [
      'pcode,indicator,period_start,period_end,value,status,source',
      'XD01001,vci3m,2026-09-01,2026-09-30,12.5,final,NDMA',
      'XD01002,vci3m,2026-09-01,2026-09-30,abc,final,NDMA',
      'XD01003,vci3m,2026-09-31,2026-10-30,20,final,NDMA',
      'XD01004,vci3m,2026-09-01,2026-09-30,33,final,NDMA',
    ].join('\n');
    const summary = await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(csv), url: 'test://mixed.csv' });
    expect(summary).toMatchObject({ indicatorsAdded: 2, quarantined: 2 });
    const values = await query<{ pcode: string; value: number }>(`SELECT pcode, value FROM indicator_values WHERE indicator = 'vci3m' ORDER BY pcode`);
    expect(values).toEqual([{ pcode: 'XD01001', value: 12.5 }, { pcode: 'XD01004', value: 33 }]);
  });

  it('quarantines a record whose coordinates are out of range, and stores the rest of the payload', async () => {
    const geometry = JSON.parse((await readFile(feed('gdacs/api/dr-1016449-ep1-geometry.json'))).toString('utf8').replace(/^\uFEFF/, ''));
    // Swap the centroid's coordinates into an impossible latitude.
    const centroid = geometry.features.find((f: { properties: { Class: string } }) => f.properties.Class === 'Point_Centroid');
    centroid.geometry.coordinates = [-10, 190];
    for (const f of geometry.features) f.properties.episodeid = 99;
    const summary = await ingestPayload(t.store, gdacsAdapter, { source: 'gdacs', bytes: Buffer.from(JSON.stringify(geometry)), url: 'test://swapped.json' });
    expect(summary.quarantined).toBeGreaterThanOrEqual(1);
    const footprints = await query<{ class: string }>(
      `SELECT f.class FROM hazard_footprints f JOIN hazard_event_versions v ON v.id = f.version_id WHERE v.version = '99'`,
    );
    expect(footprints.map((f) => f.class)).toEqual(['Poly_area']);
  });

  it('repairs a self-intersecting footprint before storing it', async () => {
    const props = { eventtype: 'FL', eventid: 4242, episodeid: 1, alertlevel: 'Orange', episodealertlevel: 'Orange', Class: 'Poly_Affected', polygonlabel: 'Affected area' };
    const bowTie = { type: 'Polygon', coordinates: [[[30, 0], [31, 1], [31, 0], [30, 1], [30, 0]]] };
    const doc = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: props, geometry: bowTie }] };
    const summary = await ingestPayload(t.store, gdacsAdapter, { source: 'gdacs', bytes: Buffer.from(JSON.stringify(doc)), url: 'test://bowtie.json' });
    expect(summary).toMatchObject({ versionsAdded: 1, footprints: 1, quarantined: 0 });
    const [footprint] = await query<{ valid: boolean; area: number }>(
      `SELECT ST_IsValid(f.geom) AS valid, ST_Area(f.geom) AS area FROM hazard_footprints f
         JOIN hazard_event_versions v ON v.id = f.version_id JOIN hazard_events e ON e.id = v.event_id
        WHERE e.external_id = 'FL4242'`,
    );
    expect(footprint.valid).toBe(true);
    expect(footprint.area).toBeCloseTo(0.5, 6); // the two triangles of the bow tie
  });

  it('an empty feed is no error: nothing added, nothing quarantined', async () => {
    const empty = await tempFile('empty-rss.xml', '<?xml version="1.0"?><rss version="2.0"><channel><title>GDACS</title></channel></rss>');
    const run = await ingestOnce(t.store, 'gdacs', empty);
    expect(run).toMatchObject({ status: 'success', eventsAdded: 0, versionsAdded: 0, quarantined: 0 });
  });
});

describe('CAP lineage', () => {
  const earlier = (identifier: string, sent: string) => `<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>${identifier}</identifier><sender>cap-pac@ec.gc.ca</sender><sent>${sent}</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><language>en-CA</language><category>Met</category><event>snowfall</event><urgency>Future</urgency>
    <severity>Moderate</severity><certainty>Likely</certainty>
    <area><areaDesc>Test</areaDesc><polygon>49.0,-123.0 49.5,-123.0 49.5,-122.5 49.0,-122.5 49.0,-123.0</polygon></area></info>
</alert>`;

  it('the Update with nine references supersedes what they name, whether it arrives before or after them', async () => {
    // One referenced alert arrives before the update, one after it.
    await ingestOnce(t.store, 'cap', await tempFile('cap-before.xml', earlier('2.49.0.1.124.726d2331.2013', '2013-01-23T21:31:00-00:00')));
    const update = await ingestOnce(t.store, 'cap', feed('cap/rscap_canada_signed.xml'));
    expect(update).toMatchObject({ status: 'success', eventsAdded: 1 });
    await ingestOnce(t.store, 'cap', await tempFile('cap-after.xml', earlier('2.49.0.1.124.dbd93ecf.2013', '2013-01-23T21:31:00-00:00')));
    const events = await query<{ external_id: string; status: string; closed_by: string | null }>(
      `SELECT e.external_id, e.status, c.external_id AS closed_by
         FROM hazard_events e LEFT JOIN hazard_events c ON c.id = e.closed_by_event_id
        WHERE e.source = 'cap' AND e.external_id LIKE 'cap-pac@ec.gc.ca,%' ORDER BY e.external_id`,
    );
    expect(events).toEqual([
      { external_id: 'cap-pac@ec.gc.ca,2.49.0.1.124.726d2331.2013', status: 'superseded', closed_by: 'cap-pac@ec.gc.ca,2.49.0.1.124.f2c83f5f.2013' },
      { external_id: 'cap-pac@ec.gc.ca,2.49.0.1.124.dbd93ecf.2013', status: 'superseded', closed_by: 'cap-pac@ec.gc.ca,2.49.0.1.124.f2c83f5f.2013' },
      { external_id: 'cap-pac@ec.gc.ca,2.49.0.1.124.f2c83f5f.2013', status: 'open', closed_by: null },
    ]);
  });
});

describe('indicator values', () => {
  it('a final value replaces the forecast for the same key, and the forecast stays as history', async () => {
    const header = 'pcode,indicator,period_start,period_end,value,status,source';
    await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(`${header}\nXD02001,spi3,2026-08-01,2026-10-31,-1.2,forecast,CHC\n`), url: 'test://f.csv' });
    await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(`${header}\nXD02001,spi3,2026-08-01,2026-10-31,-1.6,final,CHC\n`), url: 'test://g.csv' });
    const current = await sql<{ value: number; status: string }>`SELECT value, status FROM indicator_values_current WHERE pcode = 'XD02001' AND indicator = 'spi3'`.execute(t.store.db);
    expect(current.rows).toEqual([{ value: -1.6, status: 'final' }]);
    const history = await query<{ status: string }>(`SELECT status FROM indicator_values WHERE pcode = 'XD02001' AND indicator = 'spi3' ORDER BY status`);
    expect(history.map((h) => h.status)).toEqual(['final', 'forecast']);
  });
});
