import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/db/store.ts';
import type { FeedConfig } from '../../src/feeds/config.ts';
import { feedHealth } from '../../src/feeds/health.ts';
import { startScheduler } from '../../src/scheduler/scheduler.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { serveRoutes } from '../support/http.ts';
import { sharedData } from '../support/paths.ts';

let t: TestDatabase;
let server: Awaited<ReturnType<typeof serveRoutes>>;
let usgs: Buffer;
let down = true;

beforeAll(async () => {
  t = await createTestDatabase();
  usgs = await readFile(path.join(sharedData, 'feeds/usgs/summary_significant_month_2023-10-11.geojson'));
  server = await serveRoutes({
    '/usgs.geojson': (_req, res) => void res.writeHead(200, { 'content-type': 'application/geo+json' }).end(usgs),
    '/broken.geojson': (_req, res) => void (down ? res.writeHead(502).end() : res.writeHead(200).end(usgs)),
  });
});
afterAll(async () => {
  await server?.close();
  await t?.drop();
});

// A schedule that never fires during the test: runs happen through tick(), as on a cron tick.
const feed = (name: string, urlPath: string): FeedConfig => ({
  name, adapter: 'usgs', url: `${server.url}${urlPath}`, schedule: '0 0 1 1 *', enabled: true,
  staleAfterMinutes: 60, options: { retries: 0, timeoutMs: 30_000 },
});

describe('the scheduler', () => {
  it('runs each enabled feed, records health, and a failing feed does not stop the others', async () => {
    const newData: string[] = [];
    const scheduler = await startScheduler(t.store, [feed('usgs-month', '/usgs.geojson'), feed('flaky', '/broken.geojson')], {
      onNewData: [(run) => void newData.push(run.feed ?? '')],
    });
    const runs = await scheduler.tick();
    await scheduler.stop();
    expect(runs.map((r) => [r.feed, r.status])).toEqual([['usgs-month', 'success'], ['flaky', 'failed']]);
    expect(newData).toEqual(['usgs-month']);
    const health = Object.fromEntries((await feedHealth(t.store)).map((h) => [h.name, h]));
    expect(health['usgs-month']).toMatchObject({ consecutiveFailures: 0, stale: false });
    expect(health['usgs-month'].lastSuccessAt).not.toBeNull();
    expect(health.flaky).toMatchObject({ consecutiveFailures: 1, stale: true, lastSuccessAt: null });
    expect(health.flaky.lastError).toMatch(/broken\.geojson: (HTTP 502|fetch failed)/);
  });

  it('a second tick adds nothing new (idempotent) and a recovered feed resets its failures', async () => {
    down = false;
    const scheduler = await startScheduler(t.store, [feed('usgs-month', '/usgs.geojson'), feed('flaky', '/broken.geojson')]);
    const runs = await scheduler.tick();
    await scheduler.stop();
    expect(runs.find((r) => r.feed === 'usgs-month')).toMatchObject({ duplicates: 1, versionsAdded: 0 });
    // The same bytes under another feed: already known, nothing added.
    expect(runs.find((r) => r.feed === 'flaky')).toMatchObject({ status: 'success', duplicates: 1 });
    const flaky = (await feedHealth(t.store)).find((h) => h.name === 'flaky');
    expect(flaky?.consecutiveFailures).toBe(0);
  });

  it('does not run a feed twice at once when ticks overlap', async () => {
    const scheduler = await startScheduler(t.store, [feed('usgs-month', '/usgs.geojson')]);
    const before = server.hits.get('/usgs.geojson') ?? 0;
    await Promise.all([scheduler.tick(), scheduler.tick(), scheduler.tick()]);
    await scheduler.stop();
    expect((server.hits.get('/usgs.geojson') ?? 0) - before).toBe(1);
  });

  it('with two processes on one database, only one leads and runs the jobs', async () => {
    if (t.store.backend === 'embedded') {
      // The embedded database cannot even be opened by a second process: one scheduler, by construction.
      const dataDir = t.cliArgs[1];
      await expect(openStore({ dataDir })).rejects.toThrow(/is in use by process/);
      return;
    }
    const other: Store = await openStore({ url: t.env.DATABASE_URL });
    try {
      const a = await startScheduler(t.store, [feed('usgs-month', '/usgs.geojson')]);
      const b = await startScheduler(other, [feed('usgs-month', '/usgs.geojson')]);
      const before = server.hits.get('/usgs.geojson') ?? 0;
      const [runsA, runsB] = await Promise.all([a.tick(), b.tick()]);
      expect(runsA.length + runsB.length).toBe(1);
      expect((server.hits.get('/usgs.geojson') ?? 0) - before).toBe(1);
      // The leader keeps leading on later ticks.
      const [againA, againB] = await Promise.all([a.tick(), b.tick()]);
      expect([againA.length, againB.length]).toEqual([runsA.length, runsB.length]);
      // When the leader stops, the other takes over.
      const [leader, follower] = runsA.length === 1 ? [a, b] : [b, a];
      await leader.stop();
      expect((await follower.tick()).length).toBe(1);
      await follower.stop();
    } finally {
      await other.close();
    }
  });

  it('runs a dead process left running are marked failed, interrupted, when a scheduler takes the lead; a live command run is left alone', async () => {
    // As a SIGKILL leaves them: a scheduler run and an old command run never finished; a command run
    // started a minute ago may still be going (on the server another process may hold it).
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ id: number; runner: string }>(
        `INSERT INTO feed_runs (feed_name, source, url, status, runner, started_at)
         VALUES ('usgs-month', 'usgs', 'test://killed-leader', 'running', 'scheduler', now() - interval '2 minutes'),
                (NULL, 'gdacs', 'test://killed-command', 'running', 'command', now() - interval '3 hours'),
                (NULL, 'gdacs', 'test://live-command', 'running', 'command', now() - interval '1 minute')
         RETURNING id, runner`,
      ),
    );
    const scheduler = await startScheduler(t.store, [feed('usgs-month', '/usgs.geojson')]);
    try {
      expect((await scheduler.tick()).map((r) => r.status)).toEqual(['success']);
    } finally {
      await scheduler.stop();
    }
    const { rows: after } = await t.store.transaction(({ raw }) =>
      raw.query<{ url: string; status: string; error: string | null; finished: boolean }>(
        `SELECT url, status, error, finished_at IS NOT NULL AS finished FROM feed_runs WHERE id = ANY ($1::bigint[]) ORDER BY id`, [rows.map((r) => r.id)],
      ),
    );
    const interrupted = { status: 'failed', error: 'interrupted: the process running it ended before it finished', finished: true };
    // The embedded database admits one process: there no other run can still be going.
    expect(after).toEqual([
      { url: 'test://killed-leader', ...interrupted },
      { url: 'test://killed-command', ...interrupted },
      t.store.backend === 'embedded' ? { url: 'test://live-command', ...interrupted } : { url: 'test://live-command', status: 'running', error: null, finished: false },
    ]);
  });
});
