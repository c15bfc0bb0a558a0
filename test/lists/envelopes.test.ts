import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveList } from '../../src/lists/lifecycle.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { droughtRule, ingestDroughtEpisode } from '../support/drought-event.ts';
import { insertHouseholds, type TestHousehold } from '../support/households.ts';
import { generateCycle } from '../support/list-cycle.ts';
import { approveRuleText } from '../support/rules.ts';

/**
 * What a list may spend and pay when earlier lists exist: a list over two shocks (each its own
 * envelope), an envelope per calendar year, and a rule amended from two payments to three (the
 * households already paid two get the one still due). Each story has its own region and events;
 * households are four in the region's first district (…A1–A4) and three in its second (…B1–B3).
 */
function region(prefix: string, first: string, west: number, south: number): TestHousehold[] {
  const second = first.replace(/1$/, '2');
  return [
    ...[1, 2, 3, 4].map((i) => ({ id: `${prefix}A${i}`, pcode: first, pmt: i * 10, location: [west + 0.1 * i, south + 0.5] as [number, number] })),
    ...[1, 2, 3].map((i) => ({ id: `${prefix}B${i}`, pcode: second, pmt: i * 10, location: [west + 0.7 + 0.1 * i, south + 0.5] as [number, number] })),
  ];
}

const response = (amount: number, payments: string) => `  - mode: horizontal
    households: { priority: [{ field: pmt_score, order: ascending }] }
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: ${amount}, currency: KES }
    payments: { ${payments}, start: { days_after_activation: 3 } }`;
const envelope = (amount: number, per: string) => `budget:
  envelope: { amount: ${amount}, currency: KES, per: ${per} }
  over_budget: [stop_when_exhausted]`;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, [...region('S', 'XD01001', 38, 3), ...region('Y', 'XD02001', 40, 3), ...region('V', 'XD03001', 38, 1), ...region('W', 'XD04001', 40, 1)]);
});
afterAll(() => t?.drop());


describe('per shock, a list over two shocks', () => {
  it('each shock draws on its own envelope, and next cycle on what its earlier lists left', async () => {
    // Two droughts at once: one over Northaven Acacia, one over Northaven Baobab.
    await ingestDroughtEpisode(t.store, { eventId: 9900841, episode: 1, box: [38.05, 3.05, 38.6, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
    await ingestDroughtEpisode(t.store, { eventId: 9900842, episode: 1, box: [38.7, 3.05, 39.3, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
    const ruleId = await approveRuleText(t.store, droughtRule('test-two-shocks', 'XD01', response(500, 'frequency: once, count: 1'), envelope(1500, 'shock')));
    const november = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    // gdacs:DR9900841: SA1–SA4 cost 2000 > 1500: SA4 is cut. gdacs:DR9900842: SB1–SB3 cost 1500: all fit.
    expect(november.ids).toEqual(['SA1', 'SA2', 'SA3', 'SB1', 'SB2', 'SB3']);
    expect(november.totalAmount).toBe(3000);
    expect(november.cuts).toEqual([{ pcode: 'XD01001', step: 'stop', households: 1, amount: 500, reason: 'the envelope ran out' }]);
    await approveList(t.store, november.id, 'checker@test', november);

    const december = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    expect(december.ids).toEqual([]);
    expect(december.excluded).toEqual({ 'already paid 1 of 1 payments for this shock': 6, 'over budget': 1 });
    expect(december.cuts).toEqual([{ pcode: 'XD01001', step: 'spent', households: 1, amount: 500, reason: "the envelope was used by earlier approved lists, or by this cycle's earlier components of the rule" }]);
  });
});

describe('per year', () => {
  it('the approved lists of the calendar year are deducted; a new year starts with the whole envelope', async () => {
    await ingestDroughtEpisode(t.store, { eventId: 9900843, episode: 1, box: [40.05, 3.05, 40.6, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
    const ruleId = await approveRuleText(t.store, droughtRule('test-per-year', 'XD02', response(100, 'frequency: monthly, count: while_triggered'), envelope(700, 'year')));
    const november = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(november.ids).toEqual(['YA1', 'YA2', 'YA3', 'YA4']);
    await approveList(t.store, november.id, 'checker@test', november);
    // 700 − 400 = 300 left in 2026: the three poorest.
    const december = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    expect(december.ids).toEqual(['YA1', 'YA2', 'YA3']);
    expect(december.excluded).toEqual({ 'over budget': 1 });
    await approveList(t.store, december.id, 'checker@test', december);
    const january = await generateCycle(t.store, ruleId, '2027-01-04T00:00:00Z', '2027-01');
    expect(january.ids).toEqual(['YA1', 'YA2', 'YA3', 'YA4']);
  });
});

describe('count: N across an amendment of the rule', () => {
  it('households paid two of three for the shock get one more; their entry says 1 payment and costs one', async () => {
    await ingestDroughtEpisode(t.store, { eventId: 9900844, episode: 1, box: [38.05, 1.05, 38.6, 1.95], fetchedAt: '2026-11-20T09:00:00Z' });
    const rule = (count: number) => droughtRule('test-amended', 'XD03', response(1000, `frequency: monthly, count: ${count}`), envelope(9000, 'shock'));
    const ruleId = await approveRuleText(t.store, rule(2));
    const november = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(november.entries.map((e) => [e.id, e.payments])).toEqual([['VA1', 2], ['VA2', 2], ['VA3', 2], ['VA4', 2]]);
    await approveList(t.store, november.id, 'checker@test', november);

    await approveRuleText(t.store, rule(3)); // the ministry extends the response to three payments
    // 9000 − 4 × 1000 × 2 = 1000 left: one more payment for the poorest.
    const december = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    expect(december.entries.map((e) => [e.id, e.payments, e.amount])).toEqual([['VA1', 1, 1000]]);
    expect(december.excluded).toEqual({ 'over budget': 3 });
  });
});

describe('a draft of an earlier version of the rule', () => {
  it('must be decided before the amended version lists the same shock: both could be approved otherwise', async () => {
    await ingestDroughtEpisode(t.store, { eventId: 9900845, episode: 1, box: [40.05, 1.05, 40.6, 1.95], fetchedAt: '2026-11-20T09:00:00Z' });
    const rule = (amount: number) => droughtRule('test-redrafted', 'XD04', response(amount, 'frequency: once, count: 1'), envelope(100000, 'shock'));
    const ruleId = await approveRuleText(t.store, rule(500));
    const draft = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    await approveRuleText(t.store, rule(600)); // amended before the draft was approved
    await expect(generateCycle(t.store, ruleId, '2026-11-22T00:00:00Z', '2026-11')).rejects.toThrow(
      `test-redrafted: list ${draft.id} (cycle 2026-11, gdacs:DR9900845) is still a draft for the same shock: approve or cancel it first`,
    );
  });
});
