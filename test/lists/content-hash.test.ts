import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveList, getList, listContentHash } from '../../src/lists/lifecycle.ts';
import { approvalWorld, regenerate, storedList } from '../support/approval-world.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The content hash of a list, version 2 (migration 0023): per-area blocks of ranks, each hashed on
 * its own, then the header and one line per block. Computed here a second way, in Node from the
 * entries as written, and compared with what the database computes, over the engine's own list and
 * over generated entries (areas whose byte order differs from a naive order, ranks crossing block
 * boundaries, missing tiers, dates, accounts, non-ASCII text).
 */

let t: TestDatabase;
let activationId: number;
let listId: number;
let households: { id: number; region: string }[];

beforeAll(async () => {
  t = await createTestDatabase();
  ({ activationId } = await approvalWorld(t.store, 40));
  listId = (await regenerate(t.store, activationId)).id;
  households = await query<{ id: number; region: string }>(`SELECT id::int AS id, region FROM households ORDER BY id`);
}, 120_000);
afterAll(() => t?.drop());

async function query<R>(text: string, params: unknown[] = []): Promise<R[]> {
  return (await t.store.transaction(({ raw }) => raw.query<R>(text, params))).rows;
}

interface Entry {
  registryId: string;
  adminPcode: string;
  pcode: string;
  tier: string | null;
  rank: number;
  /** In cents, so that Node formats it without floating point. */
  cents: number;
  currency: string;
  payments: number | null;
  firstPayment: string | null;
  channel: string | null;
  account: string | null;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const amount = (cents: number): string => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

function entryLine(e: Entry): string {
  return [e.registryId, e.adminPcode, e.pcode, e.tier ?? '', String(e.rank), amount(e.cents), e.currency,
    e.payments === null ? '' : String(e.payments), e.firstPayment ?? '', e.channel ?? '', e.account ?? ''].join('|');
}

/** Version 2 as its migration describes it, written without SQL. */
function nodeHash(header: string, entries: Entry[], blockRanks: number): string {
  const blocks = new Map<string, { pcode: string; block: number; entries: Entry[] }>();
  for (const e of entries) {
    const block = Math.trunc((e.rank - 1) / blockRanks);
    const key = JSON.stringify([e.pcode, block]);
    if (!blocks.has(key)) blocks.set(key, { pcode: e.pcode, block, entries: [] });
    blocks.get(key)!.entries.push(e);
  }
  const lines = [...blocks.values()]
    .sort((a, b) => bytes(a.pcode, b.pcode) || a.block - b.block)
    .map((b) => {
      const ordered = [...b.entries].sort((x, y) => x.rank - y.rank || bytes(x.registryId, y.registryId));
      return `${b.pcode}|${b.block}|${b.entries.length}|${sha256(ordered.map(entryLine).join('\n'))}`;
    });
  return sha256([header, ...lines].join('\n'));
}

/** The header line from the list as the API shows it: rule version hash, component, kind, programme, cycle, currency. */
async function header(): Promise<string> {
  const l = await getList(t.store, listId);
  return [l.ruleHash, l.component, l.kind, l.programme, l.cycle, l.currency].filter((v) => v !== null).join('|');
}

async function databaseHash(blockRanks?: number): Promise<string> {
  const [row] = blockRanks === undefined
    ? await query<{ hash: string }>(`SELECT payment_list_content_hash_v2($1) AS hash`, [listId])
    : await query<{ hash: string }>(`SELECT payment_list_content_hash_v2($1, $2) AS hash`, [listId, blockRanks]);
  return row.hash;
}

async function storedEntries(): Promise<Entry[]> {
  return query<Entry>(
    `SELECT registry_id AS "registryId", admin_pcode AS "adminPcode", pcode, tier, rank, (amount * 100)::int AS cents, currency,
            payments, to_char(first_payment, 'YYYY-MM-DD') AS "firstPayment", payment_channel AS channel, payment_account AS account
       FROM payment_list_entries WHERE list_id = $1`, [listId]);
}

/** Replaces the draft's entries with these (one a household, in the households' order). */
async function writeEntries(entries: Entry[]): Promise<void> {
  await t.store.transaction(async ({ raw }) => {
    await raw.query(`DELETE FROM payment_list_entries WHERE list_id = $1`, [listId]);
    if (entries.length === 0) return;
    await raw.query(
      `INSERT INTO payment_list_entries (list_id, household_id, region, registry_id, admin_pcode, pcode, activation_id, tier, rank,
                                         amount, currency, payments, first_payment, payment_channel, payment_account, reason)
       SELECT $1, h.id, h.region, e.registry_id, e.admin_pcode, e.pcode, $2, e.tier, e.rank, e.cents / 100.0, e.currency,
              e.payments, e.first_payment::date, e.channel, e.account, 'generated'
         FROM jsonb_to_recordset($3::jsonb) AS e(n int, registry_id text, admin_pcode text, pcode text, tier text, rank int, cents bigint,
                                                 currency text, payments int, first_payment text, channel text, account text)
         JOIN households h ON h.id = ($4::bigint[])[e.n]`,
      [listId, activationId,
        JSON.stringify(entries.map((e, i) => ({ n: i + 1, registry_id: e.registryId, admin_pcode: e.adminPcode, pcode: e.pcode, tier: e.tier,
          rank: e.rank, cents: e.cents, currency: e.currency, payments: e.payments, first_payment: e.firstPayment, channel: e.channel, account: e.account }))),
        households.map((h) => h.id)],
    );
  });
}

const text = fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => !s.includes('\u0000'));
const entry: fc.Arbitrary<Omit<Entry, 'registryId'>> = fc.record({
  // "Z" sorts before "a" and "É" after both in byte order; "XD01" before "XD010".
  adminPcode: fc.constantFrom('XD01001', 'XD01002'),
  pcode: fc.constantFrom('XD01', 'XD010', 'XD01001', 'Z9', 'a1', 'É1'),
  tier: fc.option(fc.constantFrom('severe', 'moderate', 'sévère')),
  rank: fc.integer({ min: 1, max: 12 }),
  cents: fc.integer({ min: 0, max: 99_999_999 }),
  currency: fc.constantFrom('KES', 'USD'),
  payments: fc.option(fc.integer({ min: 1, max: 6 })),
  firstPayment: fc.option(fc.date({ min: new Date('2020-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))),
  channel: fc.option(fc.constantFrom('mobile_money', 'bank')),
  account: fc.option(text),
});

describe('the content hash of a list (version 2)', () => {
  it('the engine records version 2 for a list it generates, and it is the hash computed in Node from its entries', async () => {
    const list = await getList(t.store, listId);
    expect(list.contentHashVersion).toBe(2);
    const entries = await storedEntries();
    expect(entries).toHaveLength(40);
    expect(list.entriesSha256).toBe(nodeHash(await header(), entries, 100_000));
    expect(await t.store.transaction(({ raw }) => listContentHash(raw, listId))).toBe(list.entriesSha256);
    // Blocks of 3 ranks: 14 blocks in the one area, the same content, another hash, still equal to Node's.
    const small = await databaseHash(3);
    expect(small).not.toBe(list.entriesSha256);
    expect(small).toBe(nodeHash(await header(), entries, 3));
  });

  it('over generated entries, the database and Node agree whatever the block size', async () => {
    const h = await header();
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: households.length }), fc.integer({ min: 1, max: 5 }), async (drawn, blockRanks) => {
        // Registry ids distinct, as in a registry: (area, rank, registry id) orders entries fully.
        const entries = drawn.map((e, i) => ({ ...e, registryId: `${['r', 'R', 'é', 'Ω'][i % 4]}${i}` }));
        await writeEntries(entries);
        expect(await databaseHash(blockRanks)).toBe(nodeHash(h, entries, blockRanks));
        expect(await databaseHash()).toBe(nodeHash(h, entries, 100_000));
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('a cent, an account or an entry moved to another area changes the hash', async () => {
    const base: Entry[] = households.slice(0, 6).map((_, i) => ({
      registryId: `B${i}`, adminPcode: 'XD01001', pcode: i < 3 ? 'XD01001' : 'XD01002', tier: null, rank: (i % 3) + 1, cents: 10_000,
      currency: 'KES', payments: 1, firstPayment: '2026-11-01', channel: 'mobile_money', account: `07${i}`,
    }));
    await writeEntries(base);
    const before = await databaseHash();
    for (const changed of [
      base.map((e, i) => (i === 4 ? { ...e, cents: e.cents + 1 } : e)),
      base.map((e, i) => (i === 0 ? { ...e, account: '0799' } : e)),
      base.map((e, i) => (i === 5 ? { ...e, pcode: 'XD01001', rank: 4 } : e)),
      base.slice(1),
    ]) {
      await writeEntries(changed);
      expect(await databaseHash()).not.toBe(before);
    }
    await writeEntries(base);
    expect(await databaseHash()).toBe(before);
  });

  it('a list hashed before migration 0023 (version 1) is checked against version 1 when approved', async () => {
    // As a list generated before the migration: its version-1 hash recorded, its version 1.
    const regenerated = await regenerate(t.store, activationId);
    const [v1] = await query<{ sha256: string }>(
      `UPDATE payment_lists SET content_hash_version = 1, entries_sha256 = payment_list_content_hash_v1(id) WHERE id = $1 RETURNING entries_sha256 AS sha256`,
      [regenerated.id]);
    expect(v1.sha256).not.toBe(regenerated.sha256);
    expect(await storedList(t.store, regenerated.id)).toMatchObject({ entriesHashNow: v1.sha256 });
    // The version-2 hash is not what this list shows, so naming it is refused.
    await expect(approveList(t.store, regenerated.id, 'checker@test', { sha256: regenerated.sha256 })).rejects.toThrow('is not the content you reviewed');
    const approved = await approveList(t.store, regenerated.id, 'checker@test', { sha256: v1.sha256 });
    expect(approved).toMatchObject({ status: 'approved', contentSha256: v1.sha256, contentHashVersion: 1 });
    // Decided, its hash version is frozen with its hashes.
    await expect(query(`UPDATE payment_lists SET content_hash_version = 2 WHERE id = $1`, [regenerated.id]))
      .rejects.toThrow(`payment list ${regenerated.id} is approved: its version and hashes cannot change`);
    expect(await storedList(t.store, regenerated.id)).toMatchObject({ contentSha256: v1.sha256, entriesHashNow: v1.sha256 });
  });
});
