import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Store } from '../../src/db/store.ts';
import { exportList } from '../../src/exports/index.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { releaseList } from '../../src/lists/release.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { bulkHouseholds, collector, createList, releaseIds, type FixtureEntry, type FixtureList } from './list-fixture.ts';

/**
 * A 20,000-household list: exports read it only as fast as the reader takes it (a streamed COPY,
 * or pages), so a slow download (or a full disk) holds the export instead of filling memory.
 */

const HOUSEHOLDS = 20_000;
let db: TestDatabase;
let entries: FixtureEntry[];
let list: FixtureList;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  entries = await bulkHouseholds(db.store, 'XD01001', HOUSEHOLDS, 'BIG-');
  list = await createList(db.store, entries);
  await addPartner(db.store, { id: 'fsp', name: 'FSP', role: 'payment_provider', fields: ['pseudonymous_id', 'phone', 'amount', 'currency'] }, 'alice');
});

afterAll(async () => {
  await db?.drop();
});

/** The store, counting the transactions (one per page read) made through it. */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  return {
    store: { ...store, transaction: (work) => ((reads += 1), store.transaction(work)) },
    reads: () => reads,
  };
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
};

it('releases 20,000 households with an id each', async () => {
  const release = await releaseList(db.store, list.listId, { partnerId: 'fsp', purpose: 'big list', expiresOn: '2099-12-31' }, 'carol');
  expect(release.households).toBe(HOUSEHOLDS);
  expect((await releaseIds(db.store, list.listId, 'fsp')).size).toBe(HOUSEHOLDS);
});

it('streams at the reader’s pace: while the reader holds the first rows the export waits, holding about a page', async () => {
  const { store, reads } = counting(db.store);
  const chunks: Buffer[] = [];
  let paused = true;
  let held: (() => void) | undefined;
  // Acknowledges the header, then holds the first rows until let go.
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      if (paused && chunks.length >= 2) held = callback;
      else callback();
    },
  });
  let finished = false;
  const exporting = exportList(store, list.listId, 'csv', out, { pageSize: 500 }, 'dora').finally(() => (finished = true));
  await until(() => held !== undefined);
  await new Promise((r) => setTimeout(r, 300));
  // Nothing more is taken from the database than the output's buffer holds: the file is about 3 MB.
  expect(finished).toBe(false);
  expect(out.writableLength).toBeLessThan(256 * 1024);
  // The check and audit, then one COPY on the server; on the embedded back end the slice being written, at most one read ahead.
  expect(reads()).toBeLessThanOrEqual(3);

  paused = false;
  held!();
  const summary = await exporting;
  expect(summary.rows).toBe(HOUSEHOLDS);
  // The embedded back end copies slices of a page (its COPY output is held whole): 20,000 / 500, the check, the empty slice that ends it.
  if (db.store.backend === 'embedded') expect(reads()).toBeGreaterThanOrEqual(HOUSEHOLDS / 500 + 1);
  // Written in pieces, never the whole file at once.
  expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(256 * 1024);

  const rows = parse(Buffer.concat(chunks).toString('utf8'), { columns: true }) as Record<string, string>[];
  expect(rows).toHaveLength(HOUSEHOLDS);
  const amounts = new Map(entries.map((e) => [e.registryId, e.amount.toFixed(2)]));
  expect(rows.every((r) => amounts.get(r.registry_id) === r.amount && r.content_sha256 === list.contentSha256)).toBe(true);
  expect(new Set(rows.map((r) => r.household_id)).size).toBe(HOUSEHOLDS);
});

it('gives up the database connection when the reader goes away mid-export, and the next export works', async () => {
  let taken = 0;
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      taken += chunk.length;
      if (taken > 64 * 1024) callback(new Error('disk full'));
      else callback();
    },
  });
  out.on('error', () => {});
  await expect(exportList(db.store, list.listId, 'csv', out, { pageSize: 500 }, 'dora')).rejects.toThrow();
  const sink = collector();
  const summary = await exportList(db.store, list.listId, 'csv', sink.out, {}, 'dora');
  expect(summary.rows).toBe(HOUSEHOLDS);
  expect(sink.text().split('\n')).toHaveLength(HOUSEHOLDS + 2);
});

it("streams a partner's 20,000-entry json download with the release's ids", async () => {
  const sink = collector();
  let progress = 0;
  const summary = await exportList(db.store, list.listId, 'json', sink.out, { partnerId: 'fsp', onProgress: (n) => (progress = n) }, 'dora');
  expect(summary.rows).toBe(HOUSEHOLDS);
  expect(progress).toBe(HOUSEHOLDS);
  const doc = JSON.parse(sink.text());
  const ids = new Set((await releaseIds(db.store, list.listId, 'fsp')).values());
  expect(doc.entries).toHaveLength(HOUSEHOLDS);
  expect(doc.entries.every((e: { pseudonymous_id: string }) => ids.has(e.pseudonymous_id))).toBe(true);
  expect(Math.max(...sink.chunks.map((c) => c.length))).toBeLessThan(1024 * 1024);
});
