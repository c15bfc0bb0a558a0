import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSeasonCalendar } from '../../src/areas/import-seasons.ts';
import { replayRule } from '../../src/engine/backtest.ts';
import type { HazardEventVersion } from '../../src/feeds/model.ts';
import {
  evaluateRule, type AreaDecision, type EvaluationInput, type EventEvidence, type GateEvidence, type GateRecord, type IndicatorEvidence,
} from '../../src/rules/evaluate.ts';
import type { IndicatorCondition, Rule, TriggerCondition } from '../../src/rules/schema.ts';
import { useExampleRules } from '../support/examples.ts';
import { projectRoot } from '../support/paths.ts';

// The fifteen rules of shock-response-practice.md §6, evaluated over constructed histories whose
// right answer is known: for each rule, what a coordinator would see month by month (or day by day)
// — stage, tier, what it waits for and the evidence behind it. Forms none of the fifteen uses
// (persistence, k of n, a threshold relative to the long-term median) are tested at the end on
// variants of the examples.

const { example } = useExampleRules();

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

type Value = EvaluationInput['indicators'][number];
type StoredEvent = NonNullable<EvaluationInput['events']>[number];
type Areas = EvaluationInput['areas'];

/** A tree of areas from `[pcode, level, parent]` triples. */
const tree = (...rows: [string, number, string | null][]): Areas => rows.map(([pcode, level, parentPcode]) => ({ pcode, level, parentPcode }));

const lastDay = (month: string): string => {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
};

/** Monthly NDMA VCI-3M values for one sub-county, each published on the 5th of the next month at 09:00. */
function vciHistory(pcode: string, months: Record<string, number>, status: 'final' | 'forecast' = 'final'): Value[] {
  return Object.entries(months).map(([month, value]) => {
    const end = lastDay(month);
    const published = new Date(Date.parse(`${end}T09:00:00Z`) + 5 * 86_400_000).toISOString().replace('.000', '');
    return { pcode, indicator: 'vci3m', periodStart: `${month}-01`, periodEnd: end, value, status, source: 'NDMA', knownAt: published };
  });
}

function run(rule: Rule, asOf: string, data: { areas: Areas; indicators?: Value[]; events?: StoredEvent[]; gates?: GateRecord[] }): AreaDecision[] {
  return evaluateRule({ rule, asOf, areas: data.areas, indicators: data.indicators ?? [], events: data.events ?? [], gates: data.gates ?? [] });
}

const decision = (decisions: AreaDecision[], pcode: string): AreaDecision => {
  const found = decisions.find((d) => d.pcode === pcode);
  if (!found) throw new Error(`no decision for ${pcode}`);
  return found;
};

/** stage / tier / waitingFor of one decision, for compact tables. */
const summary = (d: AreaDecision) => ({ stage: d.stage, tier: d.tier, waitingFor: d.waitingFor });

const indicatorEvidence = (d: AreaDecision): IndicatorEvidence[] => d.evidence.filter((e): e is IndicatorEvidence => e.kind === 'indicator');
const eventEvidence = (d: AreaDecision): EventEvidence[] => d.evidence.filter((e): e is EventEvidence => e.kind === 'event');
const gateEvidence = (d: AreaDecision): GateEvidence[] => d.evidence.filter((e): e is GateEvidence => e.kind === 'gate' || e.kind === 'declaration');
const notes = (d: AreaDecision): string[] => d.evidence.flatMap((e) => (e.kind === 'note' ? [e.text] : []));

/** A hazard event version as the feeds store it, with the areas its footprint touches. */
function hazardEvent(fields: Partial<HazardEventVersion> & Pick<HazardEventVersion, 'source' | 'externalId' | 'hazard'> & { knownAt: string; affectedPcodes: string[] }): StoredEvent {
  return {
    aliases: [], version: '1', versionRank: 1, eventAlertLevel: null, episodeAlertLevel: null, severity: [], footprints: [], validFrom: null, validTo: null,
    issuedAt: fields.knownAt, title: null, countries: [], link: null, status: 'actual', supersedes: [], cancels: false, pcodes: [], properties: {}, ...fields,
  };
}

const POLYGON = { type: 'Polygon' as const, coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] };

// Kenya: Turkana (KE023) and Marsabit (KE010) are HSNP counties; Nakuru (KE032) is not.
const KENYA = tree(
  ['KE', 0, null], ['KE023', 1, 'KE'], ['KE023001', 2, 'KE023'], ['KE023002', 2, 'KE023'], ['KE023003', 2, 'KE023'],
  ['KE010', 1, 'KE'], ['KE010001', 2, 'KE010'], ['KE032', 1, 'KE'], ['KE032001', 2, 'KE032'],
);

// ---------------------------------------------------------------------------------------------
// 1–4 Kenya HSNP
// ---------------------------------------------------------------------------------------------

describe('ke-hsnp-vci-severe', () => {
  const rule = () => example('ke-hsnp-vci-severe');
  // Turkana North through a drought: moderate, severe (just under 20), severe (exactly 10), extreme, recovered (exactly 20).
  const indicators = vciHistory('KE023001', { '2024-10': 25, '2024-11': 19.99, '2024-12': 10, '2025-01': 9.99, '2025-02': 20 });

  it('month by month on the band edges: 19.99 and 10 are severe, 9.99 is extreme (the other rule), 20 is moderate again', () => {
    const months = ['2024-11-06', '2024-12-06', '2025-01-06', '2025-02-06', '2025-03-06'].map((day) => {
      const d = decision(run(rule(), `${day}T00:00:00Z`, { areas: KENYA, indicators }), 'KE023001');
      return [day, d.stage, d.tier, indicatorEvidence(d)[0].test];
    });
    expect(months).toEqual([
      ['2024-11-06', 'none', null, '20 ≤ 25 < 35 → moderate (not triggering)'],
      ['2024-12-06', 'activation', 'severe', '10 ≤ 19.99 < 20 → severe (triggering)'],
      ['2025-01-06', 'activation', 'severe', '10 ≤ 10 < 20 → severe (triggering)'],
      ['2025-02-06', 'none', null, '9.99 < 10 → extreme (not triggering)'],
      ['2025-03-06', 'none', null, '20 ≤ 20 < 35 → moderate (not triggering)'],
    ]);
  });

  it('the evidence a coordinator reads for an activation names the series, the period, the value and when it was published', () => {
    const d = decision(run(rule(), '2025-01-06T00:00:00Z', { areas: KENYA, indicators }), 'KE023001');
    expect(d).toMatchObject({ stage: 'activation', tier: 'severe', waitingFor: [] });
    expect(indicatorEvidence(d)[0]).toEqual({
      kind: 'indicator', trigger: 'vci', pcode: 'KE023001', indicator: 'vci3m', periodStart: '2024-12-01', periodEnd: '2024-12-31', value: 10,
      status: 'final', source: 'NDMA', knownAt: '2025-01-05T09:00:00Z', test: '10 ≤ 10 < 20 → severe (triggering)', holds: true,
      // The rule's unit "VCI (0-100)" is the range the value was checked against.
      plausibility: [{ indicator: 'vci3m', range: { min: 0, max: 100 }, source: 'rule', checked: 1 }],
    });
  });

  it('as of T, a value published after T is ignored: the evening before publication the previous month still decides', () => {
    const before = decision(run(rule(), '2024-12-05T08:59:59Z', { areas: KENYA, indicators }), 'KE023001');
    expect(before.stage).toBe('none');
    expect(indicatorEvidence(before)[0]).toMatchObject({ periodEnd: '2024-10-31', value: 25 });
    const at = decision(run(rule(), '2024-12-05T09:00:00Z', { areas: KENYA, indicators }), 'KE023001');
    expect(at).toMatchObject({ stage: 'activation', tier: 'severe' });
    expect(indicatorEvidence(at)[0]).toMatchObject({ periodEnd: '2024-11-30', value: 19.99 });
  });

  it('only the sub-counties of the HSNP counties are decided; one without data is none with a note', () => {
    const decisions = run(rule(), '2025-01-06T00:00:00Z', { areas: KENYA, indicators: [...indicators, ...vciHistory('KE032001', { '2024-12': 12 })] });
    expect(decisions.map((d) => d.pcode)).toEqual(['KE010001', 'KE023001', 'KE023002', 'KE023003']);
    expect(notes(decision(decisions, 'KE010001'))).toEqual(['no vci3m value from NDMA for KE010001 known by 2025-01-06T00:00:00Z (final)']);
  });
});

describe('ke-hsnp-vci-extreme', () => {
  const rule = () => example('ke-hsnp-vci-extreme');

  it('VCI-3M 9.99 and 0 are extreme (tier extreme), 10 is not; recovery the next month ends it', () => {
    const indicators = [
      ...vciHistory('KE023001', { '2025-01': 9.99, '2025-02': 12 }),
      ...vciHistory('KE023002', { '2025-01': 10 }),
      ...vciHistory('KE010001', { '2025-01': 0 }),
    ];
    const february = run(rule(), '2025-02-10T00:00:00Z', { areas: KENYA, indicators });
    expect(summary(decision(february, 'KE023001'))).toEqual({ stage: 'activation', tier: 'extreme', waitingFor: [] });
    expect(indicatorEvidence(decision(february, 'KE023001'))[0].test).toBe('9.99 < 10 → extreme (triggering)');
    expect(summary(decision(february, 'KE023002'))).toEqual({ stage: 'none', tier: null, waitingFor: [] });
    expect(indicatorEvidence(decision(february, 'KE023002'))[0].test).toBe('10 ≤ 10 < 20 → severe (not triggering)');
    expect(summary(decision(february, 'KE010001'))).toEqual({ stage: 'activation', tier: 'extreme', waitingFor: [] });
    const march = run(rule(), '2025-03-10T00:00:00Z', { areas: KENYA, indicators });
    expect(decision(march, 'KE023001')).toMatchObject({ stage: 'none', tier: null });
    expect(indicatorEvidence(decision(march, 'KE023001'))[0]).toMatchObject({ periodEnd: '2025-02-28', value: 12, holds: false });
  });
});

describe('ke-hsnp-vci-scale-down', () => {
  const rule = () => example('ke-hsnp-vci-scale-down');
  // Turkana North: severe, extreme, back to severe, recovered exactly at 20, severe again.
  const north = vciHistory('KE023001', { '2024-11': 15, '2024-12': 8, '2025-01': 19.99, '2025-02': 20, '2025-03': 12 });
  // Turkana Central recovers to normal.
  const central = vciHistory('KE023002', { '2025-01': 5, '2025-02': 35 });

  it('tiers follow the bands month by month; VCI ≥ 20 stops payments, and the area can activate again later', () => {
    const table = ['2024-12-10', '2025-01-10', '2025-02-10', '2025-03-10', '2025-04-10'].map((day) => {
      const d = decision(run(rule(), `${day}T00:00:00Z`, { areas: KENYA, indicators: north }), 'KE023001');
      return [day, d.stage, d.tier, d.evidence.some((e) => e.kind === 'scale_down')];
    });
    expect(table).toEqual([
      ['2024-12-10', 'activation', 'severe', false],
      ['2025-01-10', 'activation', 'extreme', false],
      ['2025-02-10', 'activation', 'severe', false],
      ['2025-03-10', 'none', null, true],
      ['2025-04-10', 'activation', 'severe', false],
    ]);
  });

  it('the scale-down evidence shows the recovered value and the effect', () => {
    const decisions = run(rule(), '2025-03-10T00:00:00Z', { areas: KENYA, indicators: [...north, ...central] });
    const recovered = decision(decisions, 'KE023001');
    expect(recovered.evidence).toContainEqual({ kind: 'scale_down', effect: 'stop_payments', onlyBefore: null, text: 'scale_down condition holds → stop_payments' });
    expect(indicatorEvidence(recovered).map((e) => [e.trigger, e.value, e.test])).toEqual([
      ['vci', 20, '20 ≤ 20 < 35 → moderate (not triggering)'],
      [null, 20, '20 ≥ 20 → holds'],
    ]);
    const normal = decision(decisions, 'KE023002');
    expect(summary(normal)).toEqual({ stage: 'none', tier: null, waitingFor: [] });
    expect(indicatorEvidence(normal).map((e) => e.test)).toContain('35 ≥ 20 → holds');
  });
});

describe('ke-hsnp-exclusivity', () => {
  // Who is excluded (Group 1, no ID or account) is decided on the household list, not here: the
  // area decision is the shared two-band trigger of the HSNP rules.
  const rule = () => example('ke-hsnp-exclusivity');

  it('severe and extreme sub-counties activate with their tier; moderate does not; a forecast alone never counts', () => {
    const indicators = [
      ...vciHistory('KE023001', { '2025-02': 15 }),
      ...vciHistory('KE023002', { '2025-02': 5 }),
      ...vciHistory('KE023003', { '2025-02': 20 }),
      ...vciHistory('KE010001', { '2025-02': 5 }, 'forecast'),
    ];
    const decisions = run(rule(), '2025-03-10T00:00:00Z', { areas: KENYA, indicators });
    expect(decisions.map((d) => [d.pcode, d.stage, d.tier])).toEqual([
      ['KE010001', 'none', null],
      ['KE023001', 'activation', 'severe'],
      ['KE023002', 'activation', 'extreme'],
      ['KE023003', 'none', null],
    ]);
    expect(notes(decision(decisions, 'KE010001'))).toEqual(['no vci3m value from NDMA for KE010001 known by 2025-03-10T00:00:00Z (final)']);
  });
});

// ---------------------------------------------------------------------------------------------
// 5 Ethiopia PSNP
// ---------------------------------------------------------------------------------------------

describe('et-psnp-leap-transitory', () => {
  const rule = () => example('et-psnp-leap-transitory');
  const ETHIOPIA = tree(['ET', 0, null], ['ET04', 1, 'ET'], ['ET0401', 2, 'ET04'], ['ET040101', 3, 'ET0401'], ['ET040102', 3, 'ET0401'], ['ET040103', 3, 'ET0401']);
  /** LEAP's estimate of people in transitory need for the kiremt season, a projection published 1 July. */
  const leap = (pcode: string, people: number): Value => ({
    pcode, indicator: 'leap_transitory_needs_people', periodStart: '2025-06-01', periodEnd: '2025-09-30', value: people, status: 'forecast', source: 'WFP LEAP', knownAt: '2025-07-01T00:00:00Z',
  });
  const indicators = [leap('ET040101', 12_500), leap('ET040102', 0)];
  const GATE = 'coordinator_confirmation: Federal Food Security Coordination Directorate';

  it('transitory need shown: the woreda waits for the federal confirmation (manual gate); 0 people or no estimate does not wait', () => {
    const decisions = run(rule(), '2025-07-20T00:00:00Z', { areas: ETHIOPIA, indicators });
    const need = decision(decisions, 'ET040101');
    expect(summary(need)).toEqual({ stage: 'none', tier: null, waitingFor: [GATE] });
    expect(indicatorEvidence(need)[0]).toMatchObject({ value: 12_500, status: 'forecast', test: '12500 > 0 → holds' });
    expect(gateEvidence(need)).toEqual([{ kind: 'gate', name: GATE, satisfied: false, at: null, id: null }]);
    expect(summary(decision(decisions, 'ET040102'))).toEqual({ stage: 'none', tier: null, waitingFor: [] });
    expect(indicatorEvidence(decision(decisions, 'ET040102'))[0].test).toBe('0 > 0 → does not hold');
    expect(summary(decision(decisions, 'ET040103'))).toEqual({ stage: 'none', tier: null, waitingFor: [] });
  });

  it('the confirmation for the zone activates the woreda from the moment it is recorded, not before', () => {
    const gates: GateRecord[] = [{ kind: 'coordinator_confirmation', pcodes: ['ET0401'], at: '2025-07-25T10:00:00Z', id: 'FSCD-2025-031' }];
    const before = decision(run(rule(), '2025-07-25T09:59:59Z', { areas: ETHIOPIA, indicators, gates }), 'ET040101');
    expect(before.waitingFor).toEqual([GATE]);
    const after = run(rule(), '2025-07-25T10:00:00Z', { areas: ETHIOPIA, indicators, gates });
    expect(summary(decision(after, 'ET040101'))).toEqual({ stage: 'activation', tier: null, waitingFor: [] });
    expect(gateEvidence(decision(after, 'ET040101'))).toEqual([{ kind: 'gate', name: GATE, satisfied: true, at: '2025-07-25T10:00:00Z', id: 'FSCD-2025-031' }]);
    // The confirmation does not create need where LEAP shows none.
    expect(decision(after, 'ET040102').stage).toBe('none');
  });

  it('a declaration is not the coordinator confirmation the gate asks for', () => {
    const gates: GateRecord[] = [{ kind: 'state_of_emergency', pcodes: 'all', at: '2025-07-10T00:00:00Z', hazard: 'drought' }];
    expect(decision(run(rule(), '2025-07-20T00:00:00Z', { areas: ETHIOPIA, indicators, gates }), 'ET040101').waitingFor).toEqual([GATE]);
  });
});

// ---------------------------------------------------------------------------------------------
// 6 Mauritania, 11 Malawi lean season (projections)
// ---------------------------------------------------------------------------------------------

describe('mr-elmaouna-lean-season', () => {
  const rule = () => example('mr-elmaouna-lean-season');
  const MAURITANIA = tree(['MR', 0, null], ['MR07', 1, 'MR'], ['MR0701', 2, 'MR07'], ['MR070101', 3, 'MR0701'], ['MR070102', 3, 'MR0701'], ['MR070103', 3, 'MR0701'], ['MR070104', 3, 'MR0701']);
  const ch = (pcode: string, phase: number, status: 'final' | 'forecast', knownAt: string, period: [string, string] = ['2025-06-01', '2025-08-31']): Value => ({
    pcode, indicator: 'ch_phase', periodStart: period[0], periodEnd: period[1], value: phase, status, source: 'Cadre Harmonisé (CSA / OSA)', knownAt,
  });
  const MARCH = '2025-03-25T00:00:00Z';
  const indicators = [
    ch('MR070101', 3, 'forecast', MARCH),
    ch('MR070102', 2, 'forecast', MARCH), ch('MR070102', 4, 'final', MARCH, ['2024-10-01', '2024-12-31']), // current situation: not the projection
    ch('MR070103', 4, 'forecast', MARCH), ch('MR070103', 2, 'forecast', '2025-04-10T00:00:00Z'), // revised down in April
    ch('MR070104', 4, 'final', MARCH, ['2024-10-01', '2024-12-31']), // no projection for this commune
  ];

  it('projected Phase 3 (the edge) or worse activates the commune; the current situation does not count', () => {
    const decisions = run(rule(), '2025-03-28T00:00:00Z', { areas: MAURITANIA, indicators });
    expect(decisions.map((d) => [d.pcode, d.stage])).toEqual([['MR070101', 'activation'], ['MR070102', 'none'], ['MR070103', 'activation'], ['MR070104', 'none']]);
    expect(indicatorEvidence(decision(decisions, 'MR070101'))[0]).toMatchObject({ periodStart: '2025-06-01', periodEnd: '2025-08-31', status: 'forecast', test: '3 ≥ 3 → holds' });
    expect(indicatorEvidence(decision(decisions, 'MR070102'))[0]).toMatchObject({ value: 2, status: 'forecast', holds: false });
    // Without a projection, the current Phase 4 is no stand-in: unknown, so no activation.
    expect(notes(decision(decisions, 'MR070104'))).toEqual(['no ch_phase value from Cadre Harmonisé (CSA / OSA) for MR070104 known by 2025-03-28T00:00:00Z (forecast)']);
  });

  it('before the March analysis is published nothing is known; the April revision replaces it; outside March–April the rule is closed', () => {
    const early = decision(run(rule(), '2025-03-24T00:00:00Z', { areas: MAURITANIA, indicators }), 'MR070101');
    expect(early.stage).toBe('none');
    expect(notes(early)).toEqual(['no ch_phase value from Cadre Harmonisé (CSA / OSA) for MR070101 known by 2025-03-24T00:00:00Z (forecast)']);
    const revised = decision(run(rule(), '2025-04-15T00:00:00Z', { areas: MAURITANIA, indicators }), 'MR070103');
    expect(revised.stage).toBe('none');
    expect(indicatorEvidence(revised)[0]).toMatchObject({ value: 2, knownAt: '2025-04-10T00:00:00Z' });
    const may = decision(run(rule(), '2025-05-02T00:00:00Z', { areas: MAURITANIA, indicators }), 'MR070101');
    expect(may.stage).toBe('none');
    expect(notes(may)).toEqual(['the rule can trigger only in months 3, 4; 2025-05-02 is in month 5']);
  });
});

describe('mw-lean-season-ipc', () => {
  const rule = () => example('mw-lean-season-ipc');
  const MALAWI = tree(['MW', 0, null], ['MW3', 1, 'MW'], ['MW312', 2, 'MW3'], ['MW313', 2, 'MW3'], ['MW314', 2, 'MW3']);
  const ipc = (pcode: string, share: number, knownAt: string, status: 'final' | 'forecast' = 'forecast', period: [string, string] = ['2025-10-01', '2026-03-31']): Value => ({
    pcode, indicator: 'ipc_p3plus_percent', periodStart: period[0], periodEnd: period[1], value: share, status, source: 'MVAC / IPC', knownAt,
  });
  const JULY = '2025-07-20T08:00:00Z';
  const indicators = [
    ipc('MW312', 10, JULY),
    ipc('MW313', 9.99, JULY), ipc('MW313', 40, JULY, 'final', ['2025-04-01', '2025-06-30']),
    ipc('MW314', 22, JULY), ipc('MW314', 8, '2025-08-05T08:00:00Z'), // revised projection
  ];

  it('10 % projected in Phase 3+ includes the district, 9.99 % does not (the current 40 % is not the projection)', () => {
    const decisions = run(rule(), '2025-07-21T00:00:00Z', { areas: MALAWI, indicators });
    expect(decisions.map((d) => [d.pcode, d.stage])).toEqual([['MW312', 'activation'], ['MW313', 'none'], ['MW314', 'activation']]);
    expect(indicatorEvidence(decision(decisions, 'MW312'))[0]).toMatchObject({ value: 10, status: 'forecast', test: '10 ≥ 10 → holds' });
    expect(indicatorEvidence(decision(decisions, 'MW313'))[0]).toMatchObject({ value: 9.99, test: '9.99 ≥ 10 → does not hold' });
  });

  it('as of the morning before publication nothing triggers; after the August revision the district drops out', () => {
    expect(run(rule(), '2025-07-20T07:59:59Z', { areas: MALAWI, indicators }).map((d) => d.stage)).toEqual(['none', 'none', 'none']);
    const august = decision(run(rule(), '2025-08-10T00:00:00Z', { areas: MALAWI, indicators }), 'MW314');
    expect(august.stage).toBe('none');
    expect(indicatorEvidence(august)[0]).toMatchObject({ value: 8, knownAt: '2025-08-05T08:00:00Z' });
  });
});

// ---------------------------------------------------------------------------------------------
// 7–9 Philippines
// ---------------------------------------------------------------------------------------------

// Eastern Visayas (PH08): Leyte (PH0837) with Tacloban (PH083747) and Palo (PH083748); Samar (PH0860).
const PHILIPPINES = tree(
  ['PH', 0, null], ['PH08', 1, 'PH'], ['PH0837', 2, 'PH08'], ['PH083747', 3, 'PH0837'], ['PH083748', 3, 'PH0837'],
  ['PH083747001', 4, 'PH083747'], ['PH083747002', 4, 'PH083747'], ['PH083748001', 4, 'PH083748'],
  ['PH0860', 2, 'PH08'], ['PH086001', 3, 'PH0860'], ['PH086001001', 4, 'PH086001'],
);
const calamity = (pcodes: string[] | 'all', at: string, extra: Partial<GateRecord> = {}): GateRecord => ({
  kind: 'state_of_calamity', pcodes, at, id: 'SOC-LEYTE-2025-11', hazard: 'tropical_cyclone', issuer: 'Sangguniang Panlalawigan of Leyte', ...extra,
});

describe('ph-dswd-ect', () => {
  const rule = () => example('ph-dswd-ect');
  const MARKETS = 'market_check: DSWD Field Office';
  const PDANA = 'assessment: DSWD with the LGU';
  const declared = calamity(['PH0837'], '2025-11-08T00:00:00Z');
  const markets: GateRecord = { kind: 'market_check', pcodes: ['PH083747'], at: '2025-11-12T00:00:00Z', id: 'MKT-TAC-1' };
  const pdana: GateRecord = { kind: 'assessment', pcodes: ['PH083747'], at: '2025-11-14T00:00:00Z', id: 'PDANA-TAC-1' };
  const gates = [declared, markets, pdana];
  const at = (asOf: string, pcode = 'PH083747') => decision(run(rule(), asOf, { areas: PHILIPPINES, gates }), pcode);

  it('declaration AND markets AND PDANA: the municipality waits for both gates, then for the PDANA, then activates', () => {
    expect(summary(at('2025-11-10T00:00:00Z'))).toEqual({ stage: 'none', tier: null, waitingFor: [MARKETS, PDANA] });
    expect(summary(at('2025-11-13T00:00:00Z'))).toEqual({ stage: 'none', tier: null, waitingFor: [PDANA] });
    const active = at('2025-11-15T00:00:00Z');
    expect(summary(active)).toEqual({ stage: 'activation', tier: null, waitingFor: [] });
    expect(gateEvidence(active)).toEqual([
      { kind: 'declaration', name: 'state_of_calamity', satisfied: true, at: '2025-11-08T00:00:00Z', id: 'SOC-LEYTE-2025-11' },
      { kind: 'gate', name: MARKETS, satisfied: true, at: '2025-11-12T00:00:00Z', id: 'MKT-TAC-1' },
      { kind: 'gate', name: PDANA, satisfied: true, at: '2025-11-14T00:00:00Z', id: 'PDANA-TAC-1' },
    ]);
    // Palo is under the same declaration but its markets and PDANA are not confirmed.
    expect(summary(at('2025-11-15T00:00:00Z', 'PH083748'))).toEqual({ stage: 'none', tier: null, waitingFor: [MARKETS, PDANA] });
    // Samar has no declaration: nothing to wait for.
    expect(summary(at('2025-11-15T00:00:00Z', 'PH086001'))).toEqual({ stage: 'none', tier: null, waitingFor: [] });
  });

  it('the declaration counts for 90 days: on day 90 the area is still active, the day after it is not and waits for nothing', () => {
    expect(at('2026-02-06T00:00:00Z').stage).toBe('activation'); // 8 November + 90 days
    const expired = at('2026-02-06T00:00:01Z');
    expect(summary(expired)).toEqual({ stage: 'none', tier: null, waitingFor: [] });
    expect(notes(expired)).toEqual(['state_of_calamity SOC-LEYTE-2025-11 of 2025-11-08 does not count: the rule counts a declaration for 90 days, until 2026-02-06']);
  });

  it('a declaration of another kind (state of emergency) is not a state of calamity', () => {
    const other = run(rule(), '2025-11-15T00:00:00Z', { areas: PHILIPPINES, gates: [{ ...declared, kind: 'state_of_emergency' }, markets, pdana] });
    expect(summary(decision(other, 'PH083747'))).toEqual({ stage: 'none', tier: null, waitingFor: [] });
  });
});

describe('ph-esa-damage-tiers', () => {
  const rule = () => example('ph-esa-damage-tiers');

  it('a provincial declaration covers its municipalities only, from its date, until its validUntil', () => {
    const gates = [calamity(['PH0837'], '2025-11-08T00:00:00Z', { validUntil: '2026-11-07' })];
    const decisions = run(rule(), '2025-11-20T00:00:00Z', { areas: PHILIPPINES, gates });
    expect(decisions.map((d) => [d.pcode, d.stage])).toEqual([['PH083747', 'activation'], ['PH083748', 'activation'], ['PH086001', 'none']]);
    expect(gateEvidence(decision(decisions, 'PH083747'))).toEqual([
      { kind: 'declaration', name: 'state_of_calamity', satisfied: true, at: '2025-11-08T00:00:00Z', id: 'SOC-LEYTE-2025-11' },
    ]);
    expect(run(rule(), '2025-11-07T23:59:59Z', { areas: PHILIPPINES, gates }).map((d) => d.stage)).toEqual(['none', 'none', 'none']);
    expect(run(rule(), '2026-11-07T12:00:00Z', { areas: PHILIPPINES, gates })[0].stage).toBe('activation');
    const lapsed = decision(run(rule(), '2026-11-08T00:00:00Z', { areas: PHILIPPINES, gates }), 'PH083747');
    expect(lapsed.stage).toBe('none');
    expect(notes(lapsed)).toEqual(['state_of_calamity SOC-LEYTE-2025-11 of 2025-11-08 does not count: valid until 2026-11-07']);
  });

  it('the rule lists no hazard, so a calamity declared for any hazard counts; a national declaration covers everyone', () => {
    const gates = [calamity(['PH0860'], '2025-11-08T00:00:00Z', { hazard: 'flood', id: 'SOC-SAMAR' })];
    expect(decision(run(rule(), '2025-11-20T00:00:00Z', { areas: PHILIPPINES, gates }), 'PH086001').stage).toBe('activation');
    const national = run(rule(), '2025-11-20T00:00:00Z', { areas: PHILIPPINES, gates: [calamity('all', '2025-11-10T00:00:00Z', { id: 'PROC-1077' })] });
    expect(national.map((d) => d.stage)).toEqual(['activation', 'activation', 'activation']);
  });
});

describe('ph-4ps-calamity-wfp-topup', () => {
  const rule = () => example('ph-4ps-calamity-wfp-topup');
  const WORST = 'coordinator_confirmation: DSWD Field Office with WFP';

  it('every barangay of the declared region activates; only those confirmed among the worst hit get the worst_hit tier', () => {
    const gates: GateRecord[] = [
      calamity(['PH08'], '2025-11-08T00:00:00Z', { id: 'SOC-R8' }),
      { kind: 'coordinator_confirmation', pcodes: ['PH083747'], at: '2025-11-12T00:00:00Z', id: 'WFP-19-LIST' },
    ];
    const before = run(rule(), '2025-11-10T00:00:00Z', { areas: PHILIPPINES, gates });
    expect(before.map((d) => [d.pcode, d.stage, d.tier])).toEqual([
      ['PH083747001', 'activation', null], ['PH083747002', 'activation', null], ['PH083748001', 'activation', null], ['PH086001001', 'activation', null],
    ]);
    const after = run(rule(), '2025-11-13T00:00:00Z', { areas: PHILIPPINES, gates });
    expect(after.map((d) => [d.pcode, d.tier])).toEqual([
      ['PH083747001', 'worst_hit'], ['PH083747002', 'worst_hit'], ['PH083748001', null], ['PH086001001', null],
    ]);
    expect(gateEvidence(decision(after, 'PH083747001'))).toEqual([
      { kind: 'declaration', name: 'state_of_calamity', satisfied: true, at: '2025-11-08T00:00:00Z', id: 'SOC-R8' },
      { kind: 'gate', name: WORST, satisfied: true, at: '2025-11-12T00:00:00Z', id: 'WFP-19-LIST' },
    ]);
  });

  it('the worst-hit confirmation alone, without a declaration, activates nothing', () => {
    const gates: GateRecord[] = [{ kind: 'coordinator_confirmation', pcodes: ['PH083747'], at: '2025-11-12T00:00:00Z' }];
    expect(run(rule(), '2025-11-13T00:00:00Z', { areas: PHILIPPINES, gates }).map((d) => d.stage)).toEqual(['none', 'none', 'none', 'none']);
  });
});

// ---------------------------------------------------------------------------------------------
// 10 Malawi flood, 12 Dominica, 13 Mexico: declarations
// ---------------------------------------------------------------------------------------------

describe('mw-sctp-flood-topup', () => {
  const rule = () => example('mw-sctp-flood-topup');
  // Southern region: Chikwawa (MW312), Nsanje (MW313); Central: Lilongwe (MW206).
  const MALAWI = tree(['MW', 0, null], ['MW3', 1, 'MW'], ['MW312', 2, 'MW3'], ['MW313', 2, 'MW3'], ['MW2', 1, 'MW'], ['MW206', 2, 'MW2']);
  const disaster = (extra: Partial<GateRecord>): GateRecord => ({ kind: 'disaster', pcodes: ['MW312', 'MW313'], at: '2025-01-20T00:00:00Z', id: 'DoDMA-2025-01', hazard: 'flood', issuer: 'President of Malawi', ...extra });
  const stages = (gates: GateRecord[], asOf = '2025-01-25T00:00:00Z') => run(rule(), asOf, { areas: MALAWI, gates }).map((d) => [d.pcode, d.stage]);

  it('districts declared flood-affected activate; others do not', () => {
    expect(stages([disaster({})])).toEqual([['MW206', 'none'], ['MW312', 'activation'], ['MW313', 'activation']]);
    const d = decision(run(rule(), '2025-01-25T00:00:00Z', { areas: MALAWI, gates: [disaster({})] }), 'MW312');
    expect(gateEvidence(d)).toEqual([{ kind: 'declaration', name: 'disaster | state_of_emergency for flood', satisfied: true, at: '2025-01-20T00:00:00Z', id: 'DoDMA-2025-01' }]);
  });

  it('wrong hazard, no hazard recorded, wrong kind or an expired declaration do not count, and the note says why', () => {
    const drought = decision(run(rule(), '2025-01-25T00:00:00Z', { areas: MALAWI, gates: [disaster({ hazard: 'drought', id: 'DoDMA-2025-02' })] }), 'MW312');
    expect(drought.stage).toBe('none');
    expect(notes(drought)).toEqual(['disaster DoDMA-2025-02 of 2025-01-20 does not count: hazard drought; the rule needs flood']);
    const noHazard = decision(run(rule(), '2025-01-25T00:00:00Z', { areas: MALAWI, gates: [disaster({ hazard: undefined })] }), 'MW312');
    expect(noHazard.stage).toBe('none');
    expect(notes(noHazard)).toEqual(['disaster DoDMA-2025-01 of 2025-01-20 does not count: no hazard recorded; the rule needs flood']);
    expect(stages([disaster({ kind: 'state_of_calamity' })])).toEqual([['MW206', 'none'], ['MW312', 'none'], ['MW313', 'none']]);
    expect(stages([disaster({ validUntil: '2025-04-20' })], '2025-04-20T12:00:00Z')[1]).toEqual(['MW312', 'activation']);
    expect(stages([disaster({ validUntil: '2025-04-20' })], '2025-04-21T00:00:00Z')[1]).toEqual(['MW312', 'none']);
  });
});

describe('dm-hurricane-ect', () => {
  const rule = () => example('dm-hurricane-ect');
  const DOMINICA = tree(['DM', 0, null], ['DM01', 1, 'DM']);
  const gdacs = (alert: 'orange' | 'red', footprint: string): StoredEvent =>
    hazardEvent({
      source: 'gdacs', externalId: 'TC1000992', hazard: 'tropical_cyclone', version: '12', versionRank: 12, eventAlertLevel: alert, episodeAlertLevel: alert,
      footprints: [{ class: footprint, geometry: POLYGON }], knownAt: '2025-09-18T03:00:00Z', affectedPcodes: ['DM01'],
    });
  const island = (data: { events?: StoredEvent[]; gates?: GateRecord[] }) => {
    const decisions = run(rule(), '2025-09-19T00:00:00Z', { areas: DOMINICA, ...data });
    expect(decisions.map((d) => d.pcode)).toEqual(['DM']); // the whole island is the one area
    return decisions[0];
  };

  it('any of: a GDACS red alert whose red footprint reaches the island activates it', () => {
    const red = island({ events: [gdacs('red', 'Poly_Red')] });
    expect(red.stage).toBe('activation');
    expect(eventEvidence(red)).toEqual([{
      kind: 'event', trigger: null, source: 'gdacs', externalId: 'TC1000992', version: '12', alert: 'red', knownAt: '2025-09-18T03:00:00Z',
      test: 'tropical_cyclone affecting DM: alert red ≥ red, footprint Poly_Red present → holds', holds: true,
    }]);
    expect(island({ events: [gdacs('orange', 'Poly_Red')] }).stage).toBe('none');
    expect(eventEvidence(island({ events: [gdacs('red', 'Poly_Orange')] }))[0].test).toBe('tropical_cyclone affecting DM: alert red ≥ red, footprint Poly_Red absent → does not hold');
  });

  it('any of: a disaster declaration for the hurricane activates it without any GDACS alert; a flood declaration does not', () => {
    const declared = island({ gates: [{ kind: 'disaster', pcodes: ['DM'], at: '2025-09-18T12:00:00Z', id: 'SRO-41-2025', hazard: 'tropical_cyclone' }] });
    expect(declared.stage).toBe('activation');
    expect(gateEvidence(declared)).toEqual([{ kind: 'declaration', name: 'disaster | state_of_emergency for tropical_cyclone', satisfied: true, at: '2025-09-18T12:00:00Z', id: 'SRO-41-2025' }]);
    const flood = island({ gates: [{ kind: 'disaster', pcodes: ['DM'], at: '2025-09-18T12:00:00Z', id: 'SRO-42-2025', hazard: 'flood' }] });
    expect(flood.stage).toBe('none');
    expect(notes(flood)).toEqual(['disaster SRO-42-2025 of 2025-09-18 does not count: hazard flood; the rule needs tropical_cyclone']);
  });
});

describe('mx-prospera-advance', () => {
  const rule = () => example('mx-prospera-advance');
  // Chiapas (MX07) and two of its municipios; Guerrero (MX12) and one of its municipios.
  const MEXICO = tree(['MX', 0, null], ['MX07', 1, 'MX'], ['MX07001', 2, 'MX07'], ['MX07002', 2, 'MX07'], ['MX12', 1, 'MX'], ['MX12001', 2, 'MX12']);
  const declaratoria: GateRecord = {
    kind: 'state_of_emergency', pcodes: ['MX07'], at: '2025-08-12T00:00:00Z', id: 'DOF-2025-08-12', hazard: 'flood', issuer: 'SECRETARÍA DE GOBERNACIÓN (DECLARATORIA DE EMERGENCIA)',
  };

  it('municipios under a federal emergency declaration activate (issuer compared without regard to case), from the declaration on', () => {
    const decisions = run(rule(), '2025-08-13T00:00:00Z', { areas: MEXICO, gates: [declaratoria] });
    expect(decisions.map((d) => [d.pcode, d.stage])).toEqual([['MX07001', 'activation'], ['MX07002', 'activation'], ['MX12001', 'none']]);
    expect(gateEvidence(decision(decisions, 'MX07001'))).toEqual([{ kind: 'declaration', name: 'state_of_emergency', satisfied: true, at: '2025-08-12T00:00:00Z', id: 'DOF-2025-08-12' }]);
    expect(run(rule(), '2025-08-11T23:59:59Z', { areas: MEXICO, gates: [declaratoria] }).map((d) => d.stage)).toEqual(['none', 'none', 'none']);
  });

  it("a state government's emergency declaration or a disaster declaration is not the federal emergency declaration", () => {
    const state: GateRecord = { ...declaratoria, pcodes: ['MX12'], id: 'GRO-2025-7', issuer: 'Gobierno del Estado de Guerrero' };
    const disaster: GateRecord = { ...declaratoria, kind: 'disaster', id: 'DOF-DESASTRE-1' };
    const decisions = run(rule(), '2025-08-13T00:00:00Z', { areas: MEXICO, gates: [state, disaster] });
    expect(decisions.map((d) => d.stage)).toEqual(['none', 'none', 'none']);
    expect(notes(decision(decisions, 'MX12001'))).toEqual([
      'state_of_emergency GRO-2025-7 of 2025-08-12 does not count: issued by "Gobierno del Estado de Guerrero"; the rule needs "Secretaría de Gobernación (Declaratoria de Emergencia)"',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// 14 Nigeria, 15 Mozambique: anticipatory action on forecasts
// ---------------------------------------------------------------------------------------------

describe('ng-benue-flood-aa', () => {
  const rule = () => example('ng-benue-flood-aa');
  const SEVEN = ['NG002001', 'NG002002', 'NG002004', 'NG002009', 'NG002016', 'NG002020', 'NG002021'];
  const NIGERIA = tree(['NG', 0, null], ['NG002', 1, 'NG'], ...SEVEN.map((p): [string, number, string] => [p, 2, 'NG002']), ['NG002003', 2, 'NG002'], ['NG003', 1, 'NG'], ['NG003001', 2, 'NG003']);
  const ISSUED = '2025-08-01T06:00:00Z';
  const glofas = (day: string, discharge: number, knownAt = ISSUED): Value => ({
    pcode: 'G5004', indicator: 'glofas_discharge', periodStart: day, periodEnd: day, value: discharge, status: 'forecast', source: 'ECMWF GloFAS', knownAt,
  });
  const floodHub = (day: string, discharge: number): Value => ({
    pcode: 'hybas_1120842550', indicator: 'floodhub_discharge', periodStart: day, periodEnd: day, value: discharge, status: 'forecast', source: 'Google Flood Hub', knownAt: ISSUED,
  });
  const stages = (indicators: Value[], asOf = '2025-08-01T12:00:00Z') => run(rule(), asOf, { areas: NIGERIA, indicators }).map((d) => d.stage);

  it('GloFAS ≥ 3,132 m³/s at Wuroboki 5 days ahead activates the seven LGAs on the Benue, and only them', () => {
    const decisions = run(rule(), '2025-08-01T12:00:00Z', { areas: NIGERIA, indicators: [glofas('2025-08-06', 3132)] });
    expect(decisions.map((d) => [d.pcode, d.stage])).toEqual(SEVEN.map((p) => [p, 'activation']));
    expect(indicatorEvidence(decisions[0])[0]).toEqual({
      kind: 'indicator', trigger: null, pcode: 'G5004', indicator: 'glofas_discharge', periodStart: '2025-08-06', periodEnd: '2025-08-06', value: 3132,
      status: 'forecast', source: 'ECMWF GloFAS', knownAt: ISSUED, test: '3132 ≥ 3132 → holds', holds: true, issuedAt: ISSUED, leadDays: 5,
    });
    expect(stages([glofas('2025-08-06', 3131.9)])).toEqual(SEVEN.map(() => 'none'));
  });

  it('a GloFAS forecast 6 days ahead is outside the 5-day lead window; a forecast issued after T does not count', () => {
    expect(stages([glofas('2025-08-07', 5000)])).toEqual(SEVEN.map(() => 'none'));
    const laterRun = glofas('2025-08-06', 4000, '2025-08-02T06:00:00Z');
    expect(stages([laterRun])).toEqual(SEVEN.map(() => 'none'));
    expect(stages([laterRun], '2025-08-02T06:00:00Z')).toEqual(SEVEN.map(() => 'activation'));
  });

  it('or Flood Hub ≥ 1,195 m³/s at Kangli at any lead time, even with GloFAS silent', () => {
    const decisions = run(rule(), '2025-08-01T12:00:00Z', { areas: NIGERIA, indicators: [floodHub('2025-08-13', 1195)] });
    expect(decisions.every((d) => d.stage === 'activation')).toBe(true);
    expect(notes(decisions[0])).toEqual(['no glofas_discharge value from ECMWF GloFAS for G5004 known by 2025-08-01T12:00:00Z (forecast)']);
    expect(indicatorEvidence(decisions[0])[0]).toMatchObject({ pcode: 'hybas_1120842550', test: '1195 ≥ 1195 → holds' });
    expect(stages([floodHub('2025-08-13', 1194), glofas('2025-08-06', 3000)])).toEqual(SEVEN.map(() => 'none'));
  });
});

describe('mz-cyclone-cvm-aa', () => {
  const rule = () => example('mz-cyclone-cvm-aa');
  // Nampula (MZ07): Angoche (MZ0701) on the coast, Ribáuè (MZ0702) inland; Niassa (MZ11).
  const MOZAMBIQUE = tree(['MZ', 0, null], ['MZ07', 1, 'MZ'], ['MZ0701', 2, 'MZ07'], ['MZ0702', 2, 'MZ07'], ['MZ11', 1, 'MZ'], ['MZ1101', 2, 'MZ11']);
  const ALERT = 'official_alert: CTGC (Technical Council for Disaster Management)';
  const EXPERTS = 'expert_consensus: CTGC technical experts';
  /** INAM's 72-h landfall forecast as a CAP alert; the caller has already applied the 120 km buffer (affected districts). */
  const inam = (wind: number): StoredEvent =>
    hazardEvent({
      source: 'cap', externalId: 'INAM,2025-03-08-001', hazard: 'tropical_cyclone', severity: [{ name: 'wind_speed', value: wind, unit: 'km/h' }],
      footprints: [{ class: 'polygon', geometry: POLYGON }], knownAt: '2025-03-08T06:00:00Z', affectedPcodes: ['MZ0701'],
    });
  const alert: GateRecord = { kind: 'official_alert', pcodes: ['MZ07'], at: '2025-03-08T10:00:00Z', id: 'CTGC-2025-04' };
  const experts: GateRecord = { kind: 'expert_consensus', pcodes: ['MZ0701'], at: '2025-03-08T14:00:00Z', id: 'CTGC-MIN-2025-04' };
  const trackChange: GateRecord = { kind: 'coordinator_confirmation', pcodes: 'all', at: '2025-03-09T08:00:00Z', id: 'CVM-STOP-1' };
  const at = (asOf: string, wind: number, gates: GateRecord[], pcode = 'MZ0701') => decision(run(rule(), asOf, { areas: MOZAMBIQUE, events: [inam(wind)], gates }), pcode);

  it('forecast 130 km/h: the coastal district waits for the official alert, then activates; the inland district is not affected', () => {
    expect(summary(at('2025-03-08T08:00:00Z', 130, [alert]))).toEqual({ stage: 'none', tier: null, waitingFor: [ALERT] });
    const active = at('2025-03-08T11:00:00Z', 130, [alert]);
    expect(summary(active)).toEqual({ stage: 'activation', tier: null, waitingFor: [] });
    expect(eventEvidence(active).map((e) => [e.trigger, e.test])).toEqual([
      ['landfall_120', 'tropical_cyclone affecting MZ0701: wind_speed 130 ≥ 120 → holds, footprint polygon present, sender not checked → holds'],
      ['landfall_100', 'tropical_cyclone affecting MZ0701: wind_speed 130 ≥ 100 → holds, footprint polygon present, sender not checked → holds'],
    ]);
    expect(gateEvidence(active)[0]).toEqual({ kind: 'gate', name: ALERT, satisfied: true, at: '2025-03-08T10:00:00Z', id: 'CTGC-2025-04' });
    expect(summary(at('2025-03-08T11:00:00Z', 130, [alert], 'MZ0702'))).toEqual({ stage: 'none', tier: null, waitingFor: [] });
  });

  it('the official alert gate is met only by an official alert, not by another declaration', () => {
    const emergency: GateRecord = { ...alert, kind: 'state_of_emergency', hazard: 'tropical_cyclone' };
    expect(summary(at('2025-03-08T11:00:00Z', 130, [emergency]))).toEqual({ stage: 'none', tier: null, waitingFor: [ALERT] });
  });

  it('forecast between 100 (the edge) and 120 km/h needs the documented expert consensus as well; below 100 waits for nothing', () => {
    expect(summary(at('2025-03-08T11:00:00Z', 100, [alert]))).toEqual({ stage: 'none', tier: null, waitingFor: [EXPERTS] });
    expect(summary(at('2025-03-08T15:00:00Z', 119.9, [alert, experts]))).toEqual({ stage: 'activation', tier: null, waitingFor: [] });
    const weak = at('2025-03-08T15:00:00Z', 99, [alert, experts]);
    expect(summary(weak)).toEqual({ stage: 'none', tier: null, waitingFor: [] });
    expect(eventEvidence(weak).map((e) => e.holds)).toEqual([false, false]);
  });

  it('a change of track confirmed by CVM cancels the activation (before first notification), with the stop evidence', () => {
    const stopped = at('2025-03-09T09:00:00Z', 130, [alert, trackChange]);
    expect(summary(stopped)).toEqual({ stage: 'none', tier: null, waitingFor: [] });
    expect(stopped.evidence).toContainEqual({
      kind: 'stop', effect: 'cancel', onlyBefore: 'first_notification',
      text: 'stop condition holds → cancel (only before first_notification: the caller must check the activation history)',
    });
    expect(gateEvidence(stopped)).toContainEqual({ kind: 'gate', name: 'coordinator_confirmation: CVM with INGD', satisfied: true, at: '2025-03-09T08:00:00Z', id: 'CVM-STOP-1' });
    expect(at('2025-03-09T07:59:59Z', 130, [alert, trackChange]).stage).toBe('activation');
  });
});

// ---------------------------------------------------------------------------------------------
// Further examples: forecast issues by month, end of season with a season calendar
// ---------------------------------------------------------------------------------------------

describe('mz-drought-aa-issue-months', () => {
  const rule = () => example('mz-drought-aa-issue-months');
  // Sofala (MZ07) and Tete (MZ05) are covered; Niassa (MZ01) is not.
  const MOZAMBIQUE = tree(
    ['MZ', 0, null], ['MZ07', 1, 'MZ'], ['MZ0701', 2, 'MZ07'], ['MZ0702', 2, 'MZ07'], ['MZ05', 1, 'MZ'], ['MZ0501', 2, 'MZ05'], ['MZ01', 1, 'MZ'], ['MZ0101', 2, 'MZ01'],
  );
  /** One issue of the forecast: issued on the day (midnight UTC), received the next morning. */
  const issue = (pcode: string, issued: string, percent: number, period: [string, string] = ['2025-11-01', '2026-01-31']): Value => ({
    pcode, indicator: 'p_spi3_moderate', periodStart: period[0], periodEnd: period[1], value: percent, status: 'forecast', source: 'WFP',
    issuedAt: `${issued}T00:00:00.000Z`, knownAt: `${addDay(issued)}T07:00:00Z`,
  });
  const addDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const indicators = [
    // Ready in September, set in October.
    issue('MZ0701', '2025-08-15', 20), issue('MZ0701', '2025-09-15', 45), issue('MZ0701', '2025-10-15', 42),
    // Ready in September; the October issue falls back below.
    issue('MZ0702', '2025-09-15', 45), issue('MZ0702', '2025-10-15', 35),
    // Not ready in September: a strong October issue alone does not activate, nor does the Dec–Feb window.
    issue('MZ0501', '2025-09-15', 30), issue('MZ0501', '2025-10-15', 60), issue('MZ0501', '2025-10-15', 80, ['2025-12-01', '2026-02-28']),
    // Outside the rule's provinces.
    issue('MZ0101', '2025-09-15', 90), issue('MZ0101', '2025-10-15', 90),
  ];
  const stages = (asOf: string) => run(rule(), asOf, { areas: MOZAMBIQUE, indicators }).map((d) => [d.pcode, d.stage]);
  const P = 'P(SPI-3 over November–January at or below −0.85 (moderate drought))';

  it('September: the districts whose September issue gives ≥ 40 % are ready; nothing is active before the October issue', () => {
    expect(stages('2025-09-20T00:00:00Z')).toEqual([['MZ0501', 'none'], ['MZ0701', 'readiness'], ['MZ0702', 'readiness']]);
    const ready = decision(run(rule(), '2025-09-20T00:00:00Z', { areas: MOZAMBIQUE, indicators }), 'MZ0701');
    expect(indicatorEvidence(ready)).toEqual([expect.objectContaining({
      value: 45, periodStart: '2025-11-01', periodEnd: '2026-01-31', status: 'forecast', issuedAt: '2025-09-15T00:00:00.000Z', leadDays: 47,
      test: `September issue of 2025-09-15: ${P} 45 % ≥ 40 % → holds`, holds: true,
    })]);
    expect(notes(ready)).toEqual(['p_spi3_moderate for MZ0701 2025-11-01–2026-01-31: no forecast issued in October known by 2025-09-20T00:00:00Z']);
  });

  it('October: activation where both issues meet it; the October issue is not known until received', () => {
    // Issued at midnight on the 15th, received the next morning: on the 15th at noon the engine does not have it.
    expect(stages('2025-10-15T12:00:00Z')).toEqual([['MZ0501', 'none'], ['MZ0701', 'readiness'], ['MZ0702', 'readiness']]);
    expect(stages('2025-10-20T00:00:00Z')).toEqual([['MZ0501', 'none'], ['MZ0701', 'activation'], ['MZ0702', 'readiness']]);
    const active = decision(run(rule(), '2025-10-20T00:00:00Z', { areas: MOZAMBIQUE, indicators }), 'MZ0701');
    expect(indicatorEvidence(active).map((e) => e.test)).toEqual([
      `September issue of 2025-09-15: ${P} 45 % ≥ 40 % → holds`,
      `October issue of 2025-10-15: ${P} 42 % ≥ 40 % → holds`,
    ]);
    const fellBack = decision(run(rule(), '2025-10-20T00:00:00Z', { areas: MOZAMBIQUE, indicators }), 'MZ0702');
    expect(indicatorEvidence(fellBack).map((e) => [e.test, e.holds])).toEqual([
      [`September issue of 2025-09-15: ${P} 45 % ≥ 40 % → holds`, true],
      [`October issue of 2025-10-15: ${P} 35 % ≥ 40 % → does not hold`, false],
    ]);
    const notReady = decision(run(rule(), '2025-10-20T00:00:00Z', { areas: MOZAMBIQUE, indicators }), 'MZ0501');
    expect(indicatorEvidence(notReady).every((e) => e.periodEnd === '2026-01-31')).toBe(true);
  });

  it('December: outside the monitoring months the rule is closed', () => {
    expect(stages('2025-12-15T00:00:00Z')).toEqual([['MZ0501', 'none'], ['MZ0701', 'none'], ['MZ0702', 'none']]);
  });

  it('a replay month by month sees each issue from when it was known: ready at the end of September, set at the end of October', () => {
    const replay = replayRule(rule(), { areas: MOZAMBIQUE, indicators, events: [], gates: [] }, ['2025-08-31', '2025-09-30', '2025-10-31', '2025-11-30', '2025-12-31']);
    expect(replay.periods.map((p) => [p.periodEnd, p.readiness, p.activation.map((a) => a.pcode)])).toEqual([
      ['2025-08-31', [], []],
      ['2025-09-30', ['MZ0701', 'MZ0702'], []],
      ['2025-10-31', ['MZ0702'], ['MZ0701']],
      ['2025-11-30', ['MZ0702'], ['MZ0701']],
      ['2025-12-31', [], []],
    ]);
    expect(replay.episodes).toEqual([{ pcode: 'MZ0701', start: '2025-10-31', end: '2025-11-30', periods: 2, tiers: { activated: 2 }, ongoing: false }]);
  });
});

describe('ne-wrsi-end-of-season', () => {
  const rule = () => example('ne-wrsi-end-of-season');
  const calendarFile = path.join(projectRoot, 'test/fixtures/seasons/ne-season-calendar.csv');
  const seasons = parseSeasonCalendar(readFileSync(calendarFile), calendarFile).map((r) => r.record);
  // Communes (level 3): two in Tillabéri (the region's calendar, June–October), two in Dosso (one with
  // its own calendar ending 20 October, one with none).
  const NIGER = tree(
    ['NE', 0, null], ['NE006', 1, 'NE'], ['NE00601', 2, 'NE006'], ['NE0060101', 3, 'NE00601'], ['NE0060102', 3, 'NE00601'],
    ['NE003', 1, 'NE'], ['NE00301', 2, 'NE003'], ['NE0030101', 3, 'NE00301'], ['NE0030102', 3, 'NE00301'],
  );
  const dekad = (pcode: string, year: number, days: '10-11' | '10-21', value: number): Value => {
    const end = days === '10-11' ? `${year}-10-20` : `${year}-10-31`;
    return { pcode, indicator: 'wrsi', periodStart: `${year}-${days}`, periodEnd: end, value, status: 'final', source: 'FAO / AGRHYMET', knownAt: `${year}-11-05T00:00:00Z` };
  };
  const baseline = (pcode: string, days: '10-11' | '10-21', values: number[]) => values.map((v, i) => dekad(pcode, 2016 + i, days, v));
  const indicators = [
    // Tillabéri commune: the last dekad of October has median 100 over 2016–2020; an earlier dekad must not be read.
    ...baseline('NE0060101', '10-21', [100, 90, 100, 100, 95]), // WRSI is 0-100 (the rule's unit): 110 would be left out as implausible
    dekad('NE0060101', 2023, '10-11', 50), dekad('NE0060101', 2023, '10-21', 88),
    dekad('NE0060101', 2024, '10-21', 74), dekad('NE0060101', 2025, '10-21', 95),
    // Dosso commune with its own calendar: its season ends 20 October, so the second dekad is read.
    ...baseline('NE0030101', '10-11', [100, 100, 100, 100, 100]),
    dekad('NE0030101', 2023, '10-11', 70), dekad('NE0030101', 2023, '10-21', 100),
    // Dosso commune without a calendar (Dosso has none).
    ...baseline('NE0030102', '10-21', [100, 100, 100, 100, 100]), dekad('NE0030102', 2023, '10-21', 10),
  ];
  const decide = (asOf: string) => evaluateRule({ rule: rule(), asOf, areas: NIGER, indicators, seasons });

  it('November 2023: each commune reads the dekad in which its own season ended, against its long-term median', () => {
    const decisions = decide('2023-11-15T00:00:00Z');
    expect(decisions.map((d) => [d.pcode, d.stage, d.tier])).toEqual([
      ['NE0030101', 'activation', 'tier_2'],
      ['NE0030102', 'none', null],
      ['NE0060101', 'activation', 'tier_1'],
      ['NE0060102', 'none', null],
    ]);
    const tillaberi = decision(decisions, 'NE0060101');
    expect(indicatorEvidence(tillaberi)[0]).toMatchObject({
      value: 88, periodStart: '2023-10-21', periodEnd: '2023-10-31',
      season: { season: 'main', start: '2023-06-01', end: '2023-10-31', calendarOf: 'NE006' },
      reference: { kind: 'long_term_median', value: 100, years: [2016, 2017, 2018, 2019, 2020] },
      test: 'end of season main 2023-06-01–2023-10-31 (calendar of NE006): percent_difference vs long_term_median 100 (5 years 2016–2020) -25 < -12 ≤ -10 → deficit_10 (triggering)',
    });
    expect(indicatorEvidence(decision(decisions, 'NE0030101'))[0]).toMatchObject({
      value: 70, periodEnd: '2023-10-20', season: { end: '2023-10-20', calendarOf: 'NE0030101' },
    });
  });

  it('a commune without a calendar is not decided on a guess: none, with a note saying the calendar is missing', () => {
    const missing = decision(decide('2023-11-15T00:00:00Z'), 'NE0030102');
    expect(indicatorEvidence(missing)).toEqual([]);
    expect(notes(missing)).toEqual(['wrsi: end_of_season needs a season calendar for NE0030102 or an area above it; none is loaded (asp areas seasons FILE)']);
    expect(notes(decision(decide('2023-11-15T00:00:00Z'), 'NE0060102'))).toEqual([
      'no wrsi value from FAO / AGRHYMET for NE0060102 for the period in which season main 2023-06-01–2023-10-31 (calendar of NE006) ended, known by 2023-11-15T00:00:00Z (final)',
    ]);
  });

  it('season after season: 26 % below the median is tier 2, 5 % below is nothing', () => {
    expect(summary(decision(decide('2024-11-15T00:00:00Z'), 'NE0060101'))).toEqual({ stage: 'activation', tier: 'tier_2', waitingFor: [] });
    expect(summary(decision(decide('2025-11-15T00:00:00Z'), 'NE0060101'))).toEqual({ stage: 'none', tier: null, waitingFor: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// Forms none of the fifteen uses, on variants of them
// ---------------------------------------------------------------------------------------------

/** The rule with its first activation indicator condition changed (and without tiers, which read the unchanged trigger). */
function withActivationIndicator(rule: Rule, change: (condition: IndicatorCondition) => IndicatorCondition): Rule {
  let done = false;
  const visit = (condition: TriggerCondition): TriggerCondition => {
    if (done) return condition;
    if ('indicator' in condition) {
      done = true;
      return { indicator: change(condition.indicator) };
    }
    if ('all' in condition) return { all: condition.all.map(visit) };
    if ('any' in condition) return { any: condition.any.map(visit) };
    return condition;
  };
  const copy = structuredClone(rule);
  copy.stages.activation.when = visit(copy.stages.activation.when);
  if (!done) throw new Error(`${rule.id}: no indicator in the activation condition`);
  copy.tiers = undefined;
  return copy;
}

describe('variants of the examples: persistence, k of n, relative to the long-term median', () => {
  it('HSNP severe held for 2 consecutive months: met after two severe months, broken by a moderate month or a missing one', () => {
    const rule = withActivationIndicator(example('ke-hsnp-vci-severe'), (c) => ({ ...c, persistence: { periods: 2 } }));
    const at = (months: Record<string, number>) => decision(run(rule, '2025-03-10T00:00:00Z', { areas: KENYA, indicators: vciHistory('KE023001', months) }), 'KE023001');
    const met = at({ '2025-01': 19.99, '2025-02': 10 });
    expect(met.stage).toBe('activation');
    expect(indicatorEvidence(met).map((e) => [e.periodEnd, e.test])).toEqual([
      ['2025-02-28', '10 ≤ 10 < 20 → severe (triggering)'],
      ['2025-01-31', '10 ≤ 19.99 < 20 → severe (triggering)'],
    ]);
    const broken = at({ '2025-01': 20, '2025-02': 10 });
    expect(broken.stage).toBe('none');
    expect(indicatorEvidence(broken).map((e) => e.holds)).toEqual([true, false]);
    const gap = at({ '2024-12': 15, '2025-02': 10 });
    expect(gap.stage).toBe('none');
    expect(notes(gap)).toEqual(['vci3m for KE023001: persistence needs 2 consecutive periods; no value between 2024-12-31 and 2025-02-01']);
  });

  it('Benue with 2 of 3 GloFAS stations over their level (k of n)', () => {
    const base = example('ng-benue-flood-aa');
    const glofasCondition = (base.stages.activation.when as { any: { indicator: IndicatorCondition }[] }).any[0].indicator;
    const station = (code: string, level: number) => ({ indicator: { ...glofasCondition, spatial_unit: { station: code }, threshold: { op: 'gte' as const, value: level } } });
    const rule: Rule = { ...structuredClone(base), stages: { activation: { when: { k_of_n: { k: 2, of: [station('G5004', 3132), station('G5010', 2000), station('G5020', 1500)] } } } } };
    const areas = tree(['NG', 0, null], ['NG002', 1, 'NG'], ['NG002016', 2, 'NG002']);
    const forecast = (code: string, value: number): Value => ({
      pcode: code, indicator: 'glofas_discharge', periodStart: '2025-08-04', periodEnd: '2025-08-04', value, status: 'forecast', source: 'ECMWF GloFAS', knownAt: '2025-08-01T06:00:00Z',
    });
    const stage = (indicators: Value[]) => run(rule, '2025-08-01T12:00:00Z', { areas, indicators })[0].stage;
    expect(stage([forecast('G5004', 3132), forecast('G5010', 2000), forecast('G5020', 10)])).toBe('activation');
    expect(stage([forecast('G5004', 3132), forecast('G5010', 1999), forecast('G5020', 10)])).toBe('none');
    expect(stage([forecast('G5004', 3132), forecast('G5020', 10)])).toBe('none'); // one station silent: 1 yes + 1 unknown is not 2
  });

  it('PSNP-style: WRSI at least 10 % below the median of the same dekad in the baseline years', () => {
    const rule = withActivationIndicator(example('et-psnp-leap-transitory'), (c) => ({
      ...c, name: 'wrsi', source: 'FEWS NET', unit: 'WRSI %', period: 'dekadal', status: 'final',
      relative_to: { reference: 'long_term_median', baseline: { from_year: 2015, to_year: 2024 }, as: 'percent_difference' }, threshold: { op: 'lte', value: -10 },
    }));
    const ETHIOPIA = tree(['ET', 0, null], ['ET04', 1, 'ET'], ['ET0401', 2, 'ET04'], ['ET040101', 3, 'ET0401']);
    const wrsi = (year: number, value: number, knownAt = `${year}-08-22T00:00:00Z`): Value => ({
      pcode: 'ET040101', indicator: 'wrsi', periodStart: `${year}-08-11`, periodEnd: `${year}-08-20`, value, status: 'final', source: 'FEWS NET', knownAt,
    });
    // Baseline dekads 11–20 August 2015–2024: median of 80, 82, …, 98 is 89; 2014 is outside the baseline.
    const history = Array.from({ length: 10 }, (_, i) => wrsi(2015 + i, 80 + 2 * i));
    // The federal confirmation gate of the rule stays: it is given here.
    const gates: GateRecord[] = [{ kind: 'coordinator_confirmation', pcodes: ['ET04'], at: '2025-08-24T00:00:00Z' }];
    const at = (value: number, extra: Value[] = []) => decision(run(rule, '2025-08-25T00:00:00Z', { areas: ETHIOPIA, indicators: [wrsi(2014, 10), ...history, ...extra, wrsi(2025, value)], gates }), 'ET040101');
    const dry = at(80.1); // (80.1 − 89) / 89 = −10 %
    expect(dry.stage).toBe('activation');
    expect(indicatorEvidence(dry)[0]).toMatchObject({
      value: 80.1, reference: { kind: 'long_term_median', value: 89, years: [2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024] },
      test: 'percent_difference vs long_term_median 89 (10 years 2015–2024) -10 ≤ -10 → holds',
    });
    expect(at(80.2).stage).toBe('none');
    // A revision of 2024 published after T does not move the median.
    expect(indicatorEvidence(at(80.1, [wrsi(2024, 0, '2025-09-01T00:00:00Z')]))[0].reference?.value).toBe(89);
  });
});
