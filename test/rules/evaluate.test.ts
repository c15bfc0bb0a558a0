import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HazardEventVersion } from '../../src/feeds/model.ts';
import { evaluateRule, type AreaDecision, type EvaluationInput, type IndicatorEvidence } from '../../src/rules/evaluate.ts';
import { loadRules } from '../../src/rules/load.ts';
import { ruleSchema, type IndicatorCondition, type Rule, type RuleInput } from '../../src/rules/schema.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '../../rules/examples');
const byId = new Map<string, Rule>();

beforeAll(async () => {
  const { rules, problems } = await loadRules(EXAMPLES);
  expect(problems).toEqual([]);
  for (const { rule } of rules) byId.set(rule.id, rule);
});

const example = (id: string): Rule => {
  const rule = byId.get(id);
  if (!rule) throw new Error(`no example ${id}`);
  return rule;
};

// Kenya: two HSNP counties (Turkana KE023, Marsabit KE010) and one outside (KE030), a ward below KE023001.
const AREAS: EvaluationInput['areas'] = [
  { pcode: 'KE', level: 0, parentPcode: null },
  { pcode: 'KE023', level: 1, parentPcode: 'KE' },
  { pcode: 'KE023001', level: 2, parentPcode: 'KE023' },
  { pcode: 'KE023002', level: 2, parentPcode: 'KE023' },
  { pcode: 'KE023003', level: 2, parentPcode: 'KE023' },
  { pcode: 'KE023001001', level: 3, parentPcode: 'KE023001' },
  { pcode: 'KE010', level: 1, parentPcode: 'KE' },
  { pcode: 'KE010001', level: 2, parentPcode: 'KE010' },
  { pcode: 'KE030', level: 1, parentPcode: 'KE' },
  { pcode: 'KE030001', level: 2, parentPcode: 'KE030' },
];

type Value = EvaluationInput['indicators'][number];

const lastDay = (month: string): string => {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
};

/** A monthly VCI-3M value as NDMA publishes it: known on the 5th of the next month unless told. */
function vci(pcode: string, month: string, value: number, options: { knownAt?: string; status?: 'final' | 'forecast'; indicator?: string; source?: string } = {}): Value {
  const end = lastDay(month);
  const next = new Date(Date.parse(`${end}T00:00:00Z`) + 5 * 86_400_000).toISOString().slice(0, 10);
  return {
    pcode, indicator: options.indicator ?? 'vci3m', periodStart: `${month}-01`, periodEnd: end, value,
    status: options.status ?? 'final', source: options.source ?? 'NDMA', knownAt: options.knownAt ?? `${next}T09:00:00Z`,
  };
}

const decision = (decisions: AreaDecision[], pcode: string): AreaDecision => {
  const found = decisions.find((d) => d.pcode === pcode);
  if (!found) throw new Error(`no decision for ${pcode}`);
  return found;
};

const indicatorEvidence = (d: AreaDecision): IndicatorEvidence[] => d.evidence.filter((e): e is IndicatorEvidence => e.kind === 'indicator');
const notes = (d: AreaDecision): string[] => d.evidence.flatMap((e) => (e.kind === 'note' ? [e.text] : []));

const RESPONSE: RuleInput['response'] = [{ mode: 'design_tweak', households: {}, tweak: { kind: 'advance_next_payment', within_days: 10 }, benefit: { kind: 'none' } }];

function inlineRule(parts: Partial<RuleInput> & Pick<RuleInput, 'stages'>): Rule {
  return ruleSchema.parse({
    id: 'test-rule', title: 'test', country: 'KEN', programme: 'HSNP', owner: 'NDMA', effective: { from: '2024-01-01' }, agreed_text: 'test',
    areas: { admin_level: 2, within: ['KE023', 'KE010'] }, response: RESPONSE, ...parts,
  });
}

const VCI: Omit<IndicatorCondition, 'status' | 'band_edges'> = {
  name: 'vci3m', source: 'NDMA', version: 'any', unit: 'VCI', spatial_unit: { admin_level: 2 }, period: 'monthly',
};
const vciBelow = (value: number, extra: Record<string, unknown> = {}) => ({ indicator: { ...VCI, threshold: { op: 'lt' as const, value }, ...extra } });
const spiBelow = (value: number) => ({ indicator: { ...VCI, name: 'spi3', source: 'ICPAC', threshold: { op: 'lt' as const, value } } });

const ASOF = '2025-03-10T00:00:00Z';

describe('HSNP bands on VCI-3M, values exactly on the edges', () => {
  it('severe rule: 10 is severe (activation), 20 is moderate (none), 9.99 is extreme (not this rule), no data is none', () => {
    const decisions = evaluateRule({
      rule: example('ke-hsnp-vci-severe'), asOf: ASOF, areas: AREAS,
      indicators: [vci('KE023001', '2025-02', 10), vci('KE023002', '2025-02', 20), vci('KE023003', '2025-02', 9.99), vci('KE030001', '2025-02', 12)],
    });
    // Only the level-2 areas inside the eight HSNP counties: not KE030001, not the ward KE023001001.
    expect(decisions.map((d) => d.pcode)).toEqual(['KE010001', 'KE023001', 'KE023002', 'KE023003']);

    const severe = decision(decisions, 'KE023001');
    expect(severe).toMatchObject({ stage: 'activation', tier: 'severe', waitingFor: [] });
    expect(indicatorEvidence(severe)).toEqual([
      {
        kind: 'indicator', trigger: 'vci', pcode: 'KE023001', indicator: 'vci3m', periodStart: '2025-02-01', periodEnd: '2025-02-28',
        value: 10, status: 'final', source: 'NDMA', knownAt: '2025-03-05T09:00:00Z', test: '10 ≤ 10 < 20 → severe (triggering)', holds: true,
      },
    ]);

    const moderate = decision(decisions, 'KE023002');
    expect(moderate).toMatchObject({ stage: 'none', tier: null });
    expect(indicatorEvidence(moderate)[0].test).toBe('20 ≤ 20 < 35 → moderate (not triggering)');

    const extreme = decision(decisions, 'KE023003');
    expect(extreme.stage).toBe('none');
    expect(indicatorEvidence(extreme)[0].test).toBe('9.99 < 10 → extreme (not triggering)');

    const noData = decision(decisions, 'KE010001');
    expect(noData.stage).toBe('none');
    expect(notes(noData)[0]).toMatch(/no vci3m value from NDMA for KE010001/);
  });

  it('extreme rule: 9.99 activates tier extreme, 10 does not', () => {
    const decisions = evaluateRule({
      rule: example('ke-hsnp-vci-extreme'), asOf: ASOF, areas: AREAS,
      indicators: [vci('KE023001', '2025-02', 9.99), vci('KE023002', '2025-02', 10)],
    });
    expect(decision(decisions, 'KE023001')).toMatchObject({ stage: 'activation', tier: 'extreme' });
    expect(decision(decisions, 'KE023002')).toMatchObject({ stage: 'none', tier: null });
  });

  it('two-tier rule: the highest-severity tier that holds; VCI ≥ 20 scales the area down with evidence', () => {
    const decisions = evaluateRule({
      rule: example('ke-hsnp-vci-scale-down'), asOf: ASOF, areas: AREAS,
      indicators: [
        vci('KE023001', '2025-02', 10),
        vci('KE023002', '2025-02', 9.99),
        vci('KE023003', '2025-01', 5), vci('KE023003', '2025-02', 20), // latest period counts: recovered
      ],
    });
    expect(decision(decisions, 'KE023001')).toMatchObject({ stage: 'activation', tier: 'severe' });
    expect(decision(decisions, 'KE023002')).toMatchObject({ stage: 'activation', tier: 'extreme' });
    const recovered = decision(decisions, 'KE023003');
    expect(recovered).toMatchObject({ stage: 'none', tier: null });
    expect(recovered.evidence).toContainEqual(expect.objectContaining({ kind: 'scale_down', effect: 'stop_payments' }));
    expect(indicatorEvidence(recovered).map((e) => e.test)).toContain('20 ≥ 20 → holds');
    expect(indicatorEvidence(recovered).every((e) => e.periodEnd === '2025-02-28')).toBe(true);
  });

  it('max_inclusive bands: 10 falls in the lower band (min < x ≤ max)', () => {
    const rule = inlineRule({
      stages: {
        activation: {
          when: {
            indicator: {
              ...VCI, id: 'vci', band_edges: 'max_inclusive', triggering_bands: ['extreme'],
              bands: [{ name: 'extreme', max: 10 }, { name: 'severe', min: 10, max: 20 }, { name: 'normal', min: 20 }],
            },
          },
        },
      },
    });
    const decisions = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [vci('KE023001', '2025-02', 10), vci('KE023002', '2025-02', 20)] });
    expect(decision(decisions, 'KE023001').stage).toBe('activation');
    expect(indicatorEvidence(decision(decisions, 'KE023001'))[0].test).toBe('10 ≤ 10 → extreme (triggering)');
    expect(indicatorEvidence(decision(decisions, 'KE023002'))[0].test).toBe('10 < 20 ≤ 20 → severe (not triggering)');
  });
});

describe('as of: only what was known', () => {
  it('ignores a value published after asOf and uses the previous period', () => {
    const indicators = [vci('KE023001', '2025-01', 30), vci('KE023001', '2025-02', 15, { knownAt: '2025-03-05T09:00:00Z' })];
    const rule = example('ke-hsnp-vci-severe');
    const before = decision(evaluateRule({ rule, asOf: '2025-03-05T08:59:59Z', areas: AREAS, indicators }), 'KE023001');
    expect(before.stage).toBe('none');
    expect(indicatorEvidence(before)[0]).toMatchObject({ periodEnd: '2025-01-31', value: 30 });
    const after = decision(evaluateRule({ rule, asOf: '2025-03-05T09:00:00Z', areas: AREAS, indicators }), 'KE023001');
    expect(after).toMatchObject({ stage: 'activation', tier: 'severe' });
  });

  it('takes the latest revision known by asOf, and ignores a final value whose period has not ended', () => {
    const indicators = [
      vci('KE023001', '2025-02', 15, { knownAt: '2025-03-05T09:00:00Z' }),
      vci('KE023001', '2025-02', 25, { knownAt: '2025-03-20T09:00:00Z' }),
      vci('KE023001', '2025-03', 5, { knownAt: '2025-03-08T00:00:00Z' }), // period ends 31 March, after asOf
    ];
    const rule = example('ke-hsnp-vci-severe');
    expect(decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators }), 'KE023001').stage).toBe('activation');
    const later = decision(evaluateRule({ rule, asOf: '2025-03-21T00:00:00Z', areas: AREAS, indicators }), 'KE023001');
    expect(later.stage).toBe('none');
    expect(indicatorEvidence(later)[0]).toMatchObject({ value: 25, knownAt: '2025-03-20T09:00:00Z' });
  });

  it('the rule is closed before it is in force and outside its monitoring months', () => {
    const early = evaluateRule({ rule: example('ke-hsnp-vci-severe'), asOf: '2024-06-30T12:00:00Z', areas: AREAS, indicators: [vci('KE023001', '2024-05', 12)] });
    expect(decision(early, 'KE023001').stage).toBe('none');
    expect(notes(decision(early, 'KE023001'))[0]).toMatch(/in force from 2024-07-01/);
  });
});

describe('final against forecast', () => {
  it('a final figure beats a forecast of the same period when both count (status any)', () => {
    const rule = inlineRule({ stages: { activation: { when: vciBelow(20, { status: 'any' }) } } });
    const indicators = [vci('KE023001', '2025-02', 12, { status: 'forecast', knownAt: '2025-01-20T00:00:00Z' }), vci('KE023001', '2025-02', 25), vci('KE023002', '2025-02', 12, { status: 'forecast', knownAt: '2025-01-20T00:00:00Z' })];
    const decisions = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators });
    expect(decision(decisions, 'KE023001').stage).toBe('none');
    expect(indicatorEvidence(decision(decisions, 'KE023001'))[0]).toMatchObject({ value: 25, status: 'final' });
    expect(decision(decisions, 'KE023002').stage).toBe('activation'); // only the forecast exists
  });

  it('forecasts never count for a final-only trigger (the default)', () => {
    const decisions = evaluateRule({
      rule: example('ke-hsnp-vci-severe'), asOf: ASOF, areas: AREAS,
      indicators: [vci('KE023001', '2025-02', 12, { status: 'forecast', knownAt: '2025-01-20T00:00:00Z' })],
    });
    expect(decision(decisions, 'KE023001').stage).toBe('none');
  });

  it('a trigger that asks for forecasts reads the projection (Malawi IPC), in its monitoring months only', () => {
    const areas = [{ pcode: 'MW', level: 0, parentPcode: null }, { pcode: 'MW1', level: 1, parentPcode: 'MW' }, { pcode: 'MW101', level: 2, parentPcode: 'MW1' }, { pcode: 'MW102', level: 2, parentPcode: 'MW1' }];
    const ipc = (pcode: string, value: number, status: 'final' | 'forecast'): Value => ({
      pcode, indicator: 'ipc_p3plus_share', periodStart: '2025-10-01', periodEnd: '2026-03-31', value, status, source: 'MVAC / IPC', knownAt: '2025-07-01T00:00:00Z',
    });
    const current = (pcode: string, value: number): Value => ({ ...ipc(pcode, value, 'final'), periodStart: '2025-04-01', periodEnd: '2025-06-30' });
    const indicators = [ipc('MW101', 10, 'forecast'), current('MW101', 2), ipc('MW102', 9.9, 'forecast'), current('MW102', 40)];
    const rule = example('mw-lean-season-ipc');
    const july = evaluateRule({ rule, asOf: '2025-07-15T00:00:00Z', areas, indicators });
    expect(decision(july, 'MW101').stage).toBe('activation');
    expect(indicatorEvidence(decision(july, 'MW101'))[0]).toMatchObject({ status: 'forecast', test: '10 ≥ 10 → holds' });
    expect(decision(july, 'MW102').stage).toBe('none');
    const march = evaluateRule({ rule, asOf: '2026-03-15T00:00:00Z', areas, indicators });
    expect(decision(march, 'MW101').stage).toBe('none');
    expect(notes(decision(march, 'MW101'))[0]).toMatch(/only in months 7, 8/);
  });

  it('a forecast outside the lead window is ignored (Benue GloFAS within 5 days, whole-rule station trigger)', () => {
    const areas = [{ pcode: 'NG', level: 0, parentPcode: null }, { pcode: 'NG002', level: 1, parentPcode: 'NG' }, { pcode: 'NG002001', level: 2, parentPcode: 'NG002' }, { pcode: 'NG002016', level: 2, parentPcode: 'NG002' }];
    const glofas = (day: string, value: number): Value => ({
      pcode: 'G5004', indicator: 'glofas_discharge', periodStart: day, periodEnd: day, value, status: 'forecast', source: 'ECMWF GloFAS', knownAt: '2025-08-01T06:00:00Z',
    });
    const rule = example('ng-benue-flood-aa');
    const far = evaluateRule({ rule, asOf: '2025-08-01T12:00:00Z', areas, indicators: [glofas('2025-08-11', 4000)] });
    expect(far.map((d) => d.stage)).toEqual(['none', 'none']);
    const near = evaluateRule({ rule, asOf: '2025-08-01T12:00:00Z', areas, indicators: [glofas('2025-08-11', 4000), glofas('2025-08-05', 3132)] });
    expect(near.map((d) => d.stage)).toEqual(['activation', 'activation']);
    expect(indicatorEvidence(near[0])[0]).toMatchObject({ pcode: 'G5004', test: '3132 ≥ 3132 → holds' });
  });
});

describe('persistence', () => {
  const rule = inlineRule({ stages: { activation: { when: vciBelow(20, { persistence: { periods: 3 } }) } } });

  it('holds for three consecutive months ending at the latest', () => {
    const d = decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [vci('KE023001', '2024-12', 15), vci('KE023001', '2025-01', 12), vci('KE023001', '2025-02', 19.9)] }), 'KE023001');
    expect(d.stage).toBe('activation');
    expect(indicatorEvidence(d).map((e) => e.periodEnd)).toEqual(['2025-02-28', '2025-01-31', '2024-12-31']);
  });

  it('is broken by a gap in the data, by too short a history and by one period that fails', () => {
    const gap = decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [vci('KE023001', '2024-11', 15), vci('KE023001', '2024-12', 15), vci('KE023001', '2025-02', 12)] }), 'KE023001');
    expect(gap.stage).toBe('none');
    expect(notes(gap)[0]).toMatch(/no value between 2024-12-31 and 2025-02-01/);
    const short = decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [vci('KE023001', '2025-01', 15), vci('KE023001', '2025-02', 12)] }), 'KE023001');
    expect(short.stage).toBe('none');
    const fails = decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [vci('KE023001', '2024-12', 15), vci('KE023001', '2025-01', 20), vci('KE023001', '2025-02', 12)] }), 'KE023001');
    expect(fails.stage).toBe('none');
    expect(indicatorEvidence(fails).map((e) => e.holds)).toEqual([true, false]);
  });
});

describe('composition per area', () => {
  const indicators = [
    vci('KE023001', '2025-02', 15), vci('KE023001', '2025-02', -1.5, { indicator: 'spi3', source: 'ICPAC' }),
    vci('KE023002', '2025-02', 15), vci('KE023002', '2025-02', 0, { indicator: 'spi3', source: 'ICPAC' }),
    vci('KE023003', '2025-02', 40), vci('KE023003', '2025-02', 0, { indicator: 'spi3', source: 'ICPAC' }),
  ];
  const stages = (when: any) => evaluateRule({ rule: inlineRule({ stages: { activation: { when } } }), asOf: ASOF, areas: AREAS, indicators }).map((d) => [d.pcode, d.stage]);

  it('all, any and not', () => {
    expect(stages({ all: [vciBelow(20), spiBelow(-1)] })).toEqual([['KE010001', 'none'], ['KE023001', 'activation'], ['KE023002', 'none'], ['KE023003', 'none']]);
    expect(stages({ any: [vciBelow(20), spiBelow(-1)] })).toEqual([['KE010001', 'none'], ['KE023001', 'activation'], ['KE023002', 'activation'], ['KE023003', 'none']]);
    expect(stages({ all: [vciBelow(20), { not: spiBelow(-1) }] })).toEqual([['KE010001', 'none'], ['KE023001', 'none'], ['KE023002', 'activation'], ['KE023003', 'none']]);
  });

  it('missing data is unknown: not(no data) does not trigger, any(no data, true) does', () => {
    expect(stages({ not: vciBelow(20) })).toEqual([['KE010001', 'none'], ['KE023001', 'none'], ['KE023002', 'none'], ['KE023003', 'activation']]);
    expect(stages({ any: [vciBelow(20), { indicator: { ...VCI, name: 'ndvi', threshold: { op: 'lt', value: 1 } } }] })[1]).toEqual(['KE023001', 'activation']);
  });

  it('k of n: 2 of 3 river stations over their level (station series apply to every area)', () => {
    const station = (code: string) => ({ indicator: { ...VCI, name: 'discharge', spatial_unit: { station: code }, period: 'daily' as const, threshold: { op: 'gte' as const, value: 100 } } });
    const rule = inlineRule({ stages: { activation: { when: { k_of_n: { k: 2, of: [station('S1'), station('S2'), station('S3')] } } } } });
    const reading = (code: string, value: number): Value => ({ pcode: code, indicator: 'discharge', periodStart: '2025-03-09', periodEnd: '2025-03-09', value, status: 'final', source: 'NDMA', knownAt: '2025-03-09T18:00:00Z' });
    const two = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [reading('S1', 100), reading('S2', 150), reading('S3', 10)] });
    expect(two.every((d) => d.stage === 'activation')).toBe(true);
    const one = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [reading('S1', 99.9), reading('S2', 150), reading('S3', 10)] });
    expect(one.every((d) => d.stage === 'none')).toBe(true);
    // One station silent: 1 true + 1 unknown could still reach 2, so not activated (unknown), not false either.
    const silent = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [reading('S1', 120), reading('S3', 10)] });
    expect(silent.every((d) => d.stage === 'none')).toBe(true);
  });

  it('relative_to: a fixed danger level (difference) is computed; a long-term median is not available (unknown)', () => {
    const river = (relative: any) => inlineRule({ stages: { activation: { when: { indicator: { ...VCI, name: 'level', spatial_unit: { station: 'CHISAPANI' }, period: 'daily', relative_to: relative, threshold: { op: 'gte', value: 1 } } } } } });
    const level = (value: number): Value => ({ pcode: 'CHISAPANI', indicator: 'level', periodStart: '2025-03-09', periodEnd: '2025-03-09', value, status: 'final', source: 'NDMA', knownAt: '2025-03-09T18:00:00Z' });
    const danger = { reference: 'danger_level', level: 11.8, as: 'difference' };
    const over = evaluateRule({ rule: river(danger), asOf: ASOF, areas: AREAS, indicators: [level(12.8)] });
    expect(over[0].stage).toBe('activation');
    expect(indicatorEvidence(over[0])[0].test).toBe('difference vs danger_level 1 ≥ 1 → holds');
    expect(evaluateRule({ rule: river(danger), asOf: ASOF, areas: AREAS, indicators: [level(12.7)] })[0].stage).toBe('none');
    const median = evaluateRule({ rule: river({ reference: 'long_term_median', as: 'percent_difference' }), asOf: ASOF, areas: AREAS, indicators: [level(20)] });
    expect(median[0].stage).toBe('none');
    expect(notes(median[0])[0]).toMatch(/long-term reference/);
  });
});

describe('gates, readiness and stop', () => {
  const gate = { kind: 'coordinator_confirmation' as const, by: 'County Steering Group', description: 'the county confirms the drought' };
  const rule = inlineRule({ stages: { readiness: { when: vciBelow(35) }, activation: { when: { all: [vciBelow(20), { gate }] } } } });
  const indicators = [vci('KE023001', '2025-02', 15), vci('KE023002', '2025-02', 30), vci('KE023003', '2025-02', 40)];

  it('an unconfirmed gate holds the area at readiness and names what it waits for', () => {
    const decisions = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators });
    expect(decision(decisions, 'KE023001')).toMatchObject({ stage: 'readiness', tier: null, waitingFor: ['coordinator_confirmation: County Steering Group'] });
    expect(decision(decisions, 'KE023001').evidence).toContainEqual({ kind: 'gate', name: 'coordinator_confirmation: County Steering Group', satisfied: false, at: null });
    expect(decision(decisions, 'KE023002')).toMatchObject({ stage: 'readiness', waitingFor: [] }); // the indicator fails: the gate is not what blocks
    expect(decision(decisions, 'KE023003')).toMatchObject({ stage: 'none', waitingFor: [] });
  });

  it('a confirmation activates the area once known: for the area, an ancestor or all, not another area, not later', () => {
    const run = (gates: EvaluationInput['gates']) => decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators, gates }), 'KE023001');
    expect(run([{ kind: 'coordinator_confirmation', pcodes: ['KE023'], at: '2025-03-09T00:00:00Z' }])).toMatchObject({ stage: 'activation', waitingFor: [] });
    expect(run([{ kind: 'coordinator_confirmation', pcodes: 'all', at: '2025-03-09T00:00:00Z' }]).stage).toBe('activation');
    expect(run([{ kind: 'coordinator_confirmation', pcodes: ['KE023002'], at: '2025-03-09T00:00:00Z' }]).stage).toBe('readiness');
    expect(run([{ kind: 'coordinator_confirmation', pcodes: ['KE023001'], at: '2025-03-11T00:00:00Z' }]).stage).toBe('readiness');
    expect(run([{ kind: 'expert_consensus', pcodes: ['KE023001'], at: '2025-03-09T00:00:00Z' }]).stage).toBe('readiness');
  });

  it('without a readiness stage, a blocked area is none but still says what it waits for', () => {
    const noReadiness = inlineRule({ stages: { activation: { when: { all: [vciBelow(20), { gate }] } } } });
    expect(decision(evaluateRule({ rule: noReadiness, asOf: ASOF, areas: AREAS, indicators }), 'KE023001')).toMatchObject({ stage: 'none', waitingFor: ['coordinator_confirmation: County Steering Group'] });
  });

  it('a stop condition that holds closes the area with evidence', () => {
    const stopping = inlineRule({
      stages: { activation: { when: vciBelow(20) } },
      stop: [{ when: { gate: { kind: 'coordinator_confirmation', by: 'CVM', description: 'track change' } }, effect: 'cancel', only_before: 'first_notification' }],
    });
    expect(decision(evaluateRule({ rule: stopping, asOf: ASOF, areas: AREAS, indicators }), 'KE023001')).toMatchObject({ stage: 'activation', waitingFor: [] });
    const stopped = decision(evaluateRule({ rule: stopping, asOf: ASOF, areas: AREAS, indicators, gates: [{ kind: 'coordinator_confirmation', pcodes: 'all', at: '2025-03-09T00:00:00Z' }] }), 'KE023001');
    expect(stopped.stage).toBe('none');
    expect(stopped.evidence).toContainEqual(expect.objectContaining({ kind: 'stop', effect: 'cancel', onlyBefore: 'first_notification' }));
  });
});

describe('events', () => {
  const rule = inlineRule({ stages: { activation: { when: { event: { source: 'gdacs', hazard: 'drought', min_alert_level: 'orange' } } } } });
  const event = (version: number, alert: 'green' | 'orange' | 'red', knownAt: string, affectedPcodes: string[]): HazardEventVersion & { knownAt: string; affectedPcodes: string[] } => ({
    source: 'gdacs', externalId: 'DR1016449', aliases: [], version: String(version), versionRank: version, hazard: 'drought',
    eventAlertLevel: alert, episodeAlertLevel: alert, severity: [], footprints: [], validFrom: null, validTo: null, issuedAt: knownAt,
    title: null, countries: ['KEN'], link: null, status: 'actual', supersedes: [], cancels: false, pcodes: [], properties: {}, knownAt, affectedPcodes,
  });

  it('an orange episode naming the area (or its county) activates it; evidence names the event version', () => {
    const decisions = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [], events: [event(1, 'orange', '2025-03-01T00:00:00Z', ['KE023001', 'KE010'])] });
    expect(decision(decisions, 'KE023001').stage).toBe('activation');
    expect(decision(decisions, 'KE010001').stage).toBe('activation');
    expect(decision(decisions, 'KE023002').stage).toBe('none');
    expect(decision(decisions, 'KE023001').evidence).toContainEqual(expect.objectContaining({ kind: 'event', source: 'gdacs', externalId: 'DR1016449', version: '1', alert: 'orange', holds: true }));
  });

  it('the latest version known by asOf decides: a later downgrade ends it, a version not yet known does not count', () => {
    const events = [event(1, 'orange', '2025-03-01T00:00:00Z', ['KE023001']), event(2, 'green', '2025-03-08T00:00:00Z', ['KE023001'])];
    const d = decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: [], events }), 'KE023001');
    expect(d.stage).toBe('none');
    expect(d.evidence).toContainEqual(expect.objectContaining({ kind: 'event', version: '2', alert: 'green', holds: false }));
    expect(decision(evaluateRule({ rule, asOf: '2025-03-07T00:00:00Z', areas: AREAS, indicators: [], events }), 'KE023001').stage).toBe('activation');
    expect(decision(evaluateRule({ rule, asOf: '2025-02-28T00:00:00Z', areas: AREAS, indicators: [], events }), 'KE023001').stage).toBe('none');
  });
});

describe('every example rule', () => {
  it('evaluates without data to no stage at all, and never throws', () => {
    expect(byId.size).toBeGreaterThan(10);
    for (const rule of byId.values()) {
      const top = rule.areas.within[0];
      const areas = [{ pcode: top, level: Math.min(rule.areas.admin_level, 1), parentPcode: null }, { pcode: `${top}X1`, level: rule.areas.admin_level, parentPcode: top }];
      const decisions = evaluateRule({ rule, asOf: '2025-08-15T00:00:00Z', areas, indicators: [], events: [], gates: [] });
      for (const d of decisions) expect(d.stage, rule.id).toBe('none');
    }
  });
});
