import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { ingestOnce } from '../../src/feeds/run-feed.ts';
import { runAspOn } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';
import { sharedData } from '../support/paths.ts';

// Issue 11, defect 6: one bad byte must not lose a payload. Each case takes a real payload, spoils
// one record the way a hostile or broken source would, and checks that only that record is lost.

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const feed = (relative: string) => path.join(sharedData, 'feeds', relative);
const query = async <R>(text: string, params: unknown[] = []) =>
  (await t.store.transaction(({ raw }) => raw.query<R>(text, params))).rows;
const quarantineOf = (url: string) =>
  query<{ location: string; reason: string; record: unknown }>(
    `SELECT q.location, q.reason, q.record FROM quarantine q JOIN raw_payloads p ON p.id = q.payload_id WHERE p.source_url = $1 ORDER BY q.id`,
    [url],
  );
const storedBody = async (url: string) =>
  Buffer.from((await query<{ body: Uint8Array }>(`SELECT body FROM raw_payloads WHERE source_url = $1`, [url]))[0].body);

/** New identities for every earthquake of the summary, so that they are new events again. */
function renamed(features: { id: string; properties: Record<string, unknown> }[], suffix: string): string[] {
  for (const f of features) {
    f.id = `${f.id}${suffix}`;
    f.properties.ids = `,${f.id},`;
  }
  return features.map((f) => f.id);
}

/** The USGS month summary (18 earthquakes, every one readable) with `spoil` applied. */
async function usgsSummary(spoil: (features: { id: string; properties: Record<string, unknown> }[]) => void): Promise<string> {
  const doc = JSON.parse(await readFile(feed('usgs/summary_significant_month_2023-10-11.geojson'), 'utf8'));
  spoil(doc.features);
  return tempFile(`usgs-${Math.random().toString(36).slice(2)}.geojson`, JSON.stringify(doc));
}

const eventIds = async (ids: string[]) =>
  (await query<{ external_id: string }>(`SELECT external_id FROM hazard_events WHERE source = 'usgs' AND external_id = ANY ($1::text[])`, [ids]))
    .map((r) => r.external_id).sort();

describe('a record the database cannot store is quarantined alone', () => {
  it('a NUL character in one earthquake\'s place: that earthquake is quarantined with the reason, the other 17 land, the raw payload is kept byte for byte', async () => {
    let ids: string[] = [];
    const file = await usgsSummary((features) => {
      ids = features.map((f) => f.id);
      features[0].properties.place = 'western\u0000 Afghanistan';
    });
    const run = await ingestOnce(t.store, 'usgs', file);
    expect(run).toMatchObject({ status: 'success', eventsAdded: 17, quarantined: 1, payloadErrors: [] });
    expect(await eventIds(ids)).not.toContain(ids[0]);
    expect((await eventIds(ids)).length).toBe(17);
    const url = `file://${file}`;
    const refused = (await quarantineOf(url)).find((q) => q.location.includes(ids[0]))!;
    expect(refused.reason).toMatch(/NUL character/);
    // The refused record is kept as evidence, its NUL made visible.
    expect(JSON.stringify(refused.record)).toContain('western\\\\u0000 Afghanistan');
    expect((await storedBody(url)).equals(await readFile(file))).toBe(true);
  });

  it('an unpaired surrogate in one title is quarantined alone too', async () => {
    let ids: string[] = [];
    const file = await usgsSummary((features) => {
      ids = renamed(features, '-s');
      features[3].properties.title = 'M 6.3 \ud800';
    });
    const run = await ingestOnce(t.store, 'usgs', file);
    expect(run).toMatchObject({ status: 'success', eventsAdded: 17, quarantined: 1, payloadErrors: [] });
    expect(await eventIds(ids)).not.toContain(ids[3]);
    expect((await quarantineOf(`file://${file}`)).map((q) => q.reason)).toContainEqual(expect.stringMatching(/unpaired UTF-16 surrogate/));
  });

  it('an event id over 2.7 KB (beyond the index limit) is quarantined alone with a plain reason', async () => {
    const long = `us${'7'.repeat(3000)}`;
    const file = await usgsSummary((features) => {
      renamed(features, '-k');
      features[5].id = long;
      features[5].properties.ids = `,${long},`;
    });
    const run = await ingestOnce(t.store, 'usgs', file);
    expect(run).toMatchObject({ status: 'success', eventsAdded: 17, quarantined: 1 });
    expect((await quarantineOf(`file://${file}`)).map((q) => q.reason)).toContainEqual(expect.stringMatching(/bytes long \(at most 1000/));
  });

  it('an epoch time past what a date can hold (1e300 ms) in one earthquake: quarantined alone, the other 17 land', async () => {
    let ids: string[] = [];
    const file = await usgsSummary((features) => {
      ids = renamed(features, '-t');
      features[2].properties.time = 1e300;
    });
    const run = await ingestOnce(t.store, 'usgs', file);
    expect(run).toMatchObject({ status: 'success', eventsAdded: 17, quarantined: 1, payloadErrors: [] });
    expect(await eventIds(ids)).not.toContain(ids[2]);
    const [refused] = await quarantineOf(`file://${file}`);
    expect(refused.location).toContain(ids[2]);
  });

  it('a GeometryCollection nested 20,000 deep in one GDACS feature: that feature is quarantined, its siblings land', async () => {
    const text = (await readFile(feed('gdacs/api/dr-1016449-ep7-geometry.json'), 'utf8')).replace(/^\uFEFF/, '');
    const depth = 20000;
    const nested = text
      .replace(/"episodeid":\s*7/g, '"episodeid": 77')
      .replace(/"geometry":\s*\{/, `"geometry":${'{"type":"GeometryCollection","geometries":['.repeat(depth)}{"type":"Point","coordinates":[1,2]}${']}'.repeat(depth)},"x":{`);
    const file = await tempFile('gdacs-deep.json', nested);
    const run = await ingestOnce(t.store, 'gdacs', file);
    expect(run).toMatchObject({ status: 'success', payloadErrors: [], quarantined: 1 });
    expect((await quarantineOf(`file://${file}`)).map((q) => q.reason)).toEqual([expect.stringMatching(/nested too deeply/)]);
    const footprints = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM hazard_footprints f JOIN raw_payloads p ON p.id = f.payload_id WHERE p.source_url = $1`, [`file://${file}`]);
    expect(footprints[0].n).toBeGreaterThan(0);
    expect((await storedBody(`file://${file}`)).length).toBe(Buffer.byteLength(nested));
  });

  it('a year-0000 date in one CHIRPS row: that row is quarantined, every other row lands', async () => {
    const text = await readFile(feed('climate/wfp_chirps_rainfall_moz-adm2-5ytd_extract.csv'), 'utf8');
    const [header, ...rows] = text.trimEnd().split('\n');
    const spoiled = [header, rows[0].replace(/^\d{4}/, '0000'), ...rows.slice(1)].join('\n') + '\n';
    const clean = await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(text), url: 'test://chirps-clean.csv' });
    await query(`DELETE FROM indicator_values`);
    const summary = await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(spoiled), url: 'test://chirps-year0.csv' });
    expect(summary.payloadError).toBeNull();
    expect(summary.quarantined).toBeGreaterThan(clean.quarantined);
    const refused = await quarantineOf('test://chirps-year0.csv');
    expect(refused.map((q) => q.reason)).toContainEqual(expect.stringMatching(/year 0000/));
    // What the spoiled row gave is lost, nothing else.
    expect(summary.indicatorsAdded + (summary.quarantined - clean.quarantined)).toBe(clean.indicatorsAdded);
    expect(summary.indicatorsAdded).toBeGreaterThan(0);
  });

  it('a P-code the index cannot hold in one indicator row: that row is quarantined, the others land', async () => {
    const csv = [
      'pcode,indicator,period_start,period_end,value,status,source',
      'XD01001,vci3m,2026-09-01,2026-09-30,12.5,final,NDMA',
      `XD${'9'.repeat(3000)},vci3m,2026-09-01,2026-09-30,20,final,NDMA`,
      'XD01004,vci3m,2026-09-01,2026-09-30,33,final,NDMA',
    ].join('\n');
    const summary = await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(csv), url: 'test://long-pcode.csv' });
    expect(summary).toMatchObject({ indicatorsAdded: 2, quarantined: 1, payloadError: null });
  });
});

describe('a payload no parser can read is quarantined whole, never a crash', () => {
  it('deeply nested XML in a CAP alert: quarantined with the reason, `asp ingest` exits 2 without a stack trace', async () => {
    const text = await readFile(feed('cap/rscap_airnow.xml'), 'utf8');
    const file = await tempFile('cap-deep.xml', text.replace('<info>', `<info>${'<x>'.repeat(50000)}${'</x>'.repeat(50000)}`));
    const result = await runAspOn(t, ['ingest', 'cap', file]);
    expect(result.code).toBe(2);
    expect(result.stdout + result.stderr).toMatch(/FAILED: payload unreadable: not readable XML: Maximum nested tags exceeded/);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
    expect((await quarantineOf(`file://${file}`)).map((q) => q.location)).toEqual(['payload']);
  });

  it('a truncated XML comment at the end of a GDACS RSS feed', async () => {
    const text = await readFile(feed('gdacs/rss_2019-12-30_gdacs-rss.xml'), 'utf8');
    const file = await tempFile('gdacs-comment.xml', `${text.slice(0, 3000)}<!-- cut`);
    const run = await ingestOnce(t.store, 'gdacs', file);
    expect(run).toMatchObject({ status: 'failed', eventsAdded: 0 });
    expect(run.payloadErrors[0]).toMatch(/^not well-formed XML: .*\(line \d+, column \d+\)$/);
  });

  it('keeps a reason readable when a parser quotes the whole document', async () => {
    const text = await readFile(feed('gdacs/rss_2019-12-30_gdacs-rss.xml'), 'utf8');
    const file = await tempFile('gdacs-unclosed.xml', '<a>'.repeat(20000) + text);
    const run = await ingestOnce(t.store, 'gdacs', file);
    expect(run.status).toBe('failed');
    expect(run.payloadErrors[0].length).toBeLessThan(2100);
    expect(run.payloadErrors[0]).toMatch(/^not well-formed XML: /);
  });
});
