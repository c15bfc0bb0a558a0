import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { approveDemoRules } from '../src/demo/demo-rules.ts';
import { loadDemo } from '../src/demo/load-demo.ts';
import { listActivations } from '../src/engine/activations.ts';
import { loadFeedsConfig } from '../src/feeds/config.ts';
import { runFeed } from '../src/feeds/run-feed.ts';
import { startAsp, stopAsp } from './support/cli.ts';
import { tempFile } from './support/files.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';

// What `npm start` promises a newcomer: the demo loads once, /api/health answers with counts,
// the demo feeds open activations through the approved demo rule, and a restart reuses the same data.
let t: TestDatabase;
const DEMO_FEEDS = fileURLToPath(new URL('../data/feeds.yaml', import.meta.url));
beforeAll(async () => {
  t = await createTestDatabase();
  await t.store.close();
});
afterAll(() => t?.drop());

async function startAndReadHealth() {
  const { child, match } = await startAsp(['start'], { ...t.env, PORT: '0' }, /asp-engine is up at (http:\S+)[\s\S]*demo partner key[^\n]*\n/);
  const key = /demo coordinator key: (\S+)/.exec(match[0])![1];
  const auth = { headers: { authorization: `Bearer ${key}` } };
  try {
    const response = await fetch(`${match[1]}/api/health`);
    const body = (await response.json()) as { database: { backend: string; postgis: string }; counts: Record<string, number> };
    // The scheduler's first tick runs at start: the demo feeds report success shortly after.
    let feeds: { name: string; lastSuccessAt: string | null }[] = [];
    for (let attempt = 0; attempt < 120; attempt++) {
      feeds = ((await (await fetch(`${match[1]}/api/feeds`, auth)).json()) as { feeds: typeof feeds }).feeds;
      if (feeds.filter((f) => f.name.startsWith('demo-')).every((f) => f.lastSuccessAt)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // New feed data → the approved demo rule is evaluated → Northaven's drought opens activations.
    let activations: { pcode: string; stage: string; tier: string | null; ruleId: string }[] = [];
    for (let attempt = 0; attempt < 120 && activations.length === 0; attempt++) {
      activations = ((await (await fetch(`${match[1]}/api/activations?status=open`, auth)).json()) as { activations: typeof activations }).activations;
      if (activations.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const missing = await fetch(`${match[1]}/api/activations/999999`, auth);
    // The real flow goes on to a draft payment list for the drought.
    let lists: { status: string; households: number }[] = [];
    for (let attempt = 0; attempt < 120 && lists.length === 0; attempt++) {
      lists = ((await (await fetch(`${match[1]}/api/lists`, auth)).json()) as { lists: typeof lists }).lists;
      if (lists.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return { status: response.status, body, feeds, activations, lists, missingStatus: missing.status, unauthenticated: (await fetch(`${match[1]}/api/activations`)).status };
  } finally {
    expect(await stopAsp(child)).toBe(0);
  }
}

describe('asp start (npm start)', () => {
  it('serves /api/health with non-zero counts, and the same counts after a restart', async () => {
    const first = await startAndReadHealth();
    expect(first.status).toBe(200);
    expect(first.body.database.backend).toBe(process.env.ASP_TEST_BACKEND === 'server' ? 'server' : 'embedded');
    expect(first.body.database.postgis).toMatch(/^3\./);
    expect(first.body.counts).toMatchObject({ areas: 28, households: 20000 });
    expect(first.body.counts.enrolments).toBeGreaterThan(4000);
    const demoFeeds = first.feeds.filter((f) => f.name.startsWith('demo-'));
    expect(demoFeeds.map((f) => f.name).sort()).toEqual(['demo-cap-dms', 'demo-gdacs-drought', 'demo-usgs-significant', 'demo-vci3m']);
    expect(demoFeeds.every((f) => f.lastSuccessAt !== null)).toBe(true);

    expect(first.activations.map((a) => [a.ruleId, a.pcode, a.stage, a.tier])).toEqual(
      ['XD01001', 'XD01002', 'XD01003', 'XD01004', 'XD01005', 'XD01006'].map((pcode) => ['xd-ct-vci-drought', pcode, 'activation', 'extreme']),
    );
    expect(first.missingStatus).toBe(404);
    expect(first.unauthenticated).toBe(401);
    expect(first.lists).toEqual([expect.objectContaining({ status: 'draft', households: 2425 })]);

    const second = await startAndReadHealth();
    expect(second.activations.map((a) => a.pcode)).toEqual(first.activations.map((a) => a.pcode));
    expect(second.body.counts).toEqual(first.body.counts);
  });
});

describe('asp start after a process died between storing feed data and evaluating it', () => {
  let u: TestDatabase;
  beforeAll(async () => {
    u = await createTestDatabase();
  });
  afterAll(() => u?.drop());

  it('evaluates what is stored at start, though no feed brings anything new', async () => {
    // The state such a death leaves: the demo's payloads are stored, the approved rule never ran on them.
    await loadDemo(u.store);
    await approveDemoRules(u.store);
    for (const feed of (await loadFeedsConfig(DEMO_FEEDS)).filter((f) => f.enabled)) {
      expect((await runFeed(u.store, feed)).status).toBe('success');
    }
    expect(await listActivations(u.store, { status: 'open' })).toEqual([]);
    await u.store.close();

    const noFeeds = await tempFile('feeds.yaml', 'feeds: []\n');
    const { child, match } = await startAsp(['start'], { ...u.env, PORT: '0', ASP_FEEDS: noFeeds }, /asp-engine is up at (http:\S+)[\s\S]*demo partner key[^\n]*\n/);
    const key = /demo coordinator key: (\S+)/.exec(match[0])![1];
    try {
      let pcodes: string[] = [];
      for (let attempt = 0; attempt < 120 && pcodes.length === 0; attempt++) {
        const body = (await (await fetch(`${match[1]}/api/activations?status=open`, { headers: { authorization: `Bearer ${key}` } })).json()) as { activations: { pcode: string }[] };
        pcodes = body.activations.map((a) => a.pcode);
        if (pcodes.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(pcodes).toEqual(['XD01001', 'XD01002', 'XD01003', 'XD01004', 'XD01005', 'XD01006']);
    } finally {
      expect(await stopAsp(child)).toBe(0);
    }
  });
});
