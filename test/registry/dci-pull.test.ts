import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { pullDci } from '../../src/registry/dci/pull.ts';
import type { DciRegistry, DciSender } from '../../src/registry/dci/messages.ts';
import { lastCursor } from '../../src/registry/pulls.ts';
import type { KeyRing } from '../../src/interop/signing-keys.ts';
import type { DciPeer } from '../peers/dci-registry.ts';
import { testBackend } from '../support/backend.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { contract } from '../support/specs.ts';
import { districtPcodes, peerAndRegistry, testSender } from './dci-support.ts';

// The full 100,000 on the server back end; the embedded one is ~3x slower, so it pulls 20,000
// through the same pages (the paging, delta and checks are the same code at either volume).
const HOUSEHOLDS = testBackend() === 'server' ? 100_000 : 20_000;
const CHANGED = 1000;

let t: TestDatabase;
let ring: KeyRing;
let sender: DciSender;
let pcodes: string[];
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  pcodes = await districtPcodes(t.store);
  ({ sender, ring } = await testSender());
});
afterAll(() => t?.drop());

const householdCount = async () => Number((await t.store.db.selectFrom('households').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const pulls = () => t.store.db.selectFrom('registry_pulls').select(['registry', 'mode', 'status', 'counts', 'error', 'cursor']).orderBy('id').execute();
const social = contract('social');

describe(`a DCI registry of ${HOUSEHOLDS.toLocaleString('en')} households`, () => {
  let peer: DciPeer;
  let registry: DciRegistry;
  beforeAll(async () => {
    ({ peer, registry } = await peerAndRegistry(ring, { households: HOUSEHOLDS, pcodes }));
  });
  afterAll(() => peer?.close());

  it('is pulled in full, page by page, with what each household says', async () => {
    const progress: number[] = [];
    const report = await pullDci(t.store, registry, sender, { actor: 'test', programme: 'CT', onProgress: (n) => progress.push(n) });
    expect(report).toMatchObject({ mode: 'full', rows: HOUSEHOLDS, inserted: HOUSEHOLDS, updated: 0, rejected: 0, enrolled: HOUSEHOLDS });
    expect(await householdCount()).toBe(HOUSEHOLDS);
    expect(peer.received).toHaveLength(HOUSEHOLDS / 1000);
    expect(progress.at(-1)).toBe(HOUSEHOLDS);

    // A sample compared with the registry's own CSV view of the same households.
    for (const i of [0, 1, 4242, HOUSEHOLDS - 1]) {
      const [id, pcode, lat, lon, size, score, first, last, birth, nid, phone, village] = peer.csvRow(i);
      const row = await t.store.db.selectFrom('households')
        .select(['admin_pcode', 'size', 'pmt_score', 'head_first_name', 'head_last_name', 'head_birth_date', 'national_id', 'phone', 'attributes'])
        .select((e) => [e.fn<number>('ST_Y', ['location']).as('lat'), e.fn<number>('ST_X', ['location']).as('lon')])
        .where('registry_id', '=', id).executeTakeFirstOrThrow();
      expect(row).toEqual({
        admin_pcode: pcode, size: Number(size), pmt_score: Number(score), head_first_name: first, head_last_name: last,
        head_birth_date: row.head_birth_date, national_id: nid, phone, attributes: { village }, lat: Number(lat), lon: Number(lon),
      });
      expect(new Date(row.head_birth_date as unknown as string).toISOString().slice(0, 10)).toBe(birth);
    }
    const [pull] = await pulls();
    expect(pull).toMatchObject({ registry: 'sr', mode: 'full', status: 'success', counts: { inserted: HOUSEHOLDS, rows: HOUSEHOLDS } });
    expect(await lastCursor(t.store, 'sr')).toEqual(report.cursor);
  });

  it('then pulls only the households changed since, leaving the others untouched', async () => {
    // updated_at to the microsecond: a Date's string keeps only seconds.
    const stamp = sql<string>`to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')`.as('at');
    const before = new Map((await t.store.db.selectFrom('households').select(['registry_id', stamp]).execute()).map((h) => [h.registry_id, h.at]));
    const changed = Array.from({ length: CHANGED }, (_, k) => k * Math.floor(HOUSEHOLDS / CHANGED) + 3);
    peer.touch(changed);
    const sent = peer.received.length;
    const report = await pullDci(t.store, registry, sender, { actor: 'test', programme: 'CT' });
    expect(report).toMatchObject({ mode: 'delta', rows: CHANGED, inserted: 0, updated: CHANGED, unchanged: 0, rejected: 0 });
    expect(peer.received.length - sent).toBe(1);

    const after = await t.store.db.selectFrom('households').select(['registry_id', stamp, 'pmt_score']).execute();
    const touched = after.filter((h) => h.at !== before.get(h.registry_id)).map((h) => h.registry_id).sort();
    expect(touched).toEqual(changed.map((i) => peer.csvRow(i)[0]).sort());
    const sample = after.find((h) => h.registry_id === peer.csvRow(changed[5])[0]);
    expect(sample?.pmt_score).toBe(Number(peer.csvRow(changed[5])[5]));
    expect((await pulls()).map((p) => [p.mode, p.status])).toEqual([['full', 'success'], ['delta', 'success']]);
  });

  it('sends only messages that validate against the DCI Social Registry API, and gets answers that do', () => {
    for (const { path, body } of peer.received) expect(social.request(path, body)).toEqual([]);
    const criteria = (peer.received[0].body.message as { search_request: { search_criteria: unknown }[] }).search_request[0].search_criteria;
    expect(criteria).toMatchObject({ query_type: 'predicate', response_entity: 'Group', pagination: { page_size: 1000, page_number: 1 } });
  });
});

describe('a pull that cannot complete', () => {
  const SMALL = 5000;
  let peer: DciPeer;
  let registry: DciRegistry;
  let fresh: TestDatabase;
  beforeAll(async () => {
    fresh = await createTestDatabase();
    await loadDemoAreas(fresh.store);
    ({ peer, registry } = await peerAndRegistry(ring, { households: SMALL, pcodes, seed: 11 }, { name: 'small', pageSize: 1000 }));
  });
  afterAll(async () => {
    await peer?.close();
    await fresh?.drop();
  });
  const count = async () => Number((await fresh.store.db.selectFrom('households').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const lastPull = async () => (await fresh.store.db.selectFrom('registry_pulls').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow());

  it('names the page and record of each bad household and imports nothing', async () => {
    peer.override(2500, (g) => ({ ...g, group_head_info: { ...(g.group_head_info as object), demographic_info: { name: { given_name: 'A', surname: 'B' }, birth_date: '2099-01-01T00:00:00Z' } } }));
    peer.override(7, (g) => ({ ...g, additional_attributes: [{ admin_pcode: 'XX99999' }] }));
    const error = await pullDci(fresh.store, registry, sender, { actor: 'test' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).details).toEqual([
      `dci ${peer.url}: page 1, record 8, field admin_pcode: unknown P-code "XX99999"`,
      `dci ${peer.url}: page 3, record 501, field head_birth_date: "2099-01-01" is in the future`,
    ]);
    expect(await count()).toBe(0);
    expect(await lastPull()).toMatchObject({ status: 'failed', mode: 'full' });
    expect((await lastPull()).error).toContain('2 problem(s) in 2 record(s); nothing was imported');
  });

  it('with --skip-invalid imports the good households and reports the bad', async () => {
    const report = await pullDci(fresh.store, registry, sender, { actor: 'test', skipInvalid: true });
    expect(report).toMatchObject({ rows: SMALL, inserted: SMALL - 2, rejected: 2 });
    expect(report.problems).toHaveLength(2);
    await fresh.store.db.deleteFrom('households').execute();
  });

  it('leaves the database as it was when the registry fails mid-pull (a 5xx), and records the pull as failed', async () => {
    peer.failPage(4, 503);
    const before = await count();
    const error = await pullDci(fresh.store, registry, sender, { actor: 'test', full: true }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/page 4: .*HTTP 503/);
    expect(await count()).toBe(before);
    expect(await lastPull()).toMatchObject({ status: 'failed', cursor: null });
    expect((await lastPull()).error).toMatch(/HTTP 503/);
  }, 30_000);
});
