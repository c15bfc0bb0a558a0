import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/demo/random.ts';
import type { GeneratedList } from '../../src/engine/targeting/generate-lists.ts';
import { ConflictError } from '../../src/errors.ts';
import { approveList, cancelList, getList, listContentHash, listLists } from '../../src/lists/lifecycle.ts';
import { approvalWorld, APPROVAL_RULE, moveAccount, regenerate, storedList } from '../support/approval-world.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * Approval and regeneration of one list at the same time, on two connections (on the embedded
 * back end the driver serialises them, and the same outcomes must hold). Each race starts one of
 * the two, then the other after a seeded random delay up to the time a regeneration takes, so
 * that the second lands before, inside and after the first. After every race: exactly one of them
 * won, the loser was told it conflicts, and an approved list holds the hash its approver named,
 * which is the hash of its entries.
 */

const SEED = 20261207;
const HOUSEHOLDS = 1500;

let t: TestDatabase;
let activationId: number;
/** How long one regeneration takes here (ms): the range of the delays. */
let regenerationMs = 0;

beforeAll(async () => {
  t = await createTestDatabase();
  ({ activationId } = await approvalWorld(t.store, HOUSEHOLDS));
  const started = Date.now();
  await regenerate(t.store, activationId);
  regenerationMs = Math.max(20, Date.now() - started);
}, 180_000);
afterAll(async () => {
  delete process.env.ASP_SECOND_APPROVAL_ABOVE;
  await t?.drop();
});
beforeEach(() => {
  delete process.env.ASP_SECOND_APPROVAL_ABOVE;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh draft with no approval: any live list of the rule cancelled, then generated. */
async function freshDraft(): Promise<GeneratedList> {
  for (const live of await listLists(t.store, { ruleId: APPROVAL_RULE })) {
    if (live.status !== 'cancelled') await cancelList(t.store, live.id, 'maker@test', 'the next race');
  }
  return regenerate(t.store, activationId);
}

/** What an approver is shown of the list now: the hash of its entries and its version. */
async function shownNow(listId: number): Promise<{ sha256: string; version: number }> {
  const hash = await t.store.transaction(({ raw }) => listContentHash(raw, listId));
  return { sha256: hash, version: (await getList(t.store, listId)).version };
}

/** Regeneration and `approve` together; which starts first alternates, the other follows after `delay` ms. */
async function raceWithRegeneration<T>(round: number, delay: number, approve: () => Promise<T>) {
  const regeneration = () => regenerate(t.store, activationId);
  if (round % 2 === 0) {
    const [regenerated, approved] = await Promise.allSettled([regeneration(), sleep(delay).then(approve)]);
    return { regenerated, approved };
  }
  const [approved, regenerated] = await Promise.allSettled([approve(), sleep(delay).then(regeneration)]);
  return { regenerated, approved };
}

const isConflict = (result: PromiseSettledResult<unknown>) => result.status === 'rejected' && result.reason instanceof ConflictError;
const describeOutcome = (result: PromiseSettledResult<unknown>) => (result.status === 'fulfilled' ? 'done' : `${(result.reason as Error).name}: ${(result.reason as Error).message}`);

describe('regenerate while approving', () => {
  it('exactly one wins each race; an approved list holds the hash named, which is its entries\' hash', async () => {
    const random = seededRandom(SEED);
    const violations: string[] = [];
    const wins = { approval: 0, regeneration: 0 };
    let list = await freshDraft();
    for (let round = 0; round < 24; round++) {
      const shown = await shownNow(list.id);
      await moveAccount(t.store, `07-race-${round}`); // the regeneration will give other content
      const delay = Math.floor(random() * regenerationMs);
      const { regenerated, approved } = await raceWithRegeneration(round, delay, () => approveList(t.store, list.id, 'checker@test', shown));
      const stored = await storedList(t.store, list.id);
      const where = `round ${round} (delay ${delay} ms): regeneration ${describeOutcome(regenerated)}; approval ${describeOutcome(approved)}`;
      if (approved.status === 'fulfilled' && regenerated.status === 'fulfilled') violations.push(`${where}: both went through`);
      if (approved.status === 'rejected' && !isConflict(approved)) violations.push(`${where}: the approval failed other than as a conflict`);
      if (regenerated.status === 'rejected' && !isConflict(regenerated)) violations.push(`${where}: the regeneration failed other than as a conflict`);
      if (stored.status === 'approved') {
        wins.approval++;
        if (stored.contentSha256 !== shown.sha256 || stored.entriesHashNow !== shown.sha256) {
          violations.push(`${where}: approved with sha256 ${stored.contentSha256}, named ${shown.sha256}, entries hash to ${stored.entriesHashNow}`);
        }
        list = await freshDraft();
      } else {
        wins.regeneration++;
        if (stored.contentSha256 !== null || stored.approvedBy !== null) violations.push(`${where}: a draft left with an approval of ${stored.contentSha256}`);
        if (approved.status === 'fulfilled') violations.push(`${where}: the approval went through but the list is ${stored.status}`);
      }
    }
    expect(violations).toEqual([]);
    // Both outcomes happened: the races were real.
    expect(wins.approval).toBeGreaterThan(0);
    expect(wins.regeneration).toBeGreaterThan(0);
  }, 600_000);

  it('a first approval racing a regeneration never blocks the list: a second approver of the content shown now always succeeds', async () => {
    process.env.ASP_SECOND_APPROVAL_ABOVE = '1';
    const random = seededRandom(SEED + 1);
    const violations: string[] = [];
    let list = await freshDraft();
    for (let round = 0; round < 12; round++) {
      const shown = await shownNow(list.id);
      await moveAccount(t.store, `07-second-${round}`);
      const delay = Math.floor(random() * regenerationMs);
      const { regenerated, approved } = await raceWithRegeneration(round, delay, () => approveList(t.store, list.id, 'checker@test', shown));
      const where = `round ${round} (delay ${delay} ms): regeneration ${describeOutcome(regenerated)}; first approval ${describeOutcome(approved)}`;
      // Whoever approves next reviews the list as it is now.
      const now = await shownNow(list.id);
      try {
        const next = await approveList(t.store, list.id, 'director@test', now);
        if (next.needsSecondApproval) await approveList(t.store, list.id, 'checker@test', now);
      } catch (error) {
        violations.push(`${where}: approving the content shown now failed: ${(error as Error).message}`);
      }
      const stored = await storedList(t.store, list.id);
      if (stored.status !== 'approved' || stored.contentSha256 !== now.sha256 || stored.entriesHashNow !== now.sha256 || stored.secondApprovedBy === null) {
        violations.push(`${where}: ${JSON.stringify(stored)} after both approved ${now.sha256}`);
      }
      list = await freshDraft();
    }
    expect(violations).toEqual([]);
  }, 600_000);
});

describe('at the same time on one list', () => {
  it('parallel approvals: one approval wins a list that needs one; two different approvers a list that needs two; the rest conflict', async () => {
    for (const [threshold, approvers, winners] of [[undefined, 4, 1], ['1', 3, 2]] as const) {
      if (threshold) process.env.ASP_SECOND_APPROVAL_ABOVE = threshold;
      for (let round = 0; round < 3; round++) {
        const list = await freshDraft();
        const names = Array.from({ length: approvers }, (_, i) => `approver${i}@test`);
        const results = await Promise.allSettled(names.map((name) => approveList(t.store, list.id, name, list)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(winners);
        expect(results.filter((r) => r.status === 'rejected').every(isConflict)).toBe(true);
        const stored = await storedList(t.store, list.id);
        expect(stored).toMatchObject({ status: 'approved', contentSha256: list.sha256, entriesHashNow: list.sha256 });
        const approvedBy = [stored.approvedBy, stored.secondApprovedBy].filter((n) => n !== null);
        expect(new Set(approvedBy).size).toBe(winners);
        expect(approvedBy.every((n) => names.includes(n!))).toBe(true);
      }
    }
  }, 300_000);

  it('parallel generations of the same list: each replaces the draft in turn; one list, its version counts them, its hash is its entries\'', async () => {
    const first = await freshDraft();
    const results = await Promise.all(Array.from({ length: 4 }, () => regenerate(t.store, activationId)));
    expect(results.map((r) => r.id)).toEqual(Array(4).fill(first.id));
    expect(results.map((r) => r.version).sort()).toEqual([2, 3, 4, 5].map((n) => first.version + n - 1));
    const live = (await listLists(t.store, { ruleId: APPROVAL_RULE })).filter((l) => l.status !== 'cancelled');
    expect(live).toHaveLength(1);
    const hash = await t.store.transaction(({ raw }) => listContentHash(raw, first.id));
    expect(live[0]).toMatchObject({ id: first.id, status: 'draft', version: first.version + 4, entriesSha256: hash, households: HOUSEHOLDS });
    expect(results.every((r) => r.sha256 === hash)).toBe(true);
  }, 300_000);
});
