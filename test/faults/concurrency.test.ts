import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { createApiKey } from '../../src/api/keys.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import { loadDemo } from '../../src/demo/load-demo.ts';
import { approveDemoRules } from '../../src/demo/demo-rules.ts';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { generateLists } from '../../src/engine/targeting/generate-lists.ts';
import { ConflictError } from '../../src/errors.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { approveList, getList } from '../../src/lists/lifecycle.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { startAsp } from '../support/cli.ts';
import { killAspWhen } from '../support/crash.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';
import { serveRoutes } from '../support/http.ts';
import { projectRoot, sharedData } from '../support/paths.ts';

/**
 * Many hands at once, as in an emergency: the same activation generated in parallel, the same
 * list released in parallel through the HTTP API, and two `asp serve` processes sharing the
 * feeds on one database with the leader SIGKILLed. (Two scheduler instances in one process are
 * in test/scheduler/; regenerate-while-approve is the approval's own test.)
 */

let t: TestDatabase;
let activationId: number;
const cycle = '2026-12';
const server = () => t.store.backend === 'server';

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemo(t.store, { households: 5000, seed: 11 });
  await approveDemoRules(t.store);
  const vci = path.join(projectRoot, 'data/demo/feeds/vci3m-districts.csv');
  await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: await readFile(vci), url: pathToFileURL(vci).href, contentType: 'text/csv' });
  await evaluateActivations(t.store, {});
  const [activation] = await listActivations(t.store, { status: 'open' });
  activationId = activation.id;
}, 600_000);
afterAll(() => t?.drop());

const query = async <R>(sql: string, params: unknown[] = []) => (await t.store.transaction(({ raw }) => raw.query(sql, params))).rows as R[];

/** Other handles on the same database: separate pools on the server (separate processes' view); the one PGlite otherwise. */
async function otherStores(n: number): Promise<Store[]> {
  if (!server()) return Array.from({ length: n }, () => t.store);
  return Promise.all(Array.from({ length: n }, () => openStore({ url: t.env.DATABASE_URL })));
}

const liveLists = () =>
  query<{ id: number; households: number; total: string; entries: number; distinct: number; sum: string; digest: string }>(
    `SELECT l.id, l.households, l.total_amount::text AS total, count(e.*)::int AS entries, count(DISTINCT e.household_id)::int AS distinct,
            coalesce(sum(e.amount), 0)::numeric(16,2)::text AS sum,
            md5(string_agg(concat_ws('|', e.registry_id, e.pcode, e.rank, e.amount), ',' ORDER BY e.registry_id COLLATE "C")) AS digest
       FROM payment_lists l LEFT JOIN payment_list_entries e ON e.list_id = l.id
      WHERE l.cycle = $1 AND l.status <> 'cancelled' GROUP BY l.id ORDER BY l.id`,
    [cycle],
  );

describe('at the same time', () => {
  it('eight generations of one activation: one list, each household once, the same list a lone generation gives', async () => {
    const stores = await otherStores(4);
    try {
      const results = await Promise.allSettled(stores.flatMap((store) => [1, 2].map(() => generateLists(store, activationId, 'maker@test', { cycle }))));
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
      // Waiting for each other is fine, a refusal must be a conflict (409), never a crash or a duplicate.
      for (const reason of refused) expect(reason).toBeInstanceOf(ConflictError);
      expect(results.length - refused.length).toBeGreaterThan(0);
    } finally {
      if (server()) await Promise.all(stores.map((s) => s.close()));
    }
    const lists = await liveLists();
    expect(lists).toHaveLength(1);
    const [list] = lists;
    expect(list.households).toBeGreaterThan(0);
    expect([list.entries, list.distinct, list.sum]).toEqual([list.households, list.households, list.total]);
    const duplicates = await query(`SELECT household_id FROM payment_list_entries WHERE list_id = $1 GROUP BY 1 HAVING count(*) > 1`, [list.id]);
    expect(duplicates).toEqual([]);

    // A lone regeneration of the draft: the same households and amounts.
    const [alone] = await generateLists(t.store, activationId, 'maker@test', { cycle });
    expect(alone.replaced).toBe(true);
    const after = await liveLists();
    expect(after.map((l) => l.digest)).toEqual([list.digest]);
  });

  it('six releases of one list through the API (four to one partner, two to another): one per partner, the rest 409', async () => {
    const [list] = await liveLists();
    await approveList(t.store, list.id, 'checker@test', { sha256: (await getList(t.store, list.id)).entriesSha256 });
    for (const id of ['fsp-a', 'fsp-b']) {
      await addPartner(t.store, { id, name: id, role: 'payment_provider', fields: ['pseudonymous_id', 'amount', 'currency'], pseudonymise: true }, 'admin@test');
    }
    const approvers = await Promise.all([1, 2, 3].map(async (i) => (await createApiKey(t.store, { role: 'approver', label: `approver ${i}` }, 'admin@test')).key));
    const app: Server = createApp(t.store).listen(0, '127.0.0.1');
    await new Promise((resolve) => app.once('listening', resolve));
    const base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    try {
      const release = (partnerId: string, i: number) =>
        fetch(`${base}/api/lists/${list.id}/release`, {
          method: 'POST',
          headers: { authorization: `Bearer ${approvers[i % 3]}`, 'content-type': 'application/json' },
          body: JSON.stringify({ partnerId, purpose: 'concurrency test', expiresOn: '2099-12-31' }),
        }).then(async (r) => ({ partnerId, status: r.status, body: (await r.json()) as { error?: { message?: string } } }));
      const answers = await Promise.all([...[0, 1, 2, 3].map((i) => release('fsp-a', i)), ...[0, 1].map((i) => release('fsp-b', i))]);
      for (const partnerId of ['fsp-a', 'fsp-b']) {
        const statuses = answers.filter((a) => a.partnerId === partnerId).map((a) => a.status).sort();
        expect(statuses[0], JSON.stringify(answers)).toBeLessThan(300);
        expect(statuses.slice(1)).toEqual(statuses.slice(1).map(() => 409));
      }
      for (const conflict of answers.filter((a) => a.status === 409)) expect(JSON.stringify(conflict.body)).toMatch(/already released/);
    } finally {
      await new Promise((resolve) => app.close(resolve));
    }
    const releases = await query<{ partner: string; ids: number; distinct: number }>(
      `SELECT r.partner_id AS partner, count(x.*)::int AS ids, count(DISTINCT x.pseudonymous_id)::int AS distinct
         FROM list_releases r LEFT JOIN release_ids x ON x.release_id = r.id WHERE r.list_id = $1 GROUP BY r.id ORDER BY 1`,
      [list.id],
    );
    expect(releases).toEqual(['fsp-a', 'fsp-b'].map((partner) => ({ partner, ids: list.households, distinct: list.households })));
    const audited = await query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'list.released' AND subject = $1`, [`list:${list.id}`]);
    expect(audited).toEqual([{ n: 2 }]);
  });

  it('two `asp serve` processes on one database: each feed tick runs once; SIGKILL the leader and the other takes over', async () => {
    const usgs = await readFile(path.join(sharedData, 'feeds/usgs/summary_significant_month_2023-10-11.geojson'));
    const feeds = await serveRoutes({ '/usgs.geojson': (_req, res) => void res.writeHead(200, { 'content-type': 'application/geo+json' }).end(usgs) });
    // Every 2 seconds (node-cron's optional seconds field), so a few ticks pass in a short test.
    const config = await tempFile('two-schedulers.yaml', `feeds:\n  - name: twice\n    adapter: usgs\n    url: ${feeds.url}/usgs.geojson\n    schedule: "*/2 * * * * *"\n`);
    const env = { ...t.env, ASP_FEEDS: config, PORT: '0', LOG_LEVEL: 'info' };
    await t.store.close();
    try {
      if (!server()) {
        // The embedded database admits one process: the second is refused with the reason, exit 2.
        const first = await startAsp(['serve'], env, /asp-engine is up/);
        const second = await killAspWhen(['serve'], env, () => false).catch((error: Error) => error.message);
        first.child.kill('SIGKILL');
        expect(second).toMatch(/ended \(code 2\)[\s\S]*is in use by process \d+/);
        return;
      }
      const a = await startAsp(['serve'], env, /asp-engine is up/);
      const b = await startAsp(['serve'], env, /asp-engine is up/);
      const runsOf = (output: string) => output.split('\n').filter((line) => line.includes('"feed":"twice"') && line.includes('feed run finished')).length;
      const wait = async (until: () => boolean, ms: number) => {
        for (const end = Date.now() + ms; !until() && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 50));
        return until();
      };
      expect(await wait(() => runsOf(a.output()) + runsOf(b.output()) >= 4, 30_000)).toBe(true);
      const [leader, follower] = runsOf(a.output()) > 0 ? [a, b] : [b, a];
      expect(runsOf(follower.output())).toBe(0);
      leader.child.kill('SIGKILL');
      const killedAt = Date.now();
      expect(await wait(() => runsOf(follower.output()) >= 3, 30_000), follower.output()).toBe(true);
      const failoverMs = Date.now() - killedAt;
      follower.child.kill('SIGTERM');
      await new Promise((resolve) => follower.child.once('exit', resolve));
      console.info(`two schedulers: failover after SIGKILL of the leader in ${failoverMs} ms (to the follower's third run)`);
      expect(failoverMs).toBeLessThan(20_000);

      const store = await t.reopen();
      const runs = (await store.transaction(({ raw }) =>
        raw.query<{ started: Date; finished: Date | null; status: string }>(
          `SELECT started_at AS started, finished_at AS finished, status FROM feed_runs WHERE feed_name = 'twice' ORDER BY started_at`,
        ),
      )).rows;
      // One run per tick: as many runs as fetches, never two at once across the processes, and no
      // more runs than 2-second ticks passed (the new leader may catch up at once after a takeover,
      // so two runs can fall closer than a tick there without being one tick run twice).
      expect(runs.length).toBe(feeds.hits.get('/usgs.geojson'));
      const overlapping = runs.slice(1).filter((r, i) => runs[i].finished !== null && r.started.getTime() < runs[i].finished!.getTime());
      expect(overlapping).toEqual([]);
      const ticks = (runs.at(-1)!.started.getTime() - runs[0].started.getTime()) / 2000;
      expect(runs.length).toBeLessThanOrEqual(Math.floor(ticks) + 2);
      // The leader's last run, cut by the kill, is marked failed (interrupted) by the new leader.
      expect(runs.filter((r) => r.status === 'running')).toEqual([]);
    } finally {
      await feeds.close();
    }
  }, 600_000);
});
