import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { importAreaCodes } from '../../src/areas/area-codes.ts';
import { UserError } from '../../src/errors.ts';
import { pullOpenImis, type OpenImisPullOptions } from '../../src/registry/openimis/pull.ts';
import { testBackend } from '../support/backend.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { startOpenImisPeer, type OpenImisPeer, type PeerLocation } from '../peers/openimis-graphql.ts';

/**
 * `pullOpenImis` end to end: the openIMIS peer → the connector → importRecords (the CSV import's
 * staging, checks and upsert) → households, enrolments and the pull record. The volume is 100,000
 * households on the server back end and 20,000 on the embedded one (about three times slower; the
 * paging and the delta are the same at either size).
 */

const N = testBackend() === 'server' ? 100_000 : 20_000;
const PASSWORD = 'pw-openimis-Zq7$e2e';
let t: TestDatabase;
let peer: OpenImisPeer;
let districtPcodes: string[];

const pcodeOf = (location: PeerLocation): string => (location.type === 'D' ? districtPcodes[Number(location.code.slice(1)) - 1] : pcodeOf(location.parent!));
const spread = (count: number, offset: number) => Array.from({ length: count }, (_, j) => Math.floor((j * N) / count) + offset);
const pull = (more: Partial<OpenImisPullOptions> = {}) =>
  pullOpenImis(t.store, {
    url: peer.url,
    benefitPlan: peer.benefitPlan,
    programme: 'CT',
    username: 'asp',
    password: { env: 'OPENIMIS_E2E_PASSWORD' },
    actor: 'test',
    backoffMs: 5,
    ...more,
  });
const householdCount = async () => Number((await t.store.db.selectFrom('households').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);
const pulls = () => t.store.db.selectFrom('registry_pulls').selectAll().orderBy('id').execute();
const dbNow = async () => (await sql<{ now: Date }>`SELECT now() AS now`.execute(t.store.db)).rows[0].now;

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  peer = await startOpenImisPeer({ households: N, seed: 3, users: { asp: PASSWORD } });
  process.env.OPENIMIS_E2E_PASSWORD = PASSWORD;
  // The peer's 24 districts ↦ Demoland's 24 districts, loaded the way a user would (asp areas codes).
  const districts = await t.store.db.selectFrom('admin_areas').select('pcode').where('level', '=', 2).orderBy('pcode').execute();
  districtPcodes = districts.map((d) => d.pcode);
  expect(districtPcodes).toHaveLength(24);
  const rows = districtPcodes.map((pcode, i) => `openimis,D${String(i + 1).padStart(7, '0')},${pcode}`);
  await importAreaCodes(t.store, await tempFile('openimis-codes.csv', ['scheme,code,pcode', ...rows].join('\n') + '\n'));
});
afterAll(async () => {
  await peer?.close();
  await t?.drop();
});

describe('a first pull', () => {
  it(`loads all ${N} households in pages, enrolled in the programme, each in the district the peer puts it`, async () => {
    const report = await pull();
    expect(report).toMatchObject({ mode: 'full', rows: N, inserted: N, updated: 0, rejected: 0, problems: [] });
    expect(report.stats.pages).toBe(N / 100);
    expect(await householdCount()).toBe(N);

    // Households per P-code, counted in the database and from the peer's own locations.
    const counted = await t.store.db.selectFrom('households').select(['admin_pcode', sql<number>`count(*)::int`.as('n')]).groupBy('admin_pcode').execute();
    const expected = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const pcode = pcodeOf(peer.household(i).location);
      expected.set(pcode, (expected.get(pcode) ?? 0) + 1);
    }
    expect(new Map(counted.map((c) => [c.admin_pcode, c.n]))).toEqual(expected);

    const active = await t.store.db.selectFrom('enrolments').select(sql<number>`count(*)::int`.as('n')).where('programme_code', '=', 'CT').where('status', '=', 'active').executeTakeFirstOrThrow();
    expect(active.n).toBe(N);

    const h = peer.household(42);
    const row = await t.store.db.selectFrom('households').selectAll().where('registry_id', '=', h.code).executeTakeFirstOrThrow();
    const ext = h.groupExt as { number_of_members: number; pmt_score: number; water_source: string; dwelling: { roof: string; rooms: number } };
    expect({ ...row, head_birth_date: row.head_birth_date && row.head_birth_date.toISOString().slice(0, 10) }).toMatchObject({
      admin_pcode: pcodeOf(h.location),
      size: ext.number_of_members,
      pmt_score: ext.pmt_score,
      head_first_name: h.head!.firstName,
      head_last_name: h.head!.lastName,
      head_birth_date: h.head!.dob,
      national_id: h.head!.jsonExt.national_id,
      phone: h.head!.jsonExt.phone,
      attributes: { water_source: ext.water_source, 'dwelling.roof': ext.dwelling.roof, 'dwelling.rooms': String(ext.dwelling.rooms), enrolment_round: '2025-1' },
    });

    const [record] = await pulls();
    expect(record).toMatchObject({ kind: 'openimis', mode: 'full', since: null, status: 'success', actor: 'test', url: `${peer.url}/api/graphql` });
    expect(record.cursor!.getTime()).toBe(new Date(report.cursor!).getTime());
  });
});

describe('the next pull', () => {
  it('after 1,000 households changed in openIMIS, asks only for changes and touches only those 1,000', async () => {
    const changedIndices = spread(1000, 7);
    const changed = peer.changeHouseholds(changedIndices);
    const before = await dbNow();
    const report = await pull();
    expect(report).toMatchObject({ mode: 'delta', rows: 1000, inserted: 0, updated: 1000, unchanged: 0, rejected: 0 });
    expect(report.since).toBe((await pulls())[0].cursor!.toISOString());

    const touched = await t.store.db.selectFrom('households').select(['registry_id', 'size']).where('updated_at', '>', before).orderBy('registry_id').execute();
    expect(touched.map((h) => h.registry_id)).toEqual([...changed].sort());
    expect(touched.map((h) => h.size)).toEqual(changedIndices.map((i) => peer.household(i).groupExt.number_of_members));
    expect(await householdCount()).toBe(N);
  });

  it('exits the enrolment of a beneficiary suspended or deleted in openIMIS, and of no one else', async () => {
    const suspended = peer.changeEnrolments(spread(10, 3), 'SUSPENDED');
    const deleted = peer.changeEnrolments(spread(5, 5), 'deleted');
    const report = await pull();
    // The cursor is a minute behind the registry's clock, so the households changed just before are read again (and left alone).
    expect(report).toMatchObject({ mode: 'delta', inserted: 0, rejected: 0 });
    expect(report.rows).toBeGreaterThanOrEqual(15);
    const exited = await t.store.db
      .selectFrom('enrolments').innerJoin('households', 'households.id', 'enrolments.household_id')
      .select('registry_id').where('programme_code', '=', 'CT').where('status', '=', 'exited').orderBy('registry_id').execute();
    expect(exited.map((e) => e.registry_id)).toEqual([...suspended, ...deleted].sort());
    const active = await t.store.db.selectFrom('enrolments').select(sql<number>`count(*)::int`.as('n')).where('status', '=', 'active').executeTakeFirstOrThrow();
    expect(active.n).toBe(N - 15);
  });
});

describe('what is refused, with nothing written', () => {
  let changedBefore: string[] = [];
  it('a wrong password: a clear error, no household, enrolment or pull record changed', async () => {
    process.env.OPENIMIS_E2E_WRONG = 'wrong-pw-Qx81';
    changedBefore = peer.changeHouseholds(spread(3, 1));
    const pullsBefore = (await pulls()).length;
    const before = await dbNow();
    const error = await pull({ password: { env: 'OPENIMIS_E2E_WRONG' } }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(`openIMIS ${peer.url}/api/graphql: tokenAuth refused the user asp: Please enter valid credentials; nothing was imported`);
    expect((error as Error).message).not.toContain('wrong-pw-Qx81');
    expect((await pulls()).length).toBe(pullsBefore);
    expect(await t.store.db.selectFrom('households').select('id').where('updated_at', '>', before).execute()).toEqual([]);
  });

  it('an openIMIS location with no P-code names the group, and the whole delta waits for the code table', async () => {
    const [moved] = peer.relocate([N - 1], 'X9999999');
    const before = await dbNow();
    const error = await pull().catch((e: Error) => e);
    expect(error).toBeInstanceOf(UserError);
    const text = [(error as UserError).message, ...(error as UserError).details].join('\n');
    expect(text).toMatch(new RegExp(`page \\d+, group ${moved} \\(openIMIS location X9999999 and its parents have no P-code in area_codes, scheme openimis\\), field admin_pcode: unknown P-code "X9999999"`));
    // The three households changed before the refused password come in this delta too: none written.
    expect(await t.store.db.selectFrom('households').select('id').where('updated_at', '>', before).execute()).toEqual([]);
    expect((await pulls()).at(-1)).toMatchObject({ status: 'failed' });

    // Once the code is in the table, the same delta (the cursor did not move) goes through.
    await importAreaCodes(t.store, await tempFile('openimis-more.csv', `scheme,code,pcode\nopenimis,X9999999,${districtPcodes[0]}\n`));
    const report = await pull();
    expect(report).toMatchObject({ mode: 'delta', rejected: 0 });
    const written = await t.store.db.selectFrom('households').select(['registry_id', 'admin_pcode']).where('updated_at', '>', before).orderBy('registry_id').execute();
    expect(written).toEqual([...changedBefore, moved].sort().map((code) => ({
      registry_id: code,
      admin_pcode: code === moved ? districtPcodes[0] : pcodeOf(peer.household(Number(code.slice(2))).location),
    })));
  });

  it('with skipInvalid, the household at an unknown location is reported and left as it was; the others land', async () => {
    const [lost] = peer.relocate([N - 2], 'Y8888888');
    const [grown] = peer.changeHouseholds([N - 3]);
    const row = (code: string) => t.store.db.selectFrom('households').select(['admin_pcode', 'size', 'updated_at']).where('registry_id', '=', code).executeTakeFirstOrThrow();
    const lostBefore = await row(lost);
    const report = await pull({ skipInvalid: true });
    expect(report.rejected).toBe(1);
    expect(report.problems).toEqual([expect.stringContaining(`group ${lost} (openIMIS location Y8888888 and its parents have no P-code`)]);
    expect(await row(lost)).toEqual(lostBefore);
    expect(await row(grown)).toMatchObject({ admin_pcode: pcodeOf(peer.household(N - 3).location), size: peer.household(N - 3).groupExt.number_of_members });
  });

  it('a registry that goes down mid-pull: the pull is recorded as failed and the database is as it was', async () => {
    const before = await dbNow();
    const queries = peer.stats.queries;
    peer.onQuery = (n) => {
      if (n === queries + 3) peer.failNext(1_000, 503);
    };
    const error = await pull({ full: true }).catch((e: Error) => e);
    peer.onQuery = undefined;
    peer.failNext(0);
    expect((error as Error).message).toMatch(/HTTP 503 \(after 5 attempts\)/);
    expect((await pulls()).at(-1)).toMatchObject({ status: 'failed', mode: 'full' });
    expect(await t.store.db.selectFrom('households').select('id').where('updated_at', '>', before).execute()).toEqual([]);
    expect(await householdCount()).toBe(N);
  });
});
