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
 * A 20,000-household list: exports read it a page at a time and only as fast as the reader takes
 * it, so a slow download (or a full disk) holds the export instead of filling memory.
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

it('reads in pages, and stops reading while the reader does not take what was written', async () => {
  const { store, reads } = counting(db.store);
  const chunks: Buffer[] = [];
  let paused = true;
  let held: (() => void) | undefined;
  // Acknowledges the header, then holds the first page until let go.
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      if (paused && chunks.length >= 2) held = callback;
      else callback();
    },
  });
  const exporting = exportList(store, list.listId, 'csv', out, { pageSize: 500 }, 'dora');
  await until(() => held !== undefined);
  await new Promise((r) => setTimeout(r, 300));
  // The check and audit, the page being written, at most one read ahead: not the list.
  const readWhileHeld = reads();
  expect(readWhileHeld).toBeLessThanOrEqual(3);

  paused = false;
  held!();
  const summary = await exporting;
  expect(summary.rows).toBe(HOUSEHOLDS);
  // Every page was a read of its own: 20,000 / 500 pages, the check, and the empty page that ends it.
  expect(reads()).toBeGreaterThanOrEqual(HOUSEHOLDS / 500 + 1);
  // Written in pieces of about a page, never the whole file at once.
  expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(256 * 1024);

  const rows = parse(Buffer.concat(chunks).toString('utf8'), { columns: true }) as Record<string, string>[];
  expect(rows).toHaveLength(HOUSEHOLDS);
  const amounts = new Map(entries.map((e) => [e.registryId, e.amount.toFixed(2)]));
  expect(rows.every((r) => amounts.get(r.registry_id) === r.amount && r.content_sha256 === list.contentSha256)).toBe(true);
  expect(new Set(rows.map((r) => r.household_id)).size).toBe(HOUSEHOLDS);
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
