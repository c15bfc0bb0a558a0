import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

// Every log line of this file's client, at the most verbose level, to a file the last test scans for the password.
const logFile = vi.hoisted(() => {
  const file = `${process.env.TMPDIR ?? '/tmp'}/asp-openimis-records-${process.pid}-${Date.now()}.log`;
  process.env.ASP_LOG_FILE = file;
  process.env.LOG_LEVEL = 'trace';
  return file;
});

import { UserError } from '../../src/errors.ts';
import { openImisClient } from '../../src/registry/openimis/graphql-client.ts';
import { DEFAULT_JSON_EXT_KEYS } from '../../src/registry/openimis/household-record.ts';
import { openImisRecords, type OpenImisRecordOptions } from '../../src/registry/openimis/openimis-records.ts';
import type { SourcedRecord } from '../../src/registry/record-source.ts';
import { startOpenImisPeer, type OpenImisPeer, type PeerLocation } from '../peers/openimis-graphql.ts';

/**
 * The openIMIS connector's record stream against the GraphQL peer: what a pull would hand to the
 * import (households, where each came from, paging, deltas, enrolment exits, location mapping,
 * authentication and faults). The database side is in openimis-pull.test.ts.
 */

const PASSWORD = 'Kx!9-unguessable-pw';
const N = 100_000;
let peer: OpenImisPeer;

// The test's own crosswalk: each peer district D000000n ↦ a P-code; villages and wards reach it through their parents.
const districtPcode = (code: string) => `PC${code.slice(-2)}`;
const crosswalk = new Map(Array.from({ length: 24 }, (_, i) => [`D${String(i + 1).padStart(7, '0')}`, districtPcode(String(i + 1).padStart(2, '0'))]));
const districtOf = (location: PeerLocation): PeerLocation => (location.type === 'D' ? location : districtOf(location.parent!));

beforeAll(async () => {
  peer = await startOpenImisPeer({ households: N, seed: 7, users: { asp: PASSWORD } });
  process.env.OPENIMIS_TEST_PASSWORD = PASSWORD;
});
afterAll(async () => {
  await peer?.close();
  delete process.env.OPENIMIS_TEST_PASSWORD;
  await rm(logFile, { force: true });
});
afterEach(() => {
  peer.onQuery = undefined;
  peer.failNext(0);
});

const client = (password = 'OPENIMIS_TEST_PASSWORD') =>
  openImisClient({ url: peer.url, username: 'asp', password: { env: password }, backoffMs: 5 });
const options = (more: Partial<OpenImisRecordOptions> = {}): OpenImisRecordOptions => ({
  benefitPlan: peer.benefitPlan,
  pageSize: 100,
  mapping: { registryId: 'code', keys: DEFAULT_JSON_EXT_KEYS, crosswalk },
  enrolment: true,
  ...more,
});
async function collect(records: AsyncIterable<SourcedRecord>): Promise<SourcedRecord[]> {
  const all: SourcedRecord[] = [];
  for await (const r of records) all.push(r);
  return all;
}
const spread = (count: number, offset: number) => Array.from({ length: count }, (_, j) => Math.floor((j * N) / count) + offset);

describe('a full pull', () => {
  let records: SourcedRecord[];
  let pulled: ReturnType<typeof openImisRecords>;
  const queriesBefore = { n: 0 };

  beforeAll(async () => {
    queriesBefore.n = peer.stats.queries;
    pulled = openImisRecords(client(), options());
    records = await collect(pulled.source.records);
  });

  it('reads all 100,000 households of the plan in pages of 100, each once', () => {
    expect(records).toHaveLength(N);
    expect(new Set(records.map((r) => r.record.registry_id)).size).toBe(N);
    expect(peer.stats.queries - queriesBefore.n).toBe(N / 100);
    expect(pulled.stats()).toMatchObject({ pages: N / 100, received: N, households: N, unmappedLocations: 0, changedDuringPull: false });
    expect(pulled.source.expected?.()).toBe(N);
    expect(peer.stats.filters.at(-1)).toBe(`benefitPlan_Id=${peer.benefitPlan} status=ACTIVE isDeleted=false`);
  });

  it('names where each record came from: page and group code', () => {
    expect(records[0].where).toBe('page 1, group HH0000000');
    expect(records[12_345].where).toBe('page 124, group HH0012345');
  });

  it("maps a household's fields as openIMIS holds them (compared with the peer's own household)", () => {
    for (const index of [0, 3, 5, 42, 12_345, 99_999]) {
      const h = peer.household(index);
      const { record } = records[index];
      const ext = h.groupExt as { number_of_members: number; pmt_score: number; water_source: string; dwelling: { roof: string; rooms: number } };
      expect(record).toEqual({
        registry_id: h.code,
        admin_pcode: districtPcode(districtOf(h.location).code.slice(-2)),
        size: String(ext.number_of_members),
        pmt_score: String(ext.pmt_score),
        head_first_name: h.head?.firstName ?? null,
        head_last_name: h.head?.lastName ?? null,
        head_birth_date: h.head?.dob ?? null,
        phone: (h.head?.jsonExt.phone as string | undefined) ?? null,
        national_id: (h.head?.jsonExt.national_id as string | undefined) ?? null,
        attributes: { water_source: ext.water_source, 'dwelling.roof': ext.dwelling.roof, 'dwelling.rooms': String(ext.dwelling.rooms), enrolment_round: '2025-1' },
        enrolment: 'active',
      });
    }
    // Index 3 sits at a ward, 5 has no head: the peer's own choices, checked to be what the test covers.
    expect(peer.household(3).location.type).toBe('W');
    expect(peer.household(5).head).toBeNull();
  });

  it('gives a cursor from the registry clock, a minute back', () => {
    const cursor = pulled.cursor()!;
    expect(Date.now() - cursor.getTime()).toBeGreaterThanOrEqual(59_000);
    expect(Date.now() - cursor.getTime()).toBeLessThan(5 * 60_000);
  });
});

describe('a delta', () => {
  it('asks for enrolment and household changes, merges them by group, and exits the beneficiaries no longer active', async () => {
    const since = new Date(Date.now() - 1000);
    const changed = peer.changeHouseholds(spread(1000, 11));
    const suspended = peer.changeEnrolments(spread(7, 500), 'SUSPENDED');
    const deleted = peer.changeEnrolments(spread(4, 700), 'deleted');
    // A household whose size changed and whose enrolment ended: once, exited.
    const both = peer.changeEnrolments([11], 'GRADUATED');
    const filtersBefore = peer.stats.filters.length;

    const pulled = openImisRecords(client(), options({ since, pageSize: 100 }));
    const records = await collect(pulled.source.records);

    expect(peer.stats.filters.slice(filtersBefore)).toEqual([
      `benefitPlan_Id=${peer.benefitPlan} dateUpdated_Gte=${since.toISOString()}`,
      `benefitPlan_Id=${peer.benefitPlan} group_DateUpdated_Gte=${since.toISOString()}`,
    ]);
    const byCode = new Map(records.map((r) => [r.record.registry_id, r.record]));
    expect(records).toHaveLength(new Set([...changed, ...suspended, ...deleted, ...both]).size);
    expect(byCode.size).toBe(records.length);
    const exited = [...byCode.values()].filter((r) => r.enrolment === 'exited').map((r) => r.registry_id).sort();
    expect(exited).toEqual([...suspended, ...deleted, ...both].sort());
    expect(byCode.get(changed[5])).toMatchObject({ enrolment: 'active', attributes: expect.objectContaining({ water_source: 'tanker' }) });
    expect(byCode.get(changed[5])!.size).toBe(String(Number(peer.household(spread(1000, 11)[5]).groupExt.number_of_members)));
    expect(records.find((r) => r.record.registry_id === suspended[0])!.where).toMatch(/^enrolment changes page 1, group HH\d{7}$/);
    expect(pulled.source.expected?.()).toBe(records.length);
  });

  it('without a programme says nothing of enrolment', async () => {
    const pulled = openImisRecords(client(), options({ since: new Date(Date.now() - 60_000), enrolment: false }));
    const records = await collect(pulled.source.records);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.record.enrolment === undefined)).toBe(true);
  });
});

describe('locations', () => {
  it('an openIMIS location code with no P-code for it or its parents is passed on as is, the record naming group and code', async () => {
    const since = new Date();
    peer.relocate([42_000], 'X9999999');
    const pulled = openImisRecords(client(), options({ since }));
    const records = await collect(pulled.source.records);
    const moved = records.find((r) => r.record.registry_id === 'HH0042000')!;
    expect(moved.record.admin_pcode).toBe('X9999999');
    expect(moved.where).toBe('household changes page 1, group HH0042000 (openIMIS location X9999999 and its parents have no P-code in area_codes, scheme openimis)');
    expect(pulled.stats().unmappedLocations).toBe(1);
  });

  it('the group uuid becomes registry_id when asked', async () => {
    const pulled = openImisRecords(client(), options({ since: new Date(Date.now() - 1000), mapping: { registryId: 'uuid', keys: DEFAULT_JSON_EXT_KEYS, crosswalk } }));
    peer.changeHouseholds([77]);
    const records = await collect(pulled.source.records);
    expect(records.map((r) => r.record.registry_id)).toContain(peer.household(77).groupUuid);
  });
});

describe('authentication and faults', () => {
  it('a wrong password is a UserError naming the user, before any household is asked for', async () => {
    process.env.OPENIMIS_WRONG = 'not-the-password';
    const queries = peer.stats.queries;
    const pulled = openImisRecords(client('OPENIMIS_WRONG'), options());
    const error = await collect(pulled.source.records).catch((e: Error) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(`openIMIS ${peer.url}/api/graphql: tokenAuth refused the user asp: Please enter valid credentials; nothing was imported`);
    expect((error as Error).message).not.toContain('not-the-password');
    expect(peer.stats.queries).toBe(queries);
  });

  it('a server that quotes the password back has it blotted out of the error', async () => {
    const careless = await startOpenImisPeer({ households: 10, users: { asp: PASSWORD }, echoCredentials: true });
    process.env.OPENIMIS_WRONG = 'not-the-password';
    const error = await openImisClient({ url: careless.url, username: 'asp', password: { env: 'OPENIMIS_WRONG' } }).authenticate().catch((e: Error) => e);
    await careless.close();
    expect((error as Error).message).toBe(`openIMIS ${careless.url}/api/graphql: tokenAuth refused the user asp: Please enter valid credentials (got asp/***); nothing was imported`);
  });

  it('a missing password variable is named, not guessed', async () => {
    const error = await client('OPENIMIS_NOT_SET').authenticate().catch((e: Error) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe('openIMIS password of asp: the environment variable OPENIMIS_NOT_SET is not set');
  });

  it('reads the password from a file, and re-reads it when the token is renewed (rotation)', async () => {
    const file = path.join(os.tmpdir(), `openimis-pw-${process.pid}`);
    await writeFile(file, `${PASSWORD}\n`);
    const fileClient = openImisClient({ url: peer.url, username: 'asp', password: { file }, backoffMs: 5 });
    await fileClient.authenticate();
    await writeFile(file, 'rotated-away\n');
    peer.expireTokens();
    const error = await fileClient.query('{ groupBeneficiary(first: 1) { totalCount } }').catch((e: Error) => e);
    expect((error as Error).message).toMatch(/tokenAuth refused the user asp/);
    await rm(file);
  });

  it('a token that expires mid-pull is renewed and the pull goes on without a gap', async () => {
    // A peer of its own, small: renewal does not depend on volume.
    const small = await startOpenImisPeer({ households: 2_000, seed: 9, users: { asp: PASSWORD } });
    small.onQuery = (n) => {
      if (n === 5) small.expireTokens();
    };
    const smallClient = openImisClient({ url: small.url, username: 'asp', password: { env: 'OPENIMIS_TEST_PASSWORD' } });
    const records = await collect(openImisRecords(smallClient, { ...options(), benefitPlan: small.benefitPlan }).source.records);
    expect(records.map((r) => r.record.registry_id)).toEqual(Array.from({ length: 2_000 }, (_, i) => small.household(i).code));
    expect(small.stats.tokenAuths).toBe(2);
    // Page 5 was asked twice: once refused with the old token, once answered with the new one.
    expect(small.stats.queries).toBe(21);
    await small.close();
  });

  it('5xx answers are retried; a registry that stays down fails the pull saying so', async () => {
    peer.failNext(2, 502);
    const first = await collect(openImisRecords(client(), options({ since: new Date(Date.now() - 60_000) })).source.records);
    expect(first.length).toBeGreaterThan(0);

    const down = openImisClient({ url: peer.url, username: 'asp', password: { env: 'OPENIMIS_TEST_PASSWORD' }, backoffMs: 1, retries: 2 });
    peer.failNext(100, 503);
    const error = await collect(openImisRecords(down, options()).source.records).catch((e: Error) => e);
    expect((error as Error).message).toBe(`openIMIS ${peer.url}/api/graphql: HTTP 503 (after 3 attempts)`);
  });

  it('an address where nothing listens fails saying so', async () => {
    const gone = await startOpenImisPeer({ households: 1 });
    await gone.close();
    const nowhere = openImisClient({ url: gone.url, username: 'asp', password: { env: 'OPENIMIS_TEST_PASSWORD' }, backoffMs: 1, retries: 1 });
    const error = await nowhere.authenticate().catch((e: Error) => e);
    expect((error as Error).message).toBe(`openIMIS ${gone.url}/api/graphql: fetch failed (ECONNREFUSED) (after 2 attempts)`);
  });

  it('a page larger than the deployment allows is refused with openIMIS’s words', async () => {
    const error = await collect(openImisRecords(client(), options({ pageSize: 500 })).source.records).catch((e: Error) => e);
    expect((error as Error).message).toContain('exceeds the `first` limit of 100 records');
  });

  it('the password appears in no log line and no error', async () => {
    const logs = await readFile(logFile, 'utf8');
    expect(logs).toContain('openIMIS token obtained');
    expect(logs).toContain('openIMIS token expired; renewing');
    expect(logs).not.toContain(PASSWORD);
  });
});
