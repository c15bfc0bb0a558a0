import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRules, type LoadedRule } from '../../src/rules/load.ts';
import type { IndicatorCondition, Rule, TriggerCondition } from '../../src/rules/schema.ts';

// The fifteen rules of shock-response-practice.md §6, one file each, with their real parameters, and
// further examples of forms the fifteen do not use (forecast issues by month, end of season), each
// citing the section of shock-response-practice.md it comes from.

const EXAMPLES = path.resolve(import.meta.dirname, '../../rules/examples');

let loaded: LoadedRule[];
const byId = new Map<string, Rule>();

beforeAll(async () => {
  const result = await loadRules(EXAMPLES);
  expect(result.problems).toEqual([]);
  loaded = result.rules;
  for (const { rule } of loaded) byId.set(rule.id, rule);
});

const rule = (id: string): Rule => {
  const found = byId.get(id);
  if (!found) throw new Error(`no example ${id}`);
  return found;
};

/** Every node of a trigger tree, depth first. */
function nodes(condition: TriggerCondition | undefined): TriggerCondition[] {
  if (!condition) return [];
  const children =
    'all' in condition ? condition.all : 'any' in condition ? condition.any : 'not' in condition ? [condition.not] : 'k_of_n' in condition ? condition.k_of_n.of : [];
  return [condition, ...children.flatMap(nodes)];
}

const indicators = (condition: TriggerCondition | undefined): IndicatorCondition[] =>
  nodes(condition).flatMap((node) => ('indicator' in node ? [node.indicator] : []));

const activation = (r: Rule) => r.stages.activation.when;

describe('the fifteen examples of §6', () => {
  it('all validate, one rule per file named after its id, fifteen citing their §6 rule and the others their section', async () => {
    expect(loaded).toHaveLength(19);
    const cited: number[] = [];
    const further: string[] = [];
    for (const { file, rule: r, hash } of loaded) {
      expect(path.basename(file)).toBe(`${r.id}.yaml`);
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      const text = await readFile(file, 'utf8');
      const match = /shock-response-practice\.md §6 rule (\d+)/.exec(text);
      if (match) cited.push(Number(match[1]));
      else {
        expect(text, `${file} cites the section it comes from`).toMatch(/shock-response-practice\.md §\d+\.\d+/);
        further.push(r.id);
      }
      expect(text.startsWith('#'), `${file} starts with a comment header`).toBe(true);
    }
    expect(cited.sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(further.sort()).toEqual(['mz-drought-aa-issue-months', 'ne-wrsi-end-of-season', 'pk-bisp-8171-intake', 'pk-bisp-flood-relief']);
  });

  it('the rules folder loads with the examples and nothing else breaks (README is not a rule)', async () => {
    const result = await loadRules(path.resolve(EXAMPLES, '..'));
    expect(result.problems).toEqual([]);
    expect(result.rules.map((r) => r.rule.id)).toEqual(expect.arrayContaining([...byId.keys()]));
  });

  it('1 HSNP severe: 10 ≤ VCI-3M < 20 per sub-county → 50 % of registered households in total, Group 1 excluded, KES 2,700 monthly while triggered', () => {
    const r = rule('ke-hsnp-vci-severe');
    expect(r.areas.admin_level).toBe(2);
    expect(r.areas.within).toHaveLength(8);
    const [vci] = indicators(activation(r));
    expect(vci).toMatchObject({ name: 'vci3m', source: 'NDMA', spatial_unit: { admin_level: 2 }, band_edges: 'min_inclusive', triggering_bands: ['severe'] });
    expect(vci.bands).toContainEqual({ name: 'severe', min: 10, max: 20 });
    expect(vci.bands).toContainEqual({ name: 'extreme', max: 10 });
    const [component] = r.response;
    expect(component.mode).toBe('horizontal');
    expect(component.coverage).toMatchObject({ kind: 'share', percent: 50, of: 'registered_households', basis: 'total' });
    expect(component.households.exclude?.current_beneficiaries_of).toEqual(['HSNP']);
    expect(component.households.frozen_list).toBe(true);
    expect(component.households.priority).toEqual([{ field: 'pmt_score', order: 'ascending' }]);
    expect(component.benefit).toEqual({ kind: 'flat', amount: 2700, currency: 'KES' });
    expect(component.payments).toMatchObject({ frequency: 'monthly', count: 'while_triggered' });
    expect(r.overlap).toContainEqual(expect.objectContaining({ with: { programme: 'HSNP' }, policy: 'exclusive' }));
  });

  it('2 HSNP extreme: VCI-3M < 10 → 75 % of registered households in total, capped at 75 %', () => {
    const r = rule('ke-hsnp-vci-extreme');
    const [vci] = indicators(activation(r));
    expect(vci.triggering_bands).toEqual(['extreme']);
    expect(vci.bands?.find((b) => b.name === 'extreme')).toEqual({ name: 'extreme', max: 10 });
    const [component] = r.response;
    expect(component.coverage).toMatchObject({ kind: 'share', percent: 75, basis: 'total' });
    expect(component.caps?.per_area?.percent_of_registered).toBe(75);
    expect(component.households.exclude?.current_beneficiaries_of).toEqual(['HSNP']);
    expect(r.tiers).toEqual([expect.objectContaining({ id: 'extreme', severity: 2 })]);
  });

  it('3 HSNP scale-down: VCI-3M ≥ 20 stops payments, the ranked list is kept; extreme areas funded first, then severe pro rata by caseload', () => {
    const r = rule('ke-hsnp-vci-scale-down');
    expect(r.scale_down).toMatchObject({ effect: 'stop_payments', keep_ranked_list: true });
    expect(indicators(r.scale_down?.when)[0].threshold).toEqual({ op: 'gte', value: 20 });
    expect(r.response[0].households.frozen_list).toBe(true);
    expect(r.response[0].coverage).toMatchObject({ percent: { by_tier: { severe: 50, extreme: 75 } } });
    expect(r.budget).toMatchObject({
      over_budget: ['fund_most_severe_first', 'reduce_caseload_pro_rata'],
      pro_rata_by: 'registered_households',
      allow_value_reduction: false,
    });
    expect(r.tiers?.map((t) => [t.id, t.severity])).toEqual([['severe', 1], ['extreme', 2]]);
  });

  it('4 HSNP exclusivity: Group 1 excluded, no valid ID or active account → grievance queue', () => {
    const r = rule('ke-hsnp-exclusivity');
    const households = r.response[0].households;
    expect(households.exclude?.current_beneficiaries_of).toEqual(['HSNP']);
    expect(households.requirements?.map((q) => q.otherwise)).toEqual(['grievance_queue', 'grievance_queue']);
    expect(JSON.stringify(households.requirements)).toContain('payment_account');
  });

  it('5 PSNP: LEAP transitory need per woreda → up to 3 extra months for clients (vertical) and transitory households (horizontal); woreda contingency first, then federal/RFM', () => {
    const r = rule('et-psnp-leap-transitory');
    expect(r.areas.admin_level).toBe(3);
    expect(indicators(activation(r))[0]).toMatchObject({ name: 'leap_transitory_needs_people', threshold: { op: 'gt', value: 0 } });
    const [clients, transitory] = r.response;
    expect(clients).toMatchObject({ mode: 'vertical', households: { eligibility: { enrolled_in: ['PSNP'] } } });
    expect(clients.payments).toMatchObject({ count: 'while_triggered', max_count: 3 });
    expect(transitory.mode).toBe('horizontal');
    expect(r.budget?.sources?.map((s) => s.name)).toEqual(['woreda contingency budget', 'regional/federal contingency budget', 'Risk Financing Mechanism (RFM)']);
  });

  it('6 Mauritania: CH projected Phase 3+ per commune → adaptive quota, 450 MRU per member per month, June–September', () => {
    const r = rule('mr-elmaouna-lean-season');
    expect(indicators(activation(r))[0]).toMatchObject({ name: 'ch_phase', status: 'forecast', threshold: { op: 'gte', value: 3 } });
    const [component] = r.response;
    expect(component.coverage).toMatchObject({ kind: 'from_indicator', as: 'households' });
    expect(component.benefit).toMatchObject({ kind: 'per_member', amount: 450, currency: 'MRU', count_of: 'size' });
    expect(component.payments).toMatchObject({ frequency: 'monthly', count: 4, start: { next_month: 6 } });
  });

  it('7 Philippines ECT: calamity declaration AND markets AND PDANA → 75 % of the regional daily minimum wage × 30 days, other agencies\' livelihood aid excluded', () => {
    const r = rule('ph-dswd-ect');
    const kinds = nodes(activation(r)).flatMap((n) => ('gate' in n ? [n.gate.kind] : 'declaration' in n ? n.declaration.kinds : []));
    expect(kinds).toEqual(['state_of_calamity', 'market_check', 'assessment']);
    expect('all' in activation(r)).toBe(true);
    const [component] = r.response;
    expect(component.benefit).toMatchObject({ kind: 'share_of_reference', percent: 75, currency: 'PHP', times: { count: 30, unit: 'days' } });
    expect(component.households.exclude?.when).toBeDefined();
    expect(r.overlap?.[0]).toMatchObject({ policy: 'exclusive', scope: 'same_shock' });
  });

  it('8 Philippines damage tiers: PHP 10,000 totally damaged, PHP 5,000 partially damaged', () => {
    const benefit = rule('ph-esa-damage-tiers').response[0].benefit;
    expect(benefit).toEqual({ kind: 'by_class', attribute: 'house_damage', currency: 'PHP', amounts: { totally_damaged: 10000, partially_damaged: 5000 } });
  });

  it('9 4Ps: conditions waived for 2 cycles; WFP top-up PHP 1,300 in two tranches in the worst-hit municipalities, pseudonymised list', () => {
    const r = rule('ph-4ps-calamity-wfp-topup');
    const [tweak, topUp] = r.response;
    expect(tweak).toMatchObject({ mode: 'design_tweak', tweak: { kind: 'waive_conditions', cycles: 2 }, benefit: { kind: 'none' } });
    expect(topUp).toMatchObject({ mode: 'piggyback', tiers: ['worst_hit'], partner: { name: 'WFP' }, benefit: { kind: 'flat', amount: 1300, currency: 'PHP' } });
    expect(topUp.payments?.count).toBe(2);
    expect(r.data_sharing?.recipients[0]).toMatchObject({ name: 'WFP', pseudonymise: true, expires_after_days: 90 });
    expect(r.data_sharing?.recipients[0].fields).not.toContain('name');
    expect(r.data_sharing?.aggregates?.suppress_below_households).toBe(5);
  });

  it('10 Malawi: flood declaration → one-off MK 18,000 food-basket top-up for every SCTP household, additive with the lean-season list', () => {
    const r = rule('mw-sctp-flood-topup');
    const [component] = r.response;
    expect(component).toMatchObject({ mode: 'vertical', households: { eligibility: { enrolled_in: ['SCTP'] } } });
    expect(component.benefit).toMatchObject({ kind: 'share_of_reference', percent: 100, currency: 'MWK', reference: { amount: 18000 } });
    expect(component.payments).toMatchObject({ frequency: 'once', count: 1 });
    expect(r.overlap?.[0]).toMatchObject({ policy: 'additive' });
  });

  it('11 Malawi lean season: ≥ 10 % of the population projected in IPC Phase 3+ includes the district', () => {
    const r = rule('mw-lean-season-ipc');
    expect(indicators(activation(r))[0]).toMatchObject({ name: 'ipc_p3plus_percent', spatial_unit: { admin_level: 2 }, status: 'forecast', threshold: { op: 'gte', value: 10 } });
  });

  it('12 Dominica: PAP and foster families topped up, categorical households enrolled after village-council confirmation; EC$240 + per child up to EC$645 for 3 months', () => {
    const r = rule('dm-hurricane-ect');
    const [vertical, horizontal] = r.response;
    expect(vertical.mode).toBe('vertical');
    expect(horizontal.mode).toBe('horizontal');
    for (const component of [vertical, horizontal]) {
      expect(component.benefit).toMatchObject({ kind: 'per_member', base: 240, max_amount: 645, currency: 'XCD', count_of: { attribute: 'children' } });
      expect(component.payments).toMatchObject({ frequency: 'monthly', count: 3 });
    }
    expect(horizontal.households.requirements?.[0]).toMatchObject({ otherwise: 'hold' });
    expect(horizontal.households.intake).toMatchObject({ channel: 'village council committees' });
  });

  it('13 Mexico: emergency declaration → next bimonthly payment advanced within 7 days, no change in amount, no budget needed', () => {
    const r = rule('mx-prospera-advance');
    expect(r.response[0]).toMatchObject({ mode: 'design_tweak', tweak: { kind: 'advance_next_payment', within_days: 7 }, benefit: { kind: 'none' } });
    expect(r.budget).toBeUndefined();
  });

  it('14 Nigeria: GloFAS ≥ 3,132 m³/s at Wuroboki within 5 days OR Flood Hub ≥ 1,195 m³/s at Kangli, seven Adamawa LGAs, 1-in-4.5 years', () => {
    const r = rule('ng-benue-flood-aa');
    expect('any' in activation(r)).toBe(true);
    const [glofas, floodHub] = indicators(activation(r));
    expect(glofas).toMatchObject({ spatial_unit: { station: 'G5004', name: 'Wuroboki' }, forecast: { max_lead_days: 5 }, threshold: { op: 'gte', value: 3132 }, unit: 'm3/s' });
    expect(floodHub).toMatchObject({ spatial_unit: { name: 'Kangli' }, threshold: { op: 'gte', value: 1195 } });
    expect(floodHub.forecast).toBeUndefined(); // any lead time
    expect(r.areas.within).toHaveLength(7);
    expect(r.backtest?.return_period_years).toBe(4.5);
  });

  it('15 Mozambique: official alert AND (wind ≥ 120 km/h OR ≥ 100 km/h with expert consensus) at 72 h, 120 km from landfall; cancel before notification', () => {
    const r = rule('mz-cyclone-cvm-aa');
    const all = nodes(activation(r));
    const events = all.flatMap((n) => ('event' in n ? [n.event] : []));
    expect(events.map((e) => e.intensity?.value)).toEqual([120, 100]);
    expect(events.every((e) => e.buffer_km === 120 && e.forecast?.max_lead_hours === 72 && e.intensity?.unit === 'km/h')).toBe(true);
    expect(all.flatMap((n) => ('gate' in n ? [n.gate.kind] : []))).toEqual(['official_alert', 'expert_consensus']);
    expect(r.stop).toEqual([expect.objectContaining({ effect: 'cancel', only_before: 'first_notification' })]);
  });
});
