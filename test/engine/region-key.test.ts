import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordNamedList } from '../../src/engine/targeting/named-lists.ts';
import { approveList } from '../../src/lists/lifecycle.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { droughtRule, ingestDroughtEpisode } from '../support/drought-event.ts';
import { insertHouseholds } from '../support/households.ts';
import { generateCycle } from '../support/list-cycle.ts';
import { loadOracleWorld } from '../support/oracle-world.ts';
import { regionKeyViolations, tracing } from '../support/region-key.ts';
import { approveRuleText } from '../support/rules.ts';
import { runScenario } from '../lists/oracle/engine-run.ts';
import { FC_SEED } from '../lists/oracle/property.ts';
import { areaScenarioArb, footprintScenarioArb } from '../lists/oracle/scenario.ts';

/**
 * docs/scaling.md §4: on Citus, a join or correlated predicate between two tables at household
 * grain runs on one node only when it is on the region (the distribution column). The statements
 * generation runs are traced, parsed with PostgreSQL's parser, and every one that relates two
 * such relations must also equate their regions.
 */
describe('the region-key check itself', () => {
  it('flags a join or correlated predicate on the household alone, and passes one with the region', async () => {
    const flagged = [
      `SELECT 1 FROM households h JOIN enrolments e ON e.household_id = h.id`,
      `SELECT 1 FROM households h WHERE EXISTS (SELECT 1 FROM payment_list_entries oe WHERE oe.household_id = h.id AND oe.list_id = 3)`,
      `WITH hh AS (SELECT h.* FROM households h) SELECT 1 FROM hh h WHERE EXISTS (SELECT 1 FROM enrolments e WHERE e.household_id = h.id)`,
      `UPDATE list_matched m SET excluded = 'x' FROM list_decided d WHERE d.household_id = m.household_id`,
      `SELECT 1 FROM payment_list_entries e, households x WHERE x.id = e.household_id AND x.region = e.admin_pcode`,
    ];
    for (const text of flagged) expect(await regionKeyViolations(text), text).not.toEqual([]);
    const passing = [
      `SELECT 1 FROM households h JOIN enrolments e ON e.household_id = h.id AND e.region = h.region`,
      `SELECT 1 FROM households h WHERE EXISTS (SELECT 1 FROM payment_list_entries oe WHERE oe.household_id = h.id AND h.region = oe.region AND oe.list_id = 3)`,
      `WITH hh AS (SELECT h.* FROM households h) SELECT 1 FROM hh h WHERE EXISTS (SELECT 1 FROM enrolments e WHERE e.household_id = h.id AND e.region = h.region)`,
      // Reference tables and constants beside a distributed table are local on every node.
      `SELECT 1 FROM households h JOIN admin_area_ancestors x ON x.pcode = h.admin_pcode JOIN activations a ON a.id = 1`,
      `SELECT 1 FROM payment_list_entries e JOIN payment_lists l ON l.id = e.list_id WHERE l.status = 'approved'`,
    ];
    for (const text of passing) expect(await regionKeyViolations(text), text).toEqual([]);
  });
});

describe('generation joins household-grain tables only on the region', () => {
  let t: TestDatabase;
  let oracle: TestDatabase;
  const statements = new Set<string>();
  beforeAll(async () => {
    t = await createTestDatabase();
    await loadDemoAreas(t.store);
    oracle = await createTestDatabase();
    await loadOracleWorld(oracle.store);
  });
  afterAll(async () => {
    await t?.drop();
    await oracle?.drop();
  });

  it('with dedupe, overlaps with another rule and a named list, earlier payments of the shock and a budget that cuts', async () => {
    const store = tracing(t.store, statements);
    const nid = (value: string) => ({ national_id: value });
    await insertHouseholds(t.store, [
      { id: 'R-1', pcode: 'XD02001', pmt: 10, location: [40.2, 3.3], attributes: nid('ID-1'), enrolments: [['CT', 'active']] },
      { id: 'R-2', pcode: 'XD02001', pmt: 20, location: [40.3, 3.4], attributes: nid('ID-2') },
      { id: 'R-3', pcode: 'XD02002', pmt: 30, location: [40.9, 3.3], attributes: nid('id-1'), enrolments: [['CT', 'active']] },
      { id: 'R-4', pcode: 'XD02002', pmt: 40, location: [41.0, 3.5], attributes: nid('ID-4') },
      { id: 'R-5', pcode: 'XD02002', pmt: 50, location: [41.1, 3.6], attributes: nid('ID-5') },
    ]);
    await ingestDroughtEpisode(t.store, { eventId: 9900901, episode: 1, box: [40.05, 3.05, 41.3, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
    const response = (extra = '') => `  - mode: horizontal
    households:
      priority: [{ field: pmt_score, order: ascending }]
      dedupe_by: { attribute: national_id }${extra}
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 500, currency: KES }
    payments: { frequency: monthly, count: while_triggered, max_count: 3, start: { days_after_activation: 3 } }`;
    const other = await approveRuleText(t.store, droughtRule('region-key-other', 'XD02', response(), `budget:
  envelope: { amount: 100000, currency: KES, per: shock }
  over_budget: [stop_when_exhausted]`));
    await recordNamedList(store, { name: 'agency list', cycle: '2026-11', source: 'agency X', registryIds: ['R-4'] }, 'coordinator@test');
    await recordNamedList(store, { name: 'agency list', cycle: '2026-12', source: 'agency X', registryIds: ['R-4'] }, 'coordinator@test');
    const rule = await approveRuleText(t.store, droughtRule('region-key-rule', 'XD02', response(`
      eligibility: { enrolled_in: [CT] }`), `budget:
  envelope: { amount: 700, currency: KES, per: shock }
  over_budget: [stop_when_exhausted]`, `overlap:
  - { with: { rule: region-key-other }, policy: exclusive, scope: same_period }
  - { with: { list: agency list }, policy: exclusive }`));
    const first = await generateCycle(store, rule, '2026-11-21T00:00:00Z', '2026-11');
    // are one family (ID-1): the better ranked is listed, for 500 of the 700.
    expect(first.ids).toEqual(['R-1']);
    await approveList(t.store, first.id, 'checker@test', first);
    await generateCycle(store, other, '2026-11-21T00:00:00Z', '2026-11');
    // The next cycle reads the payment already given for the shock (the other rule's list is of the
    // cycle before), and cuts what is left of the envelope (200) cannot pay.
    const second = await generateCycle(store, rule, '2026-12-21T00:00:00Z', '2026-12');
    expect(second.ids).toEqual([]);
    expect([...statements].some((s) => /CREATE TEMP TABLE list_decided/.test(s))).toBe(true);
    expect([...statements].some((s) => /list_identifiers/.test(s))).toBe(true);
    await expectNoViolations(statements);
  });

  it('over generated area and footprint scenarios (the oracle suites\' generators)', async () => {
    const seen = new Set<string>();
    const store = tracing(oracle.store, seen);
    const scenarios = [
      ...fc.sample(areaScenarioArb, { seed: FC_SEED, numRuns: 20 }),
      ...fc.sample(footprintScenarioArb, { seed: FC_SEED, numRuns: 20 }),
    ];
    for (const scenario of scenarios) await runScenario(store, scenario, 'region-key');
    expect([...seen].some((s) => /INSERT INTO payment_list_entries/.test(s))).toBe(true);
    await expectNoViolations(seen);
  }, 10 * 60_000);

  async function expectNoViolations(traced: Set<string>): Promise<void> {
    const violations: string[] = [];
    for (const text of traced) violations.push(...(await regionKeyViolations(text)));
    expect(violations).toEqual([]);
    expect(traced.size).toBeGreaterThan(10);
  }
});
