import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestOnce, type RunSummary } from '../../src/feeds/run-feed.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { sharedData } from '../support/paths.ts';
import { tempFile } from '../support/files.ts';
import { listQuarantine } from '../../src/feeds/health.ts';

// Every recorded payload under ../shared/data/feeds goes through the same path as `asp ingest`.
const SOURCE_BY_FOLDER: Record<string, string> = {
  gdacs: 'gdacs', usgs: 'usgs', cap: 'cap', food_security: 'ipc', climate: 'indicators',
};
// Two files are not feed payloads and are refused with a reason a user can act on.
// Two CAP files describe their areas only by geocodes (Meteoalarm EMMA_ID, NOAA UGC zones): with
// no mapping of those codes to P-codes they are read and their alerts quarantined, saying which.
const GEOCODE_ONLY = ['meteoalarm-legacy-atom-poland_2023-04-28.xml', 'rscap_wcatwc-warning.xml'];
const REFUSED: Record<string, RegExp> = {
  'pager_losses_us6000pi9w.json': /needs the detail document|event id/i,
  'glofas_stations_KEN_ibf.csv': /expected|columns/i,
};

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}
const feedsDir = path.join(sharedData, 'feeds');
const files = listFiles(feedsDir).sort();
const sourceOf = (file: string) => SOURCE_BY_FOLDER[path.relative(feedsDir, file).split(path.sep)[0]];

let t: TestDatabase;
const runs = new Map<string, RunSummary>();
beforeAll(async () => {
  t = await createTestDatabase();
  // IPC areas are analysis units: two Ethiopian ones are mapped to (made-up) P-codes; the rest
  // stay unmapped and are quarantined, saying so.
  await t.store.db.insertInto('area_codes').values([
    { scheme: 'ipc', code: '25133842', pcode: 'ET0101' },
    { scheme: 'ipc', code: '25133889', pcode: 'ET0102' },
  ]).execute();
  for (const file of files) runs.set(path.basename(file), await ingestOnce(t.store, sourceOf(file), file));
});
afterAll(() => t?.drop());

describe('every recorded feed sample', () => {
  it('is covered: 26 files over five sources', () => {
    expect(files).toHaveLength(26);
    expect(new Set(files.map(sourceOf))).toEqual(new Set(['gdacs', 'usgs', 'cap', 'ipc', 'indicators']));
  });

  it('ingests: the feed payloads succeed and add data; the two reference files are refused with the reason', () => {
    for (const [name, run] of runs) {
      if (REFUSED[name]) {
        expect(run.status, name).toBe('failed');
        expect(run.payloadErrors[0], name).toMatch(REFUSED[name]);
      } else if (GEOCODE_ONLY.includes(name)) {
        expect(run.status, name).toBe('success');
        expect(run.quarantined, name).toBeGreaterThan(0);
      } else {
        expect(run.status, `${name}: ${run.error}`).toBe('success');
        expect(run.versionsAdded + run.versionsUpdated + run.indicatorsAdded, name).toBeGreaterThan(0);
      }
    }
  });

  it('lands what a user relies on: counts per source, alert levels, footprint classes', async () => {
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ source: string; events: number; red: number }>(`
        SELECT e.source, count(DISTINCT e.id)::int AS events,
               count(DISTINCT e.id) FILTER (WHERE v.event_alert_level = 'red')::int AS red
          FROM hazard_events e JOIN hazard_event_versions v ON v.id = e.current_version_id
         GROUP BY e.source ORDER BY e.source`),
    );
    const bySource = Object.fromEntries(rows.map((r) => [r.source, r]));
    // The 7-day GDACS feed alone has 115 events; the other feeds overlap it.
    expect(bySource.gdacs.events).toBeGreaterThanOrEqual(115);
    expect(bySource.usgs.events).toBeGreaterThanOrEqual(18);
    expect(bySource.usgs.red).toBeGreaterThan(0); // Herat, PAGER red
    expect(bySource.cap.events).toBe(2); // Environment Canada and AirNow
    const reasons = (await listQuarantine(t.store, 10_000)).map((q) => `${q.location}: ${q.reason}`).join('\n');
    expect(reasons).toMatch(/analysis \d+ area \d+ \(.+\): no P-code mapping for this IPC area/);
    expect(reasons).toMatch(/no usable area \(geocodes without a P-code mapping: EMMA_ID PL\d+/);
    expect(bySource.ipc.events).toBeGreaterThan(0);
    const ipc = await t.store.transaction(({ raw }) =>
      raw.query<{ pcode: string; n: number }>(`SELECT pcode, count(*)::int AS n FROM indicator_values WHERE source = 'IPC' GROUP BY pcode ORDER BY pcode`),
    );
    expect(ipc.rows.map((r) => r.pcode)).toEqual(['ET0101', 'ET0102']);
    const classes = await t.store.transaction(({ raw }) =>
      raw.query<{ class: string }>(`SELECT DISTINCT class FROM hazard_footprints ORDER BY class`),
    );
    expect(classes.rows.map((r) => r.class)).toEqual(
      expect.arrayContaining(['Point_Centroid', 'Poly_area', 'Poly_Affected', 'Poly_Global', 'bbox', 'mmi', 'polygon', 'circle', 'phase']),
    );
  });

  it('re-ingesting everything adds nothing', async () => {
    for (const file of files) {
      const again = await ingestOnce(t.store, sourceOf(file), file);
      expect(again.duplicates, file).toBe(1);
      // A payload that was unreadable is still unreadable: the run says so again.
      expect(again.status, file).toBe(REFUSED[path.basename(file)] ? 'failed' : 'success');
      expect(again.versionsAdded + again.indicatorsAdded + again.eventsAdded, file).toBe(0);
    }
  });

  it('asp ingest on the command line: exit 0 with a summary, exit 2 for a payload nothing can be read from', async () => {
    await t.store.close(); // the embedded database admits one process at a time
    try {
      const ok = await runAsp([...t.cliArgs, '--json', 'ingest', 'gdacs', path.join(feedsDir, 'gdacs/api/fl-1102983-ep2-geometry.json')]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'success', source: 'gdacs', duplicates: 1 });
      const refused = await runAsp([...t.cliArgs, 'ingest', 'usgs', await tempFile('not-usgs.json', '{"type": "Topology"}')]);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toMatch(/FAILED: payload unreadable/);
      const unknown = await runAsp([...t.cliArgs, 'ingest', 'fews', path.join(feedsDir, 'cap/rscap_airnow.xml')]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/unknown source "fews"/);
    } finally {
      await t.reopen();
    }
  });
});
