import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { approveList, cancelList } from '../../src/lists/lifecycle.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { droughtRule, ingestDroughtEpisode } from '../support/drought-event.ts';
import { insertHouseholds, type TestHousehold } from '../support/households.ts';
import { generateCycle } from '../support/list-cycle.ts';
import { approveRuleText } from '../support/rules.ts';

/**
 * One drought, two cycles. In November GDACS puts the first district of a region in the drought's
 * footprint; in December a new episode of the same event widens it to the second district. The
 * first district's households must not be paid again for the same shock, and what November's
 * approved list cost comes off the shock's envelope. Each story has its own region, event and rule.
 *
 * Households (points well inside their district): the first district's four ranked by PMT score
 * (…1 poorest), the second district's three.
 */
const REGIONS = {
  oneOff: { region: 'XD01', first: 'XD01001', west: 38, south: 3, event: 9900801 },
  countThree: { region: 'XD02', first: 'XD02001', west: 40, south: 3, event: 9900802 },
  cancelled: { region: 'XD03', first: 'XD03001', west: 38, south: 1, event: 9900803 },
  whileTriggered: { region: 'XD04', first: 'XD04001', west: 40, south: 1, event: 9900804 },
};
type Story = (typeof REGIONS)[keyof typeof REGIONS];

function households(prefix: string, story: Story): TestHousehold[] {
  const second = story.first.replace(/1$/, '2');
  const at = (dx: number, dy: number): [number, number] => [story.west + dx, story.south + dy];
  return [
    { id: `${prefix}-A1`, pcode: story.first, pmt: 10, size: 3, location: at(0.2, 0.3) },
    { id: `${prefix}-A2`, pcode: story.first, pmt: 20, size: 2, location: at(0.3, 0.4) },
    { id: `${prefix}-A3`, pcode: story.first, pmt: 30, size: 4, location: at(0.4, 0.5) },
    { id: `${prefix}-A4`, pcode: story.first, pmt: 40, size: 1, location: at(0.5, 0.6) },
    { id: `${prefix}-B1`, pcode: second, pmt: 15, size: 2, location: at(0.9, 0.3) },
    { id: `${prefix}-B2`, pcode: second, pmt: 25, size: 3, location: at(1.0, 0.5) },
    { id: `${prefix}-B3`, pcode: second, pmt: 35, size: 4, location: at(1.1, 0.7) },
  ];
}

const oneOffResponse = `  - mode: horizontal
    households: { priority: [{ field: pmt_score, order: ascending }] }
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 500, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 3 } }`;

const perShock = (amount: number) => `budget:
  envelope: { amount: ${amount}, currency: KES, per: shock }
  over_budget: [stop_when_exhausted]`;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  for (const [prefix, story] of Object.entries(REGIONS)) await insertHouseholds(t.store, households(prefix, story));
});
afterAll(() => t?.drop());

/** November: the event's first episode covers the first district only. */
async function november(story: Story) {
  await ingestDroughtEpisode(t.store, { eventId: story.event, episode: 1, box: [story.west + 0.05, story.south + 0.05, story.west + 0.6, story.south + 0.95], fetchedAt: '2026-11-20T09:00:00Z' });
}
/** December: the second episode widens the footprint to the second district. */
async function december(story: Story) {
  await ingestDroughtEpisode(t.store, { eventId: story.event, episode: 2, box: [story.west + 0.05, story.south + 0.05, story.west + 1.3, story.south + 0.95], fetchedAt: '2026-12-03T09:00:00Z' });
}


async function shocksOf(ruleId: string) {
  const activations = await listActivations(t.store, { ruleId, status: 'open' });
  return activations.map((a) => [a.pcode, a.shockKey]);
}

describe('a one-off benefit over two cycles of one shock', () => {
  it('the first district is not listed again when the second is notified, and November comes off the envelope per shock', async () => {
    const story = REGIONS.oneOff;
    const ruleId = await approveRuleText(t.store, droughtRule('test-one-off', story.region, oneOffResponse, perShock(3000)));
    await november(story);
    const first = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(first.ids).toEqual(['oneOff-A1', 'oneOff-A2', 'oneOff-A3', 'oneOff-A4']);
    expect(first.totalAmount).toBe(2000);
    await approveList(t.store, first.id, 'checker@test', first);

    await december(story);
    const second = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    expect(await shocksOf(ruleId)).toEqual([['XD01001', 'gdacs:DR9900801'], ['XD01002', 'gdacs:DR9900801']]);
    // 3000 per shock − 2000 paid in November = 1000: the two poorest of the second district.
    expect(second.ids).toEqual(['oneOff-B1', 'oneOff-B2']);
    expect(second.totalAmount).toBe(1000);
    expect(second.excluded).toEqual({ 'already paid 1 of 1 payments for this shock': 4, 'over budget': 1 });
    expect(second.cuts).toEqual([{ pcode: 'XD01002', step: 'stop', households: 1, amount: 500, reason: 'the envelope ran out' }]);
    expect(second.notes).toContain('envelope per shock (shock gdacs:DR9900801): 3000 KES, of which 2000 taken by earlier approved lists of test-one-off; 1000 left for this list');
    expect(second.areas.map((a) => [a.pcode, a.registered, a.listed, a.amount])).toEqual([['XD01001', 4, 0, 0], ['XD01002', 3, 2, 1000]]);
  });
});

describe('count: 3 over several cycles', () => {
  const response = `  - mode: horizontal
    households: { priority: [{ field: pmt_score, order: ascending }] }
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 1000, currency: KES }
    payments: { frequency: monthly, count: 3, start: { days_after_activation: 7 } }`;

  it('three payments are scheduled once per household and shock; the envelope counts amount × payments', async () => {
    const story = REGIONS.countThree;
    const ruleId = await approveRuleText(t.store, droughtRule('test-count-three', story.region, response, perShock(20000)));
    await november(story);
    const first = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(first.entries.map((e) => [e.id, e.amount, e.payments])).toEqual([
      ['countThree-A1', 1000, 3], ['countThree-A2', 1000, 3], ['countThree-A3', 1000, 3], ['countThree-A4', 1000, 3],
    ]);
    await approveList(t.store, first.id, 'checker@test', first);

    await december(story);
    // 20000 − 4 × 1000 × 3 = 8000 left: two of the second district's households (3000 each), not the third.
    const second = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    expect(second.entries.map((e) => [e.id, e.payments])).toEqual([['countThree-B1', 3], ['countThree-B2', 3]]);
    expect(second.excluded).toEqual({ 'already paid 3 of 3 payments for this shock': 4, 'over budget': 1 });
    expect(second.cuts).toEqual([{ pcode: 'XD02002', step: 'stop', households: 1, amount: 3000, reason: 'the envelope ran out' }]);
    await approveList(t.store, second.id, 'checker@test', second);

    // January: everyone listed so far has had three; B3 was cut by the budget and the envelope has 2000 left, less than its 3000.
    const third = await generateCycle(t.store, ruleId, '2027-01-04T00:00:00Z', '2027-01');
    expect(third.ids).toEqual([]);
    expect(third.excluded).toEqual({ 'already paid 3 of 3 payments for this shock': 6, 'over budget': 1 });
  });
});

describe('only decided lists count', () => {
  it('a cancelled list pays nobody, so its households are listed again; a draft of an earlier cycle must be decided first', async () => {
    const story = REGIONS.cancelled;
    const ruleId = await approveRuleText(t.store, droughtRule('test-cancelled', story.region, oneOffResponse, perShock(100000)));
    await november(story);
    const first = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(first.ids).toHaveLength(4);
    await december(story);
    await expect(generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12')).rejects.toThrow(
      new RegExp(`list ${first.id} \\(cycle 2026-11, gdacs:DR9900803\\) is still a draft for the same shock: approve or cancel it first`),
    );
    await cancelList(t.store, first.id, 'checker@test', 'wrong extract');
    const second = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    expect(second.ids).toEqual(['cancelled-A1', 'cancelled-A2', 'cancelled-A3', 'cancelled-A4', 'cancelled-B1', 'cancelled-B2', 'cancelled-B3']);
    expect(second.excluded).toEqual({});
  });
});

describe('while triggered, up to max_count', () => {
  it('one payment a cycle, until a household has had max_count for the shock', async () => {
    const story = REGIONS.whileTriggered;
    const response = `  - mode: horizontal
    households: {}
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 100, currency: KES }
    payments: { frequency: monthly, count: while_triggered, max_count: 2, start: { days_after_activation: 7 } }`;
    const ruleId = await approveRuleText(t.store, droughtRule('test-while-triggered', story.region, response, perShock(100000)));
    await november(story);
    const first = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(first.entries.every((e) => e.payments === 1)).toBe(true);
    await approveList(t.store, first.id, 'checker@test', first);
    await december(story);
    const second = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    expect(second.ids).toHaveLength(7); // the first district's second payment, the second district's first
    await approveList(t.store, second.id, 'checker@test', second);
    const third = await generateCycle(t.store, ruleId, '2027-01-04T00:00:00Z', '2027-01');
    expect(third.ids).toEqual(['whileTriggered-B1', 'whileTriggered-B2', 'whileTriggered-B3']);
    expect(third.excluded).toEqual({ 'already paid 2 of 2 payments for this shock': 4 });
  });
});
