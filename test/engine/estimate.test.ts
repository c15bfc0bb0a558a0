import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEstimate, estimateCost } from '../../src/engine/estimate.ts';
import { loadRules } from '../../src/rules/load.ts';
import { ruleSchema, type Rule, type RuleInput } from '../../src/rules/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { projectRoot } from '../support/paths.ts';
import { insertHouseholds, type TestHousehold } from '../support/households.ts';


// District XD01001: H01 (poorest) … H10; XD01002 (also in region XD01): K1 … K4; XD02001: M1, M2.
const HOUSEHOLDS: TestHousehold[] = [
  { id: 'H01', pcode: 'XD01001', pmt: 10, size: 3, account: '0700', attributes: { damage: 'total', children: '2' }, enrolments: [['CT', 'active']] },
  { id: 'H02', pcode: 'XD01001', pmt: 20, size: 1, account: '0700', attributes: { damage: 'partial', children: '0' }, enrolments: [['CT', 'active']] },
  { id: 'H03', pcode: 'XD01001', pmt: 30, size: 4, account: '0700', attributes: { damage: 'minor', children: '3' } },
  { id: 'H04', pcode: 'XD01001', pmt: 40, size: 1, account: null, attributes: { children: '1' } },
  { id: 'H05', pcode: 'XD01001', pmt: 50, size: 5, account: '0700', attributes: { children: 'two' } },
  { id: 'H06', pcode: 'XD01001', pmt: 60, size: 9, account: '0700', attributes: { children: '4' } },
  { id: 'H07', pcode: 'XD01001', pmt: 70, size: 2, account: '0700', attributes: { children: '1' } },
  { id: 'H08', pcode: 'XD01001', pmt: 80, size: 6, account: '0700', attributes: { children: '2' } },
  { id: 'H09', pcode: 'XD01001', pmt: 90, size: 5, account: '0700' },
  { id: 'H10', pcode: 'XD01001', pmt: 100, size: 3, account: '0700', attributes: { children: '5' }, enrolments: [['OPG', 'active']] },
  { id: 'K1', pcode: 'XD01002', pmt: 5, size: 2 },
  { id: 'K2', pcode: 'XD01002', pmt: 15, size: 3 },
  { id: 'K3', pcode: 'XD01002', pmt: 25, size: 4, enrolments: [['CT', 'suspended']] },
  { id: 'K4', pcode: 'XD01002', pmt: null, size: null },
  { id: 'M1', pcode: 'XD02001', pmt: 1, size: 2, enrolments: [['CT', 'active']] },
  { id: 'M2', pcode: 'XD02001', pmt: 2, size: 1 },
];

let t: TestDatabase;
let base: Rule;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, HOUSEHOLDS);
  const { rules } = await loadRules(path.join(projectRoot, 'rules/demo/xd-ct-vci-drought.yaml'));
  base = rules[0].rule;
});
afterAll(() => t?.drop());

/** The demo rule with another response and budget. */
const withResponse = (response: RuleInput['response'], budget?: RuleInput['budget']): Rule =>
  ruleSchema.parse({ ...base, response, budget });

const monthly = { frequency: 'monthly', count: 'while_triggered', start: { days_after_activation: 28 } } as const;

describe('estimating the cost of a response', () => {
  it('horizontal: share of registered by tier, basis total, per-area cap, priority order, per-member amounts', async () => {
    const rule = withResponse(
      [
        {
          mode: 'horizontal',
          households: { exclude: { current_beneficiaries_of: ['CT'] }, priority: [{ field: 'pmt_score', order: 'ascending' }] },
          coverage: { kind: 'share', percent: { by_tier: { severe: 50, extreme: 75 } }, of: 'registered_households', basis: 'total', counting_beneficiaries_of: ['CT'] },
          caps: { per_area: { percent_of_registered: 60 } },
          benefit: { kind: 'per_member', base: 50, amount: 10, max_members: 6, currency: 'KES' },
          payments: monthly,
        },
      ],
      { envelope: { amount: 500, currency: 'KES', per: 'cycle' }, over_budget: ['reduce_caseload_pro_rata'] },
    );
    const estimate = await estimateCost(t.store, rule, [
      { pcode: 'XD01001', tier: 'extreme' },
      { pcode: 'XD01002', tier: 'severe' },
      { pcode: 'XD02001', tier: 'moderate' },
    ]);
    // XD01001: 75 % of 10 = 7, less 2 on CT = 5; the cap 60 % of 10 = 6, less 2 = 4: H03 90, H04 60, H05 100, H06 110 (6 members at most).
    // XD01002: 50 % of 4 = 2 (K3's suspended CT enrolment neither counts nor excludes): K1 70, K2 80.
    // XD02001: no coverage for tier moderate.
    // 510 > 500: the caseload is cut pro rata to registered households, 500 × 10/14 = 357.14 for
    // XD01001 (H06, the last by priority, is cut) and 500 × 4/14 = 142.86 for XD01002 (K2 is cut).
    expect(estimate.areas).toEqual([
      { pcode: 'XD01001', tier: 'extreme', registered: 10, households: 3, amountPerPayment: 250, cost: 250, notes: [] },
      { pcode: 'XD01002', tier: 'severe', registered: 4, households: 1, amountPerPayment: 70, cost: 70, notes: [] },
      { pcode: 'XD02001', tier: 'moderate', registered: 2, households: 0, amountPerPayment: 0, cost: 0, notes: [] },
    ]);
    expect(estimate).toMatchObject({ currency: 'KES', payments: 'while_triggered', households: 4, costPerPayment: 320, cost: 320, overBudget: 190 });
    expect(estimate.envelope).toEqual({ amount: 500, currency: 'KES', per: 'cycle' });
    expect(estimate.leftOut).toMatchObject({ 'over budget': 2, 'current beneficiary of CT': 3 }); // H01, H02 and M1
    expect(estimate.notes.filter((n) => /cut: caseload reduced pro rata/.test(n))).toEqual([
      'XD01001: 1 household(s), 110 cut: caseload reduced pro rata: the lowest-priority households of the area were cut',
      'XD01002: 1 household(s), 80 cut: caseload reduced pro rata: the lowest-priority households of the area were cut',
    ]);
  });

  it('vertical: active enrolees of the programme in the area and every area below it, share of base, a number of payments', async () => {
    const rule = withResponse(
      [{ mode: 'vertical', households: {}, benefit: { kind: 'share_of_base', percent: 50, currency: 'KES' }, payments: { frequency: 'monthly', count: 3, start: {} } }],
      { envelope: { amount: 10_000, currency: 'KES', per: 'shock' }, over_budget: ['reduce_caseload_pro_rata'] },
    );
    const estimate = await estimateCost(t.store, rule, [
      { pcode: 'XD01', tier: null },
      { pcode: 'XD02001', tier: null },
    ]);
    // CT's base is 2700: 1350 a payment each for H01, H02 (region XD01) and M1; K3 is suspended.
    // 3 payments: 12,150 > 10,000, cut pro rata to registered households: XD01 gets 10,000 × 14/16
    // = 8,750 (H01 and H02, 8,100, fit), XD02001 10,000 × 2/16 = 1,250 (M1's 4,050 does not).
    expect(estimate.areas.map((a) => [a.pcode, a.registered, a.households, a.amountPerPayment, a.cost])).toEqual([
      ['XD01', 14, 2, 2700, 8100],
      ['XD02001', 2, 0, 0, 0],
    ]);
    expect(estimate).toMatchObject({ payments: 3, households: 2, costPerPayment: 2700, cost: 8100, overBudget: 4050 });
  });

  it('by_class, by_tier, component tiers and design tweaks; components with different payments add up their own', async () => {
    const rule = withResponse([
      { mode: 'design_tweak', households: { eligibility: { enrolled_in: ['CT'] } }, tweak: { kind: 'waive_conditions', cycles: 1 }, benefit: { kind: 'none' } },
      {
        name: 'damage',
        mode: 'horizontal',
        tiers: ['extreme'],
        households: { eligibility: { attribute: 'damage', op: 'exists' } },
        coverage: { kind: 'all_eligible' },
        benefit: { kind: 'by_class', attribute: 'damage', currency: 'PHP', amounts: { total: 1000, partial: 500 } },
        payments: { frequency: 'once', count: 1, start: {} },
      },
      {
        name: 'top_up',
        mode: 'horizontal',
        households: { priority: [{ field: 'pmt_score', order: 'ascending' }] },
        coverage: { kind: 'households', count: { by_tier: { severe: 1 } }, basis: 'additional' },
        benefit: { kind: 'by_tier', currency: 'PHP', amounts: { severe: 300 } },
        payments: { frequency: 'monthly', count: 2, start: {} },
      },
    ]);
    const estimate = await estimateCost(t.store, rule, [
      { pcode: 'XD01001', tier: 'extreme' },
      { pcode: 'XD01002', tier: 'severe' },
    ]);
    // damage (XD01001 only): H01 1000 + H02 500; H03 'minor' has no amount and is left out, as on the list.
    // top_up: K1 300 × 2 payments in XD01002; the extreme area is not covered by its tiers.
    expect(estimate.areas).toEqual([
      { pcode: 'XD01001', tier: 'extreme', registered: 10, households: 2, amountPerPayment: 1500, cost: 1500, notes: [] },
      { pcode: 'XD01002', tier: 'severe', registered: 4, households: 1, amountPerPayment: 300, cost: 600, notes: [] },
    ]);
    expect(estimate).toMatchObject({ currency: 'PHP', payments: 2, households: 3, costPerPayment: 1800, cost: 2100, envelope: null, overBudget: null });
    expect(estimate.leftOut).toMatchObject({ 'no amount: no amount for its damage': 1 });
    expect(estimate.notes).toContain('households are summed over components: one paid by two components counts twice');
  });

  it('share of eligible households, exclusions and requirements, share of a fixed reference; envelope in another currency', async () => {
    const rule = withResponse(
      [
        {
          mode: 'horizontal',
          households: {
            eligibility: { attribute: 'children', op: 'gte', value: 1 },
            exclude: { when: { field: 'size', op: 'gt', value: 5 } },
            requirements: [
              { condition: { field: 'payment_account', op: 'exists' }, otherwise: 'exclude', reason: 'no account' },
              { condition: { attribute: 'verified', op: 'eq', value: 'yes' }, otherwise: 'hold', reason: 'not verified' },
            ],
          },
          coverage: { kind: 'share', percent: 50, of: 'eligible_households', basis: 'additional' },
          benefit: { kind: 'share_of_reference', percent: 50, currency: 'USD', reference: { label: 'daily wage', amount: 200 }, times: { count: 3, unit: 'days' } },
          payments: { frequency: 'once', count: 1, start: {} },
        },
      ],
      { envelope: { amount: 1, currency: 'KES', per: 'activation' }, over_budget: ['reduce_caseload_pro_rata'] },
    );
    const estimate = await estimateCost(t.store, rule, [{ pcode: 'XD01001', tier: null }]);
    // Meeting eligibility: H01 H03 H04 H06 H07 H08 H10; H06 and H08 are too large, H04 has no
    // account, so 4 qualify (the list's "eligible": would be paid but for the target) and the
    // target is 50 % of 4 = 2: in registry_id order H01, H03 at 50 % × 200 × 3 = 300 each.
    expect(estimate.areas[0]).toMatchObject({ households: 2, amountPerPayment: 600, cost: 600 });
    expect(estimate).toMatchObject({ currency: 'USD', payments: 1, overBudget: null });
    expect(estimate.leftOut).toMatchObject({ 'excluded by the rule': 2, 'no account': 1, 'beyond the coverage target': 2 });
    expect(estimate.notes).toContain('the envelope is in KES, the benefit in USD: the budget is not applied (no conversion)');
    expect(estimate.notes).toContain('requirement "not verified": households that fail it are listed; hold is handled outside the list');
  });

  it('reports a shortfall when fewer households qualify than the target; no areas cost nothing', async () => {
    const rule = withResponse([
      {
        mode: 'horizontal',
        households: { eligibility: { field: 'pmt_score', op: 'lt', value: 20 } },
        coverage: { kind: 'households', count: 5, basis: 'additional' },
        benefit: { kind: 'flat', amount: 10, currency: 'KES' },
        payments: monthly,
      },
    ]);
    const estimate = await estimateCost(t.store, rule, [{ pcode: 'XD01001', tier: null }]);
    expect(estimate.areas[0]).toMatchObject({ households: 1, amountPerPayment: 10, notes: ['component 1: target 5 households, only 1 qualify'] });
    const nothing = await estimateCost(t.store, rule, []);
    expect(nothing).toMatchObject({ areas: [], households: 0, costPerPayment: 0, cost: 0, currency: 'KES', payments: 'while_triggered', overBudget: null });
  });

  it('describes the estimate in readable lines', async () => {
    const rule = withResponse(
      [{ mode: 'vertical', households: {}, benefit: { kind: 'flat', amount: 1234.5, currency: 'KES' }, payments: { frequency: 'monthly', count: 2, start: {} } }],
      { envelope: { amount: 2000, currency: 'KES', per: 'cycle' }, over_budget: ['fund_most_severe_first'] },
    );
    const lines = describeEstimate(await estimateCost(t.store, rule, [{ pcode: 'XD01001', tier: 'extreme' }]));
    // 2,469 a cycle > 2,000: the envelope runs out after H01 (1,234.50); H02 is cut.
    expect(lines).toEqual(
      expect.arrayContaining([
        'Cost estimate: 1 area(s), 1 households',
        '  XD01001 (extreme): 1 of 10 registered households, KES 1,234.5 per payment',
        'Per payment cycle: KES 1,234.5; payments: 2 payments',
        'Cost: KES 2,469',
        'Envelope: KES 2,000 per cycle: over: KES 1,234.5 cut (see the notes)',
        '  1 over budget',
        'Left out:',
      ]),
    );
  });
});
