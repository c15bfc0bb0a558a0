import { describe, expect, it } from 'vitest';
import type { HazardEventVersion } from '../../src/feeds/model.ts';
import { evaluateRule, type AreaDecision, type EvaluationInput, type IndicatorEvidence } from '../../src/rules/evaluate.ts';
import { ruleSchema, type IndicatorCondition, type Rule, type RuleInput } from '../../src/rules/schema.ts';
import { useExampleRules } from '../support/examples.ts';

const { example, examples } = useExampleRules();

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
        // The rule's unit "VCI (0-100)" is the range the value was checked against.
        plausibility: [{ indicator: 'vci3m', range: { min: 0, max: 100 }, source: 'rule', checked: 1 }],
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

  it('when several tiers hold, the one with the highest severity wins, whatever the order they are listed in', () => {
    const banded = { ...VCI, id: 'vci', bands: [{ name: 'extreme', max: 10 }, { name: 'severe', min: 10, max: 20 }, { name: 'normal', min: 20 }], triggering_bands: ['extreme', 'severe'] };
    const tiers = [
      { id: 'extreme', severity: 2, when: { in_band: { trigger: 'vci', bands: ['extreme'] } } },
      { id: 'drought', severity: 1, when: { in_band: { trigger: 'vci', bands: ['extreme', 'severe'] } } },
    ];
    const indicators = [vci('KE023001', '2025-02', 5), vci('KE023002', '2025-02', 15)];
    for (const order of [tiers, [...tiers].reverse()]) {
      const decisions = evaluateRule({ rule: inlineRule({ stages: { activation: { when: { indicator: banded } } }, tiers: order }), asOf: ASOF, areas: AREAS, indicators });
      expect(decisions.filter((d) => d.stage === 'activation').map((d) => [d.pcode, d.tier])).toEqual([['KE023001', 'extreme'], ['KE023002', 'drought']]);
    }
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
    // February is over by 10 March: its forecast no longer speaks for anything, and no final came.
    expect(decision(decisions, 'KE023002').stage).toBe('none');
  });

  it('a forecast counts while its period is still to come or running, not once it is over (status any)', () => {
    const rule = inlineRule({ stages: { activation: { when: vciBelow(20, { status: 'any' }) } } });
    const march = [vci('KE023002', '2025-03', 12, { status: 'forecast', knownAt: '2025-02-20T00:00:00Z' })];
    expect(decision(evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators: march }), 'KE023002').stage).toBe('activation');
    expect(decision(evaluateRule({ rule, asOf: '2025-04-01T00:00:00Z', areas: AREAS, indicators: march }), 'KE023002').stage).toBe('none');
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
      pcode, indicator: 'ipc_p3plus_percent', periodStart: '2025-10-01', periodEnd: '2026-03-31', value, status, source: 'MVAC / IPC', knownAt: '2025-07-01T00:00:00Z',
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

describe('forecasts as issued', () => {
  // A seasonal forecast per sub-county: the probability (%) that the Oct–Dec SPI-3 is below −0.85,
  // issued on the 15th of each month, as every issue is kept in the store.
  const SEASONAL = { ...VCI, name: 'p_spi3_moderate', source: 'ICPAC', unit: '%', period: 'seasonal' as const, status: 'forecast' as const };
  const issue = (issued: string, value: number, period: [string, string] = ['2025-10-01', '2025-12-31'], pcode = 'KE023001'): Value => ({
    pcode, indicator: 'p_spi3_moderate', periodStart: period[0], periodEnd: period[1], value, status: 'forecast', source: 'ICPAC',
    knownAt: `${issued}T12:00:00Z`, issuedAt: `${issued}T06:00:00Z`,
  });
  const atLeast40 = (forecast: Record<string, unknown> = {}) => ({ indicator: { ...SEASONAL, forecast, threshold: { op: 'gte' as const, value: 40 } } });
  const stageOf = (rule: Rule, asOf: string, indicators: Value[]) => decision(evaluateRule({ rule, asOf, areas: AREAS, indicators }), 'KE023001');

  it('a plain forecast condition reads the latest issue known as of T: the older issue met it, the newer does not', () => {
    const rule = inlineRule({ stages: { activation: { when: atLeast40() } } });
    const issues = [issue('2025-07-15', 55), issue('2025-08-15', 30)];
    const between = stageOf(rule, '2025-08-01T00:00:00Z', issues);
    expect(between.stage).toBe('activation');
    expect(indicatorEvidence(between)[0]).toMatchObject({ value: 55, issuedAt: '2025-07-15T06:00:00Z', leadDays: 78, test: '55 ≥ 40 → holds' });
    const after = stageOf(rule, '2025-08-16T00:00:00Z', issues);
    expect(after.stage).toBe('none');
    expect(indicatorEvidence(after)[0]).toMatchObject({ value: 30, issuedAt: '2025-08-15T06:00:00Z', leadDays: 47 });
  });

  it('an issue counts from its issue time and its receipt, whichever is later', () => {
    const rule = inlineRule({ stages: { activation: { when: atLeast40() } } });
    const early = { ...issue('2025-07-15', 55), issuedAt: '2025-07-16T00:00:00Z' };
    expect(stageOf(rule, '2025-07-15T18:00:00Z', [early]).stage).toBe('none');
    expect(stageOf(rule, '2025-07-16T00:00:00Z', [early]).stage).toBe('activation');
  });

  it('readiness on the July issue, activation on the July and August issues (for the Oct–Dec season only)', () => {
    const rule = inlineRule({
      stages: {
        readiness: { when: atLeast40({ for_period: { start_month: 10, end_month: 12 }, issued_in_months: [7] }) },
        activation: { when: atLeast40({ for_period: { start_month: 10, end_month: 12 }, issued_in_months: [7, 8] }) },
      },
    });
    // The August issue also forecasts Nov–Jan, which this rule does not read.
    const issues = [issue('2025-06-15', 20), issue('2025-07-15', 45), issue('2025-08-15', 41), issue('2025-08-15', 10, ['2025-11-01', '2026-01-31'])];
    const july = stageOf(rule, '2025-07-20T00:00:00Z', issues);
    expect(july.stage).toBe('readiness');
    expect(notes(july)).toEqual(['p_spi3_moderate for KE023001 2025-10-01–2025-12-31: no forecast issued in August known by 2025-07-20T00:00:00Z']);
    const august = stageOf(rule, '2025-08-20T00:00:00Z', issues);
    expect(august.stage).toBe('activation');
    expect(indicatorEvidence(august).map((e) => [e.value, e.issuedAt, e.test])).toEqual([
      [45, '2025-07-15T06:00:00Z', 'July issue of 2025-07-15: 45 ≥ 40 → holds'],
      [41, '2025-08-15T06:00:00Z', 'August issue of 2025-08-15: 41 ≥ 40 → holds'],
    ]);
    // The August issue falls below: activation fails (readiness stays), and the evidence shows both issues.
    const below = stageOf(rule, '2025-08-20T00:00:00Z', [issue('2025-07-15', 45), issue('2025-08-15', 39)]);
    expect(below.stage).toBe('readiness');
    expect(indicatorEvidence(below).map((e) => e.test)).toEqual(['July issue of 2025-07-15: 45 ≥ 40 → holds', 'August issue of 2025-08-15: 39 ≥ 40 → does not hold']);
    // Without the July issue the August one alone does not activate.
    expect(stageOf(rule, '2025-08-20T00:00:00Z', [issue('2025-08-15', 60)]).stage).toBe('none');
  });

  it('the latest issue of a named month counts when a month has two (a corrected re-issue)', () => {
    const rule = inlineRule({ stages: { activation: { when: atLeast40({ issued_in_months: [8] }) } } });
    expect(stageOf(rule, '2025-08-30T00:00:00Z', [issue('2025-08-10', 50), issue('2025-08-25', 35)]).stage).toBe('none');
    expect(stageOf(rule, '2025-08-20T00:00:00Z', [issue('2025-08-10', 50), issue('2025-08-25', 35)]).stage).toBe('activation');
  });

  it('two successive issues: the latest two must both meet it, whatever their months', () => {
    const rule = inlineRule({ stages: { activation: { when: atLeast40({ successive_issues: 2 }) } } });
    const issues = [issue('2025-06-15', 30), issue('2025-07-15', 45), issue('2025-08-15', 50)];
    expect(stageOf(rule, '2025-06-20T00:00:00Z', issues)).toMatchObject({ stage: 'none' });
    expect(notes(stageOf(rule, '2025-06-20T00:00:00Z', issues))).toEqual([
      'p_spi3_moderate for KE023001 2025-10-01–2025-12-31: the latest 2 issues must meet the condition; 1 known by 2025-06-20T00:00:00Z',
    ]);
    const july = stageOf(rule, '2025-07-20T00:00:00Z', issues);
    expect(july.stage).toBe('none');
    expect(indicatorEvidence(july).map((e) => e.test)).toEqual(['issue 1 of the latest 2 of 2025-06-15: 30 ≥ 40 → does not hold', 'issue 2 of the latest 2 of 2025-07-15: 45 ≥ 40 → holds']);
    expect(stageOf(rule, '2025-08-20T00:00:00Z', issues).stage).toBe('activation');
  });

  it('the lead is counted from the issue, not from when the engine received it', () => {
    const rule = inlineRule({ stages: { activation: { when: atLeast40({ min_lead_days: 60 }) } } });
    // Issued 15 July (lead 78 days) but received on 15 August (47 days before the season).
    const late = { ...issue('2025-07-15', 55), knownAt: '2025-08-15T00:00:00Z' };
    expect(stageOf(rule, '2025-08-20T00:00:00Z', [late]).stage).toBe('activation');
  });
});

describe('end_of_season with a season calendar', () => {
  // WRSI-like dekadal values for KE023001, and a short-rains season October to February (across the new year).
  const dekad = (start: string, end: string, value: number, pcode = 'KE023001'): Value => ({
    pcode, indicator: 'wrsi', periodStart: start, periodEnd: end, value, status: 'final', source: 'FEWS NET', knownAt: `${end}T18:00:00Z`,
  });
  const history = [
    dekad('2025-02-11', '2025-02-20', 70), dekad('2025-02-21', '2025-02-28', 62), dekad('2025-03-01', '2025-03-10', 99),
    dekad('2026-02-11', '2026-02-20', 90), dekad('2026-02-21', '2026-02-28', 85),
  ];
  const SHORT_RAINS = { pcode: 'KE023', season: 'short_rains', start: '10-01', end: '02-28' };
  const LONG_RAINS = { pcode: 'KE023', season: 'long_rains', start: '03-01', end: '05-31' };
  const rule = (season?: string) => inlineRule({
    stages: { activation: { when: { indicator: { ...VCI, name: 'wrsi', source: 'FEWS NET', period: 'dekadal', aggregation: { method: 'end_of_season', ...(season ? { season } : {}) }, threshold: { op: 'lt', value: 65 } } } } },
  });
  const at = (asOf: string, seasons: EvaluationInput['seasons'], r = rule('short_rains')) =>
    decision(evaluateRule({ rule: r, asOf, areas: AREAS, indicators: history, seasons }), 'KE023001');

  it('reads the value of the last dekad of the season that crossed the new year, from the county calendar, until the next season starts', () => {
    const march = at('2025-03-15T00:00:00Z', [SHORT_RAINS, LONG_RAINS]);
    expect(march.stage).toBe('activation');
    expect(indicatorEvidence(march)[0]).toMatchObject({
      value: 62, periodStart: '2025-02-21', periodEnd: '2025-02-28',
      season: { season: 'short_rains', start: '2024-10-01', end: '2025-02-28', calendarOf: 'KE023' },
      test: 'end of season short_rains 2024-10-01–2025-02-28 (calendar of KE023): 62 < 65 → holds',
    });
    // Still the 2024/25 season's figure in September (the later 99 of March is after the season).
    expect(at('2025-09-30T00:00:00Z', [SHORT_RAINS]).stage).toBe('activation');
    // From 1 October the 2025/26 season is under way: last season's figure no longer counts.
    const october = at('2025-10-01T00:00:00Z', [SHORT_RAINS]);
    expect(october.stage).toBe('none');
    expect(notes(october)).toEqual(['wrsi for KE023001: season short_rains 2025-10-01–2026-02-28 (calendar of KE023) is under way; its end-of-season value comes after 2026-02-28']);
    // On its last day the new season's figure is read.
    const next = at('2026-02-28T23:00:00Z', [SHORT_RAINS]);
    expect(next.stage).toBe('none');
    expect(indicatorEvidence(next)[0]).toMatchObject({ value: 85, season: { start: '2025-10-01', end: '2026-02-28' } });
  });

  it("the area's own calendar beats its ancestor's; without a season named, the latest season to end is read", () => {
    const own = { pcode: 'KE023001', season: 'short_rains', start: '10-01', end: '02-20' };
    expect(indicatorEvidence(at('2025-03-15T00:00:00Z', [SHORT_RAINS, own]))[0]).toMatchObject({ value: 70, season: { calendarOf: 'KE023001', end: '2025-02-20' } });
    const latest = at('2025-06-15T00:00:00Z', [SHORT_RAINS, LONG_RAINS], rule());
    expect(latest.stage).toBe('none');
    expect(notes(latest)[0]).toBe('no wrsi value from FEWS NET for KE023001 for the period in which season long_rains 2025-03-01–2025-05-31 (calendar of KE023) ended, known by 2025-06-15T00:00:00Z (final)');
  });

  it('an area without a calendar, or a calendar without the season named, is unknown with a note, never a zero', () => {
    const none = at('2025-03-15T00:00:00Z', []);
    expect(none).toMatchObject({ stage: 'none', tier: null });
    expect(notes(none)).toEqual(['wrsi: end_of_season needs a season calendar for KE023001 or an area above it; none is loaded (asp areas seasons FILE)']);
    expect(indicatorEvidence(none)).toEqual([]);
    // A calendar elsewhere (Marsabit) does not serve Turkana.
    expect(notes(at('2025-03-15T00:00:00Z', [{ ...SHORT_RAINS, pcode: 'KE010' }]))[0]).toMatch(/needs a season calendar for KE023001/);
    expect(notes(at('2025-03-15T00:00:00Z', [LONG_RAINS]))).toEqual(['wrsi: the season calendar of KE023 has no season "short_rains" (it has long_rains)']);
    // A rule whose value is above the threshold is none, but not from a missing calendar.
    expect(notes(at('2025-03-15T00:00:00Z', [{ ...SHORT_RAINS, end: '02-20' }]))).toEqual([]);
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

  it('relative_to: a fixed danger level (difference) is computed; a long-term median without three earlier years is unknown', () => {
    const river = (relative: any) => inlineRule({ stages: { activation: { when: { indicator: { ...VCI, name: 'level', spatial_unit: { station: 'CHISAPANI' }, period: 'daily', relative_to: relative, threshold: { op: 'gte', value: 1 } } } } } });
    const level = (value: number): Value => ({ pcode: 'CHISAPANI', indicator: 'level', periodStart: '2025-03-09', periodEnd: '2025-03-09', value, status: 'final', source: 'NDMA', knownAt: '2025-03-09T18:00:00Z' });
    const danger = { reference: 'danger_level', level: 11.8, as: 'difference' };
    const over = evaluateRule({ rule: river(danger), asOf: ASOF, areas: AREAS, indicators: [level(12.8)] });
    expect(over[0].stage).toBe('activation');
    expect(indicatorEvidence(over[0])[0].test).toBe('difference vs danger_level 1 ≥ 1 → holds');
    expect(evaluateRule({ rule: river(danger), asOf: ASOF, areas: AREAS, indicators: [level(12.7)] })[0].stage).toBe('none');
    const median = evaluateRule({ rule: river({ reference: 'long_term_median', as: 'percent_difference' }), asOf: ASOF, areas: AREAS, indicators: [level(20)] });
    expect(median[0].stage).toBe('none');
    expect(notes(median[0])[0]).toBe(
      'level for CHISAPANI 2025-03-09–2025-03-09: long_term_median needs final values for period starting 03-09 in at least 3 years before 2025 known by 2025-03-10T00:00:00Z; found 0',
    );
  });
});

describe('gates, readiness and stop', () => {
  const gate = { kind: 'coordinator_confirmation' as const, by: 'County Steering Group', description: 'the county confirms the drought' };
  const rule = inlineRule({ stages: { readiness: { when: vciBelow(35) }, activation: { when: { all: [vciBelow(20), { gate }] } } } });
  const indicators = [vci('KE023001', '2025-02', 15), vci('KE023002', '2025-02', 30), vci('KE023003', '2025-02', 40)];

  it('an unconfirmed gate holds the area at readiness and names what it waits for', () => {
    const decisions = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators });
    expect(decision(decisions, 'KE023001')).toMatchObject({ stage: 'readiness', tier: null, waitingFor: ['coordinator_confirmation: County Steering Group'] });
    expect(decision(decisions, 'KE023001').evidence).toContainEqual({ kind: 'gate', name: 'coordinator_confirmation: County Steering Group', satisfied: false, at: null, id: null });
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

  it('waits only for the gates it needs: not for one the indicator already stands in for; for all of them when they are alternatives', () => {
    const experts = { kind: 'expert_consensus' as const, by: 'Technical Working Group', description: 'compounding risks' };
    // VCI < 20 alone, or VCI < 35 with the experts, AND the county confirmation.
    const rule = inlineRule({ stages: { activation: { when: { all: [{ gate }, { any: [vciBelow(20), { all: [vciBelow(35), { gate: experts }] }] }] } } } });
    const decisions = evaluateRule({ rule, asOf: ASOF, areas: AREAS, indicators });
    expect(decision(decisions, 'KE023001').waitingFor).toEqual(['coordinator_confirmation: County Steering Group']); // 15 < 20: the experts are not needed
    expect(decision(decisions, 'KE023002').waitingFor).toEqual(['coordinator_confirmation: County Steering Group', 'expert_consensus: Technical Working Group']); // 30: both needed
    const either = inlineRule({ stages: { activation: { when: { all: [vciBelow(20), { any: [{ gate }, { gate: experts }] }] } } } });
    expect(decision(evaluateRule({ rule: either, asOf: ASOF, areas: AREAS, indicators }), 'KE023001').waitingFor).toEqual([
      'coordinator_confirmation: County Steering Group', 'expert_consensus: Technical Working Group',
    ]);
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

  it('a condition naming a footprint class counts only the areas that footprint touches, not the wider shapes of the event', () => {
    const classed = inlineRule({ stages: { activation: { when: { event: { source: 'gdacs', hazard: 'drought', min_alert_level: 'orange', footprint: { class: 'Poly_Red' } } } } } });
    const square = { type: 'Polygon' as const, coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] };
    const wide = {
      ...event(1, 'orange', '2025-03-01T00:00:00Z', ['KE023001', 'KE023002']),
      footprints: [{ class: 'Poly_Global', geometry: square, pcodes: ['KE023001', 'KE023002'] }, { class: 'Poly_Red', geometry: square, pcodes: ['KE023001'] }],
    };
    const decisions = evaluateRule({ rule: classed, asOf: ASOF, areas: AREAS, indicators: [], events: [wide] });
    expect(decision(decisions, 'KE023001').stage).toBe('activation');
    expect(decision(decisions, 'KE023002').stage).toBe('none');
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
    expect(examples().length).toBe(19);
    for (const rule of examples()) {
      const top = rule.areas.within[0];
      const areas = [{ pcode: top, level: Math.min(rule.areas.admin_level, 1), parentPcode: null }, { pcode: `${top}X1`, level: rule.areas.admin_level, parentPcode: top }];
      const decisions = evaluateRule({ rule, asOf: '2025-08-15T00:00:00Z', areas, indicators: [], events: [], gates: [] });
      for (const d of decisions) expect(d.stage, rule.id).toBe('none');
    }
  });
});

describe('time aggregation over a window', () => {
  const aggregated = (method: string, count: number, extra: Record<string, unknown> = {}) =>
    inlineRule({ stages: { activation: { when: { indicator: { ...VCI, aggregation: { method, window: { count, unit: 'months' } }, threshold: { op: 'lt', value: 20 }, ...extra } } } } });
  const history = [vci('KE023001', '2024-11', 30), vci('KE023001', '2024-12', 12), vci('KE023001', '2025-01', 9), vci('KE023001', '2025-02', 21)];

  it('mean of the last 3 consecutive months ending at the latest: the aggregate is compared, the evidence lists every period', () => {
    const d = decision(evaluateRule({ rule: aggregated('mean', 3), asOf: ASOF, areas: AREAS, indicators: history }), 'KE023001');
    expect(d.stage).toBe('activation');
    expect(indicatorEvidence(d)).toEqual([
      {
        kind: 'indicator', trigger: null, pcode: 'KE023001', indicator: 'vci3m', periodStart: '2024-12-01', periodEnd: '2025-02-28', value: 14,
        status: 'final', source: 'NDMA', knownAt: '2025-03-05T09:00:00Z', test: 'mean of 3 monthly values (12, 9, 21) = 14; 14 < 20 → holds', holds: true,
        window: {
          method: 'mean',
          periods: [
            { periodStart: '2024-12-01', periodEnd: '2024-12-31', value: 12, status: 'final', knownAt: '2025-01-05T09:00:00Z' },
            { periodStart: '2025-01-01', periodEnd: '2025-01-31', value: 9, status: 'final', knownAt: '2025-02-05T09:00:00Z' },
            { periodStart: '2025-02-01', periodEnd: '2025-02-28', value: 21, status: 'final', knownAt: '2025-03-05T09:00:00Z' },
          ],
        },
      },
    ]);
  });

  it('sum, min, max, median (even count: middle pair averaged) and last over 4 months of 30, 12, 9, 21', () => {
    const value = (method: string) => indicatorEvidence(decision(evaluateRule({ rule: aggregated(method, 4), asOf: ASOF, areas: AREAS, indicators: history }), 'KE023001'))[0].value;
    expect(['mean', 'sum', 'min', 'max', 'median', 'last'].map((m) => [m, value(m)])).toEqual([
      ['mean', 18], ['sum', 72], ['min', 9], ['max', 30], ['median', 16.5], ['last', 21],
    ]);
  });

  it('a gap in the window or too few periods is unknown with a note, never false or true', () => {
    const gap = decision(evaluateRule({ rule: aggregated('mean', 3), asOf: ASOF, areas: AREAS, indicators: [history[0], history[1], history[3]] }), 'KE023001');
    expect(gap.stage).toBe('none');
    expect(notes(gap)).toEqual(['vci3m for KE023001 2025-02-01–2025-02-28: mean of 3 months ending 2025-02-28 needs consecutive periods; no value between 2024-12-31 and 2025-02-01']);
    const few = decision(evaluateRule({ rule: aggregated('mean', 3), asOf: ASOF, areas: AREAS, indicators: history.slice(2) }), 'KE023001');
    expect(notes(few)).toEqual(['vci3m for KE023001 2025-02-01–2025-02-28: mean of 3 months ending 2025-02-28 needs 3 consecutive periods; only 2 known']);
    // Unknown, not false: `not` of it does not trigger either.
    const negated = inlineRule({ stages: { activation: { when: { not: aggregated('mean', 3).stages.activation.when } } } });
    expect(decision(evaluateRule({ rule: negated, asOf: ASOF, areas: AREAS, indicators: history.slice(2) }), 'KE023001').stage).toBe('none');
  });

  it('a window in other units than the period, end_of_season and a missing window are unknown, saying why', () => {
    const mismatch = inlineRule({ stages: { activation: { when: { indicator: { ...VCI, aggregation: { method: 'mean', window: { count: 9, unit: 'dekads' } }, threshold: { op: 'lt', value: 20 } } } } } });
    expect(notes(decision(evaluateRule({ rule: mismatch, asOf: ASOF, areas: AREAS, indicators: history }), 'KE023001'))[0]).toMatch(
      /aggregation mean over 9 dekads needs dekadal values; the indicator's period is monthly, so it is not computed/,
    );
    const season = inlineRule({ stages: { activation: { when: { indicator: { ...VCI, aggregation: { method: 'end_of_season' }, threshold: { op: 'lt', value: 20 } } } } } });
    const seasonDecision = decision(evaluateRule({ rule: season, asOf: ASOF, areas: AREAS, indicators: history }), 'KE023001');
    expect(seasonDecision.stage).toBe('none');
    expect(notes(seasonDecision)[0]).toBe('vci3m: end_of_season needs a season calendar for KE023001 or an area above it; none is loaded (asp areas seasons FILE)');
    const noWindow = inlineRule({ stages: { activation: { when: { indicator: { ...VCI, aggregation: { method: 'mean' }, threshold: { op: 'lt', value: 20 } } } } } });
    expect(notes(decision(evaluateRule({ rule: noWindow, asOf: ASOF, areas: AREAS, indicators: history }), 'KE023001'))[0]).toMatch(/aggregation mean needs a window/);
  });

  it('as_published ignores the window (VCI-3M is already a 3-month figure), and persistence walks back one aggregate per period', () => {
    const asPublished = decision(evaluateRule({ rule: aggregated('as_published', 3), asOf: ASOF, areas: AREAS, indicators: history }), 'KE023001');
    expect(indicatorEvidence(asPublished)[0]).toMatchObject({ value: 21, periodStart: '2025-02-01', test: '21 < 20 → does not hold' });
    expect(indicatorEvidence(asPublished)[0].window).toBeUndefined();
    // Means of 2 months: (9 + 21) / 2 = 15 ending February, (12 + 9) / 2 = 10.5 ending January; both < 20.
    const persistent = decision(evaluateRule({ rule: aggregated('mean', 2, { persistence: { periods: 2 } }), asOf: ASOF, areas: AREAS, indicators: history }), 'KE023001');
    expect(persistent.stage).toBe('activation');
    expect(indicatorEvidence(persistent).map((e) => [e.periodStart, e.periodEnd, e.value])).toEqual([['2025-01-01', '2025-02-28', 15], ['2024-12-01', '2025-01-31', 10.5]]);
  });
});

describe('thresholds relative to a long-term reference', () => {
  // February VCI of five earlier years: 40, 50, 90, 70, 80 → median 70, mean 66; February 2025 is 49.
  const februaries = [[2020, 40], [2021, 50], [2022, 90], [2023, 70], [2024, 80]].map(([year, value]) => vci('KE023001', `${year}-02`, value));
  const distractors = [vci('KE023001', '2024-01', 1), vci('KE023001', '2024-03', 1), vci('KE023002', '2023-02', 1), vci('KE023001', '2019-02', 1, { knownAt: '2025-03-09T00:00:00Z' })];
  const current = vci('KE023001', '2025-02', 49);
  const belowReference = (relative: Record<string, unknown>, value = -25) =>
    inlineRule({ stages: { activation: { when: { indicator: { ...VCI, relative_to: { as: 'percent_difference', ...relative }, threshold: { op: 'lte', value } } } } } });
  const run = (rule: Rule, indicators: Value[], asOf = ASOF) => decision(evaluateRule({ rule, asOf, areas: AREAS, indicators }), 'KE023001');

  it('percent below the median of the same month in every earlier year (other months, areas and later-known values left out)', () => {
    const d = run(belowReference({ reference: 'long_term_median' }), [...februaries, ...distractors, current], '2025-03-08T00:00:00Z');
    expect(d.stage).toBe('activation');
    expect(indicatorEvidence(d)[0]).toMatchObject({
      value: 49, periodStart: '2025-02-01', reference: { kind: 'long_term_median', value: 70, years: [2020, 2021, 2022, 2023, 2024] },
      test: 'percent_difference vs long_term_median 70 (5 years 2020–2024) -30 ≤ -25 → holds',
    });
    // Once the 2019 value (1) is known it counts: median of 1, 40, 50, 90, 70, 80 is 60 → -18.33 %, above -25 %.
    const later = run(belowReference({ reference: 'long_term_median' }), [...februaries, ...distractors, current], '2025-03-10T00:00:00Z');
    expect(later.stage).toBe('none');
    expect(indicatorEvidence(later)[0]).toMatchObject({ reference: { value: 60, years: [2019, 2020, 2021, 2022, 2023, 2024] }, holds: false });
  });

  it('mean instead of median, a baseline period, difference instead of percent', () => {
    // Forecasts of earlier Februaries are not part of the climatology: only final values are.
    const oldForecasts = [2016, 2017, 2018].map((year) => vci('KE023001', `${year}-02`, 1000, { status: 'forecast', knownAt: `${year}-01-20T00:00:00Z` }));
    const mean = run(belowReference({ reference: 'long_term_mean' }), [...februaries, ...oldForecasts, current]);
    expect(indicatorEvidence(mean)[0].reference).toEqual({ kind: 'long_term_mean', value: 66, years: [2020, 2021, 2022, 2023, 2024] });
    expect(indicatorEvidence(mean)[0].test).toBe('percent_difference vs long_term_mean 66 (5 years 2020–2024) -25.757576 ≤ -25 → holds');
    const baseline = run(belowReference({ reference: 'long_term_median', baseline: { from_year: 2020, to_year: 2022 } }), [...februaries, current]);
    expect(baseline.stage).toBe('none'); // median of 40, 50, 90 is 50: 49 is only 2 % below
    expect(indicatorEvidence(baseline)[0]).toMatchObject({ reference: { value: 50, years: [2020, 2021, 2022] }, test: 'percent_difference vs long_term_median 50 (3 years 2020–2022) -2 ≤ -25 → does not hold' });
    const difference = run(belowReference({ reference: 'long_term_median', as: 'difference' }, -21), [...februaries, current]);
    expect(indicatorEvidence(difference)[0].test).toBe('difference vs long_term_median 70 (5 years 2020–2024) -21 ≤ -21 → holds');
  });

  it('fewer than 3 years is unknown with a note; return-period levels are not computed', () => {
    const short = run(belowReference({ reference: 'long_term_median' }), [...februaries.slice(3), current]);
    expect(short.stage).toBe('none');
    expect(notes(short)).toEqual([
      'vci3m for KE023001 2025-02-01–2025-02-28: long_term_median needs final values for month 02 in at least 3 years before 2025 known by 2025-03-10T00:00:00Z; found 2 (2023, 2024)',
    ]);
    const returnPeriod = run(belowReference({ reference: 'return_period_level', return_period_years: 5 }), [...februaries, current]);
    expect(returnPeriod.stage).toBe('none');
    expect(notes(returnPeriod)[0]).toMatch(/return_period_level needs the 5-year level fitted to annual maxima, which this evaluator does not do/);
  });

  it('dekadal values compare with the same dekad (same start day) of earlier years', () => {
    const dekad = (year: number, start: string, end: string, value: number): Value => ({
      pcode: 'KE023001', indicator: 'rfe', periodStart: `${year}-${start}`, periodEnd: `${year}-${end}`, value, status: 'final', source: 'CHIRPS', knownAt: `${year}-${end}T12:00:00Z`,
    });
    const rule = inlineRule({ stages: { activation: { when: { indicator: { ...VCI, name: 'rfe', source: 'CHIRPS', period: 'dekadal', relative_to: { reference: 'long_term_mean', as: 'percent_difference' }, threshold: { op: 'lte', value: -50 } } } } } });
    const indicators = [
      dekad(2022, '02-21', '02-28', 30), dekad(2023, '02-21', '02-28', 40), dekad(2024, '02-21', '02-29', 50),
      dekad(2022, '02-11', '02-20', 500), dekad(2024, '03-01', '03-10', 500), // other dekads
      dekad(2025, '02-21', '02-28', 20),
    ];
    const d = run(rule, indicators);
    expect(d.stage).toBe('activation');
    expect(indicatorEvidence(d)[0]).toMatchObject({ reference: { kind: 'long_term_mean', value: 40, years: [2022, 2023, 2024] }, test: 'percent_difference vs long_term_mean 40 (3 years 2022–2024) -50 ≤ -50 → holds' });
  });

  it('with a window, each year contributes its aggregate: 3-month rainfall sum against the median of earlier 3-month sums', () => {
    const rule = inlineRule({
      stages: { activation: { when: { indicator: { ...VCI, aggregation: { method: 'sum', window: { count: 3, unit: 'months' } }, relative_to: { reference: 'long_term_median', as: 'percent_difference' }, threshold: { op: 'lte', value: -20 } } } } },
    });
    const season = (year: number, values: number[]) => values.map((v, i) => vci('KE023001', `${year}-${String(i + 1).padStart(2, '0')}`, v));
    // Jan–Mar sums: 2022 60, 2023 90, 2024 120 (2021 lacks February: skipped), 2025 70 → median 90, -22.2 %.
    const indicators = [...season(2021, [10, 10]).slice(0, 1), vci('KE023001', '2021-03', 10), ...season(2022, [20, 20, 20]), ...season(2023, [30, 30, 30]), ...season(2024, [40, 40, 40]), ...season(2025, [20, 20, 30])];
    const d = run(rule, indicators, '2025-04-10T00:00:00Z');
    expect(d.stage).toBe('activation');
    expect(indicatorEvidence(d)[0]).toMatchObject({ value: 70, periodStart: '2025-01-01', periodEnd: '2025-03-31', reference: { value: 90, years: [2022, 2023, 2024] } });
  });
});

describe('gate and declaration records', () => {
  const AREAS_PH: EvaluationInput['areas'] = [
    { pcode: 'PH', level: 0, parentPcode: null }, { pcode: 'PH08', level: 1, parentPcode: 'PH' }, { pcode: 'PH0837', level: 2, parentPcode: 'PH08' },
    { pcode: 'PH083747', level: 3, parentPcode: 'PH0837' }, { pcode: 'PH083748', level: 3, parentPcode: 'PH0837' },
  ];
  const gateRule = (kind: 'declaration' | 'official_alert' | 'coordinator_confirmation') =>
    inlineRule({ country: 'PHL', areas: { admin_level: 3, within: ['PH'] }, stages: { activation: { when: { gate: { kind, by: 'OCD', description: 'd' } } } } });
  const declarationRule = (condition: Record<string, unknown>) =>
    inlineRule({ country: 'PHL', areas: { admin_level: 3, within: ['PH'] }, stages: { activation: { when: { declaration: { kinds: ['state_of_calamity'], ...condition } } } } });
  const AT = '2025-03-01T00:00:00Z';
  const run = (rule: Rule, gates: EvaluationInput['gates'], asOf = ASOF) => decision(evaluateRule({ rule, asOf, areas: AREAS_PH, indicators: [], gates }), 'PH083747');

  it('a declaration gate takes any declaration kind (or a record of kind declaration), not a confirmation', () => {
    for (const kind of ['state_of_calamity', 'state_of_emergency', 'disaster', 'notified_calamity', 'official_alert', 'declaration']) {
      expect(run(gateRule('declaration'), [{ kind, pcodes: ['PH0837'], at: AT, id: 'R1' }]).stage, kind).toBe('activation');
    }
    const confirmation = run(gateRule('declaration'), [{ kind: 'coordinator_confirmation', pcodes: ['PH0837'], at: AT }]);
    expect(confirmation).toMatchObject({ stage: 'none', waitingFor: ['declaration: OCD'] });
    const d = run(gateRule('declaration'), [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, id: 'SOC-2025-17' }]);
    expect(d.evidence).toContainEqual({ kind: 'gate', name: 'declaration: OCD', satisfied: true, at: AT, id: 'SOC-2025-17' });
  });

  it('an official_alert gate takes only an official_alert record; other gates only their own kind', () => {
    expect(run(gateRule('official_alert'), [{ kind: 'state_of_emergency', pcodes: 'all', at: AT }]).stage).toBe('none');
    expect(run(gateRule('official_alert'), [{ kind: 'declaration', pcodes: 'all', at: AT }]).stage).toBe('none');
    expect(run(gateRule('official_alert'), [{ kind: 'official_alert', pcodes: 'all', at: AT }]).stage).toBe('activation');
    expect(run(gateRule('coordinator_confirmation'), [{ kind: 'state_of_calamity', pcodes: 'all', at: AT }]).stage).toBe('none');
    expect(run(gateRule('coordinator_confirmation'), [{ kind: 'coordinator_confirmation', pcodes: 'all', at: AT }]).stage).toBe('activation');
  });

  it('a record counts up to and including its validUntil day, for gates and declarations alike', () => {
    const gates = [{ kind: 'state_of_calamity', pcodes: ['PH08'], at: AT, id: 'SOC-1', validUntil: '2025-03-10' }];
    expect(run(gateRule('declaration'), gates, '2025-03-10T23:59:59Z').stage).toBe('activation');
    expect(run(declarationRule({}), gates, '2025-03-10T23:59:59Z').stage).toBe('activation');
    const after = run(declarationRule({}), gates, '2025-03-11T00:00:00Z');
    expect(after.stage).toBe('none');
    expect(after.evidence).toEqual([
      { kind: 'declaration', name: 'state_of_calamity', satisfied: false, at: null, id: null },
      { kind: 'note', text: 'state_of_calamity SOC-1 of 2025-03-01 does not count: valid until 2025-03-10' },
    ]);
    const gateAfter = run(gateRule('declaration'), gates, '2025-03-11T00:00:00Z');
    expect(gateAfter).toMatchObject({ stage: 'none', waitingFor: ['declaration: OCD'] });
  });

  it('hazards: a declared hazard must be listed; a record without hazard cannot satisfy a rule that lists hazards', () => {
    const rule = declarationRule({ hazards: ['flood', 'tropical_cyclone'] });
    const flood = run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, id: 'A', hazard: 'flood' }]);
    expect(flood.stage).toBe('activation');
    expect(flood.evidence).toEqual([{ kind: 'declaration', name: 'state_of_calamity for flood | tropical_cyclone', satisfied: true, at: AT, id: 'A' }]);
    const drought = run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, id: 'B', hazard: 'drought' }, { kind: 'state_of_calamity', pcodes: ['PH0837'], at: '2025-02-01T00:00:00Z', id: 'C' }]);
    expect(drought.stage).toBe('none');
    expect(notes(drought)).toEqual([
      'state_of_calamity B of 2025-03-01 does not count: hazard drought; the rule needs flood or tropical_cyclone',
      'state_of_calamity C of 2025-02-01 does not count: no hazard recorded; the rule needs flood or tropical_cyclone',
    ]);
    // Without hazards in the rule, any hazard counts.
    expect(run(declarationRule({}), [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, hazard: 'drought' }]).stage).toBe('activation');
  });

  it('issuer: compared without regard to case when both are given; a record without issuer counts with a note', () => {
    const rule = declarationRule({ issuer: 'NDRRMC' });
    expect(run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, issuer: 'ndrrmc' }]).stage).toBe('activation');
    const other = run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, issuer: 'Provincial Board' }]);
    expect(other.stage).toBe('none');
    expect(notes(other)).toEqual(['state_of_calamity of 2025-03-01 does not count: issued by "Provincial Board"; the rule needs "NDRRMC"']);
    const unknown = run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, id: 'X' }]);
    expect(unknown.stage).toBe('activation');
    expect(notes(unknown)).toEqual(['state_of_calamity X of 2025-03-01: no issuer recorded, so "NDRRMC" could not be checked']);
  });

  it('issuer as a list: a declaration by any one of the issuers counts, by another does not, and the note names them all', () => {
    const rule = declarationRule({ issuer: ['NDRRMC', 'Office of Civil Defense'] });
    const second = run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, id: 'OCD-1', issuer: 'office of civil defense' }]);
    expect(second.stage).toBe('activation');
    expect(second.evidence).toEqual([{ kind: 'declaration', name: 'state_of_calamity', satisfied: true, at: AT, id: 'OCD-1' }]);
    const other = run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, issuer: 'Provincial Board' }]);
    expect(other.stage).toBe('none');
    expect(notes(other)).toEqual(['state_of_calamity of 2025-03-01 does not count: issued by "Provincial Board"; the rule needs "NDRRMC" or "Office of Civil Defense"']);
    const unknown = run(rule, [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: AT, id: 'X' }]);
    expect(notes(unknown)).toEqual(['state_of_calamity X of 2025-03-01: no issuer recorded, so "NDRRMC" or "Office of Civil Defense" could not be checked']);
  });

  it('issuer: an empty list or a list with an empty name is a mistake in the rule, not "any issuer"', () => {
    const parse = (issuer: unknown) => ruleSchema.safeParse({
      id: 'test-rule', title: 'test', country: 'PHL', programme: 'HSNP', owner: 'NDMA', effective: { from: '2024-01-01' }, agreed_text: 'test',
      areas: { admin_level: 3, within: ['PH'] }, response: RESPONSE, stages: { activation: { when: { declaration: { kinds: ['state_of_calamity'], issuer } } } },
    });
    expect(parse(['NDRRMC', 'OCD']).success).toBe(true);
    expect(parse([]).success).toBe(false);
    expect(parse(['NDRRMC', '']).success).toBe(false);
  });

  it('valid_days counts from the declaration; the latest valid record is the one shown', () => {
    const rule = declarationRule({ valid_days: 5 });
    const gates = [{ kind: 'state_of_calamity', pcodes: ['PH0837'], at: '2025-03-01T00:00:00Z', id: 'OLD' }, { kind: 'state_of_calamity', pcodes: ['PH0837'], at: '2025-03-04T00:00:00Z', id: 'NEW' }];
    expect(run(rule, gates, '2025-03-06T00:00:00Z').evidence[0]).toEqual({ kind: 'declaration', name: 'state_of_calamity', satisfied: true, at: '2025-03-04T00:00:00Z', id: 'NEW' });
    expect(run(rule, gates, '2025-03-09T00:00:00Z').stage).toBe('activation');
    const expired = run(rule, gates, '2025-03-09T00:00:01Z');
    expect(expired.stage).toBe('none');
    expect(notes(expired)[0]).toBe('state_of_calamity NEW of 2025-03-04 does not count: the rule counts a declaration for 5 days, until 2025-03-09');
  });
});
