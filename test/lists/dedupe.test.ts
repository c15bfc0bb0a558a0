import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveList } from '../../src/lists/lifecycle.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { droughtRule, ingestDroughtEpisode } from '../support/drought-event.ts';
import { insertHouseholds } from '../support/households.ts';
import { generateCycle } from '../support/list-cycle.ts';
import { approveRuleText } from '../support/rules.ts';

/**
 * Deduplication by a national ID attribute: two registry records with the same ID are one family,
 * paid once per shock. The records below are ranked by PMT score (lower first); `nid` is the
 * national ID as the registry holds it, with the spaces and case a data-entry clerk leaves.
 */
const nid = (value: string | null): Record<string, string> => (value === null ? {} : { national_id: value });

const response = (count = 1) => `  - mode: horizontal
    households:
      priority: [{ field: pmt_score, order: ascending }]
      dedupe_by: { attribute: national_id }
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 500, currency: KES }
    payments: { frequency: ${count === 1 ? 'once' : 'monthly'}, count: ${count}, start: { days_after_activation: 3 } }`;

const budget = `budget:
  envelope: { amount: 100000, currency: KES, per: shock }
  over_budget: [stop_when_exhausted]`;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, [
    // Region XD02, one list over two districts (lon 40–40.67 and 40.67–41.33, lat 3–4).
    { id: 'C-A1', pcode: 'XD02001', pmt: 10, location: [40.2, 3.3], attributes: nid('ID-100') },
    { id: 'C-A2', pcode: 'XD02001', pmt: 30, location: [40.3, 3.4], attributes: nid('ID-200') },
    { id: 'C-A3', pcode: 'XD02001', pmt: 40, location: [40.4, 3.5], attributes: nid(null) },
    { id: 'C-A4', pcode: 'XD02001', pmt: 60, location: [40.5, 3.6], attributes: nid('  ') },
    { id: 'C-B1', pcode: 'XD02002', pmt: 20, location: [40.9, 3.3], attributes: nid('id-200') }, // the same family as C-A2, ranked better
    { id: 'C-B2', pcode: 'XD02002', pmt: 50, location: [41.0, 3.5], attributes: nid(null) },
    // Region XD01, two cycles: the first district in November, the second joins in December.
    { id: 'D-A1', pcode: 'XD01001', pmt: 10, location: [38.2, 3.3], attributes: nid('ID-1') },
    { id: 'D-A2', pcode: 'XD01001', pmt: 20, location: [38.3, 3.4], attributes: nid('ID-2') },
    { id: 'D-A3', pcode: 'XD01001', pmt: 30, location: [38.4, 3.5], attributes: nid('ID-1') }, // a second record of D-A1's family
    { id: 'D-A4', pcode: 'XD01001', pmt: 40, location: [38.5, 3.6], attributes: nid(null) },
    { id: 'D-B1', pcode: 'XD01002', pmt: 5, location: [38.9, 3.3], attributes: nid('ID-2') }, // D-A2's family, paid in November
    { id: 'D-B2', pcode: 'XD01002', pmt: 25, location: [39.0, 3.5], attributes: nid('ID-3') },
    { id: 'D-B3', pcode: 'XD01002', pmt: 35, location: [39.1, 3.7], attributes: nid('ID-3') }, // D-B2's family
    { id: 'D-B4', pcode: 'XD01002', pmt: 45, location: [39.2, 3.8], attributes: nid(' id-1 ') }, // D-A1's family again
  ]);
});
afterAll(() => t?.drop());


describe('dedupe_by a national ID attribute', () => {
  it('within one list and across its areas: the best-ranked record of a family stays; records without an ID are not deduplicated', async () => {
    await ingestDroughtEpisode(t.store, { eventId: 9900821, episode: 1, box: [40.05, 3.05, 41.3, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
    const ruleId = await approveRuleText(t.store, droughtRule('test-dedupe-one-list', 'XD02', response(), budget));
    const list = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(list.ids).toEqual(['C-A1', 'C-A3', 'C-A4', 'C-B1', 'C-B2']);
    expect(list.excluded).toEqual({ 'duplicate national_id': 1 });
    expect(list.totalAmount).toBe(2500);
  });

  it('across cycles of one shock: a record whose family is on the approved November list is left out in December', async () => {
    await ingestDroughtEpisode(t.store, { eventId: 9900822, episode: 1, box: [38.05, 3.05, 38.6, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
    const ruleId = await approveRuleText(t.store, droughtRule('test-dedupe-cycles', 'XD01', response(), budget));
    const november = await generateCycle(t.store, ruleId, '2026-11-21T00:00:00Z', '2026-11');
    expect(november.ids).toEqual(['D-A1', 'D-A2', 'D-A4']);
    expect(november.excluded).toEqual({ 'duplicate national_id': 1 });
    await approveList(t.store, november.id, 'checker@test', november);

    await ingestDroughtEpisode(t.store, { eventId: 9900822, episode: 2, box: [38.05, 3.05, 39.3, 3.95], fetchedAt: '2026-12-03T09:00:00Z' });
    const december = await generateCycle(t.store, ruleId, '2026-12-04T00:00:00Z', '2026-12');
    // D-B1 (ID-2) and D-B4 (ID-1) were paid in November under another record; D-B3 shares D-B2's ID and ranks after it.
    expect(december.ids).toEqual(['D-B2']);
    expect(december.excluded).toEqual({ 'already paid 1 of 1 payments for this shock': 3, 'duplicate national_id': 4 });
    expect(december.totalAmount).toBe(500);
  });
});
