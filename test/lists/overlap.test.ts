import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNamedLists, recordNamedList } from '../../src/engine/targeting/named-lists.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { droughtRule, ingestDroughtEpisode } from '../support/drought-event.ts';
import { insertHouseholds } from '../support/households.ts';
import { generateCycle } from '../support/list-cycle.ts';
import { approveRuleText } from '../support/rules.ts';

/**
 * Overlap with a named list (another agency's list, recorded here) and with another rule, for the
 * same shock or the same cycle. One drought (gdacs:DR9900831) over Northaven Acacia, four households.
 */
const LIVELIHOOD = 'livelihood assistance from other agencies for this disaster';
const SHOCK = 'gdacs:DR9900831';
const ASOF = '2026-11-21T00:00:00Z';

const oneOff = `  - mode: horizontal
    households: { priority: [{ field: pmt_score, order: ascending }] }
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 1000, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 3 } }`;
const budget = `budget:
  envelope: { amount: 100000, currency: KES, per: shock }
  over_budget: [stop_when_exhausted]`;
const exclusiveWith = (what: string, scope: string) => `overlap:\n  - { with: { ${what} }, policy: exclusive, scope: ${scope} }`;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, [
    { id: 'A1', pcode: 'XD01001', pmt: 10, location: [38.2, 3.3] },
    { id: 'A2', pcode: 'XD01001', pmt: 20, location: [38.3, 3.4] },
    { id: 'A3', pcode: 'XD01001', pmt: 30, location: [38.4, 3.5] },
    { id: 'A4', pcode: 'XD01001', pmt: 40, location: [38.5, 3.6] },
  ]);
  await ingestDroughtEpisode(t.store, { eventId: 9900831, episode: 1, box: [38.05, 3.05, 38.6, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
});
afterAll(() => t?.drop());


describe('exclusive with a named list', () => {
  it('for the same shock: refused until the list is recorded for this shock, then its households are left out and the list checked is named', async () => {
    const ruleId = await approveRuleText(t.store, droughtRule('test-named-shock', 'XD01', oneOff, budget, exclusiveWith(`list: ${LIVELIHOOD}`, 'same_shock')));
    await expect(generateCycle(t.store, ruleId, ASOF, '2026-11')).rejects.toThrow(`test-named-shock is exclusive with the list "${LIVELIHOOD}" for the same shock, and none is recorded for shock ${SHOCK}`);
    // A shock the engine does not know is a typo: refused.
    await expect(recordNamedList(t.store, { name: LIVELIHOOD, shockKey: 'gdacs:DR1', source: 'agency X', registryIds: ['A1'] }, 'coordinator@test'))
      .rejects.toThrow('list "livelihood assistance from other agencies for this disaster": no activation has the shock gdacs:DR1');
    const recorded = await recordNamedList(t.store, { name: LIVELIHOOD, shockKey: SHOCK, source: 'agency Y, letter 12', registryIds: ['A3', 'A2', 'A2 '] }, 'coordinator@test');
    expect(recorded).toMatchObject({ households: 2, shockKey: SHOCK, contentSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });

    const list = await generateCycle(t.store, ruleId, ASOF, '2026-11');
    expect(list.ids).toEqual(['A1', 'A4']);
    expect(list.excluded).toEqual({ [`on the list "${LIVELIHOOD}" for this shock`]: 2 });
    expect(list.totalAmount).toBe(2000);
    const evidence = `exclusive with the list "${LIVELIHOOD}": checked against named list ${recorded.id} (${SHOCK}, 2 households, sha256 ${recorded.contentSha256.slice(0, 12)}…)`;
    expect(list.notes).toContain(evidence);
    // The audit record of the generation keeps what the list was checked against.
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ notes: string[] }>(`SELECT details -> 'notes' AS notes FROM audit_log WHERE action = 'list.generated' AND subject = $1`, [`list:${list.id}`]),
    );
    expect(rows[0].notes).toContain(evidence);
  });

  it('for the same period: the list recorded for the cycle counts, not one of another cycle', async () => {
    await recordNamedList(t.store, { name: 'food vouchers', cycle: '2026-10', source: 'agency Z', registryIds: ['A1'] }, 'coordinator@test');
    await recordNamedList(t.store, { name: 'food vouchers', cycle: '2026-11', source: 'agency Z', registryIds: ['A4'] }, 'coordinator@test');
    const ruleId = await approveRuleText(t.store, droughtRule('test-named-period', 'XD01', oneOff, budget, exclusiveWith('list: food vouchers', 'same_period')));
    const list = await generateCycle(t.store, ruleId, ASOF, '2026-11');
    expect(list.ids).toEqual(['A1', 'A2', 'A3']);
    expect(list.excluded).toEqual({ 'on the list "food vouchers" this cycle': 1 });
    expect((await listNamedLists(t.store)).filter((n) => n.name === 'food vouchers').map((n) => [n.cycle, n.households, n.source, n.recordedBy]))
      .toEqual([['2026-11', 1, 'agency Z', 'coordinator@test'], ['2026-10', 1, 'agency Z', 'coordinator@test']]);
  });

  it('an empty named list says nobody was assisted: the overlap is checked and nobody is left out', async () => {
    await recordNamedList(t.store, { name: 'cash for work', cycle: '2026-11', source: 'agency W: nobody assisted', registryIds: [] }, 'coordinator@test');
    const ruleId = await approveRuleText(t.store, droughtRule('test-named-empty', 'XD01', oneOff, budget, exclusiveWith('list: cash for work', 'same_period')));
    const list = await generateCycle(t.store, ruleId, ASOF, '2026-11');
    expect(list.ids).toEqual(['A1', 'A2', 'A3', 'A4']);
    expect(list.excluded).toEqual({});
  });

  it('an additive overlap leaves everyone in; a list with unknown registry ids is refused whole', async () => {
    const ruleId = await approveRuleText(t.store, droughtRule('test-named-additive', 'XD01', oneOff, budget, `overlap:\n  - { with: { list: ${LIVELIHOOD} }, policy: additive, scope: same_shock }`));
    const list = await generateCycle(t.store, ruleId, ASOF, '2026-11');
    expect(list.ids).toEqual(['A1', 'A2', 'A3', 'A4']);
    await expect(recordNamedList(t.store, { name: 'x', cycle: '2026-11', source: 'agency', registryIds: ['A1', 'NOPE-1', 'NOPE-2'] }, 'coordinator@test'))
      .rejects.toThrow('list "x": 2 registry id(s) not in the registry: NOPE-1, NOPE-2; nothing was recorded');
    await expect(recordNamedList(t.store, { name: 'x', source: 'agency', registryIds: ['A1'] }, 'coordinator@test')).rejects.toThrow(/say which shock/);
  });
});

describe('exclusive with another rule for the same shock', () => {
  it("a household on the other rule's list in November is left out in December; with same_period it would not be", async () => {
    const base = await approveRuleText(t.store, droughtRule('test-base', 'XD01', oneOff, budget));
    expect((await generateCycle(t.store, base, ASOF, '2026-11')).ids).toEqual(['A1', 'A2', 'A3', 'A4']);
    const shock = await approveRuleText(t.store, droughtRule('test-after-shock', 'XD01', oneOff, budget, exclusiveWith('rule: test-base', 'same_shock')));
    const december = await generateCycle(t.store, shock, ASOF, '2026-12');
    expect(december.ids).toEqual([]);
    expect(december.excluded).toEqual({ 'already on a list of test-base for this shock': 4 });
    const period = await approveRuleText(t.store, droughtRule('test-after-period', 'XD01', oneOff, budget, exclusiveWith('rule: test-base', 'same_period')));
    expect((await generateCycle(t.store, period, ASOF, '2026-12')).ids).toEqual(['A1', 'A2', 'A3', 'A4']);
  });
});
