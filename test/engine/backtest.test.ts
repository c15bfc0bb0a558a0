import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/demo/load-demo.ts';
import { estimateCost } from '../../src/engine/estimate.ts';
import { gdacsAdapter } from '../../src/feeds/adapters/gdacs.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { backtestRule, periodEnds, replayRule, type BacktestReport, type History } from '../../src/engine/backtest.ts';
import { loadRules } from '../../src/rules/load.ts';
import { ruleSchema, type Rule } from '../../src/rules/schema.ts';
import { approveRuleVersion, storeRuleVersions } from '../../src/rules/versions.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';
import { projectRoot } from '../support/paths.ts';

const demoRule = path.join(projectRoot, 'rules/demo/xd-ct-vci-drought.yaml');
const FROM = '2016-01-01';
const TO = '2026-10-31';

let t: TestDatabase;
let report: BacktestReport;
beforeAll(async () => {
  t = await createTestDatabase();
  // Demoland with its ten-year VCI-3M history, then the 2025-12 … 2026-11 feed as published.
  await loadDemo(t.store, { households: 3000, seed: 1 });
  const bytes = await readFile(path.join(projectRoot, 'data/demo/feeds/vci3m-districts.csv'));
  await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes, url: 'test://vci.csv', fetchedAt: new Date('2026-11-05T06:00:00Z') });
  report = await backtestRule(t.store, demoRule, { from: FROM, to: TO });
});
afterAll(() => t?.drop());

/** The final VCI-3M values of both demo files, by month end: the HSNP bands, computed here. */
async function expectedFromCsv(): Promise<Map<string, { pcode: string; tier: string }[]>> {
  const byEnd = new Map<string, { pcode: string; tier: string }[]>();
  for (const file of ['vci3m-history.csv', 'vci3m-districts.csv']) {
    const rows = parse(await readFile(path.join(projectRoot, 'data/demo/feeds', file)), { columns: true }) as Record<string, string>[];
    for (const row of rows) {
      if (row.status !== 'final' || row.period_end < FROM || row.period_end > TO) continue;
      const value = Number(row.value);
      const list = byEnd.get(row.period_end) ?? [];
      if (value < 10) list.push({ pcode: row.pcode, tier: 'extreme' });
      else if (value < 20) list.push({ pcode: row.pcode, tier: 'severe' });
      byEnd.set(row.period_end, list);
    }
  }
  for (const list of byEnd.values()) list.sort((a, b) => (a.pcode < b.pcode ? -1 : 1));
  return byEnd;
}

/** Runs of consecutive true values. */
const runs = (flags: boolean[]) => flags.filter((flag, i) => flag && (i === 0 || !flags[i - 1])).length;

describe('backtesting the Demoland HSNP rule over ten years of VCI-3M', () => {
  it('puts exactly the district-months with VCI-3M < 10 (extreme) and 10–20 (severe) in activation', async () => {
    const expected = await expectedFromCsv();
    expect(report.periods).toHaveLength(130); // January 2016 … October 2026
    expect(report.periods.map((p) => p.periodEnd)).toEqual([...expected.keys()].sort());
    for (const period of report.periods) {
      expect({ end: period.periodEnd, areas: period.activation }).toEqual({ end: period.periodEnd, areas: expected.get(period.periodEnd) });
    }
    // The rule is in force from 2024-07-01, yet the replay covers 2016 on: a draft is backtested before it starts.
    expect(report.periods.find((p) => p.periodEnd === '2017-02-28')!.activation.length).toBeGreaterThan(0);
  });

  it('counts area episodes, shocks, frequency and return period as derived from the values', async () => {
    const expected = await expectedFromCsv();
    const ends = [...expected.keys()].sort();
    const active = (pcode: string) => ends.map((end) => expected.get(end)!.some((a) => a.pcode === pcode));
    const pcodes = [...new Set([...expected.values()].flat().map((a) => a.pcode))];
    const areaEpisodes = pcodes.reduce((sum, pcode) => sum + runs(active(pcode)), 0);
    const shocks = runs(ends.map((end) => expected.get(end)!.length > 0));
    const years = (Date.parse(`${TO}T00:00:00Z`) - Date.parse(`${FROM}T00:00:00Z`) + 86_400_000) / (365.25 * 86_400_000);

    expect(report.summary).toMatchObject({
      periodsEvaluated: 130,
      periodsWithActivation: ends.filter((end) => expected.get(end)!.length > 0).length,
      areaEpisodes,
      shocks,
      years: Math.round(years * 100) / 100,
      returnPeriodYears: Math.round((years / shocks) * 100) / 100,
    });
    // The same, as numbers: 2017, 2019, 2021–23 and the ongoing 2026 drought in Northaven.
    expect(report.summary).toMatchObject({ periodsWithActivation: 27, areaEpisodes: 44, shocks: 4, years: 10.83, shocksPerYear: 0.37, returnPeriodYears: 2.71 });
    expect(report.shocks.map((s) => [s.start, s.end, s.periods, s.ongoing])).toEqual([
      ['2017-01-31', '2017-03-31', 3, false],
      ['2019-06-30', '2019-08-31', 3, false],
      ['2021-10-31', '2023-01-31', 16, false],
      ['2026-06-30', '2026-10-31', 5, true],
    ]);
    // Per-area share of period ends in activation; the whole of Southdale never triggers.
    for (const pcode of pcodes) {
      const share = report.areas.find((a) => a.pcode === pcode)!;
      const n = active(pcode).filter(Boolean).length;
      expect([pcode, share.periodsInActivation, share.share, share.episodes]).toEqual([pcode, n, Math.round((n / 130) * 1e4) / 1e4, runs(active(pcode))]);
    }
    expect(report.areas).toHaveLength(24);
    expect(report.areas.filter((a) => a.pcode.startsWith('XD03')).every((a) => a.periodsInActivation === 0)).toBe(true);
    // A tier change does not end an episode: XD01001's 2026 episode runs from June (severe) into October (extreme).
    const xd01001 = report.episodes.filter((e) => e.pcode === 'XD01001').at(-1)!;
    expect(xd01001).toMatchObject({ start: '2026-06-30', end: '2026-10-31', periods: 5, ongoing: true, tiers: { severe: 4, extreme: 1 } });
  });

  it('prices each period at today\'s registry, once per distinct set of areas and tiers', async () => {
    const { rules } = await loadRules(demoRule);
    const peak = report.periods.find((p) => p.periodEnd === report.summary.peakPeriod)!;
    const estimate = await estimateCost(t.store, rules[0].rule, peak.activation);
    expect(peak.households).toBe(estimate.households);
    expect(peak.cost).toBe(estimate.costPerPayment); // payments while triggered: one payment per period
    expect(report.summary.peakHouseholds).toBe(Math.max(...report.periods.map((p) => p.households)));
    const total = report.periods.reduce((sum, p) => sum + p.cost, 0);
    expect(report.summary.totalCost).toBeCloseTo(total, 2);
    expect(report.shocks.reduce((sum, s) => sum + s.cost, 0)).toBeCloseTo(total, 2);
    expect(report.summary.meanCostPerShock).toBeCloseTo(total / 4, 2);
    expect(report.summary.currency).toBe('KES');
    expect(report.periods.filter((p) => p.activation.length === 0).every((p) => p.households === 0 && p.cost === 0)).toBe(true);
    expect(report.notes.join('\n')).toMatch(/known_at .* is ignored/);
    expect(report.notes.join('\n')).toMatch(/today's registry/);
  });

  it('backtests a stored rule by id: its approved version, else its latest draft', async () => {
    await storeRuleVersions(t.store, demoRule, 'analyst@test');
    const draft = await backtestRule(t.store, 'xd-ct-vci-drought', { from: FROM, to: TO });
    expect(draft.rule).toMatchObject({ id: 'xd-ct-vci-drought', origin: 'draft', hash: report.rule.hash });
    expect(draft.summary).toEqual(report.summary);
    await approveRuleVersion(t.store, 'xd-ct-vci-drought', 'approver@test');
    expect((await backtestRule(t.store, 'xd-ct-vci-drought', { from: FROM, to: TO })).rule.origin).toBe('approved');
    await expect(backtestRule(t.store, 'no-such-rule', { from: FROM, to: TO })).rejects.toThrow(/neither a rule file nor a stored rule/);
    await expect(backtestRule(t.store, demoRule, { from: '2026-01-01', to: '2025-01-01' })).rejects.toThrow(/after --to/);
    await expect(backtestRule(t.store, demoRule, { from: '2016-02-30', to: TO })).rejects.toThrow(/--from 2016-02-30: not a date/);
  });
});

describe('events in a backtest', () => {
  it('count from the time the version was issued, not from when it was stored', async () => {
    const bytes = await readFile(path.join(projectRoot, 'data/demo/feeds/gdacs-dr9900001-ep3-geometry.json'));
    await ingestPayload(t.store, gdacsAdapter, { source: 'gdacs', bytes, url: 'test://gdacs.json', fetchedAt: new Date('2027-03-01T00:00:00Z') });
    const file = await tempFile('event-rule.yaml', `
id: test-gdacs-drought
title: GDACS drought test
country: XDL
programme: CT
owner: test
effective: { from: 2024-01-01 }
agreed_text: test
areas: { admin_level: 2, within: [XD01, XD02, XD03, XD04] }
stages:
  activation:
    when:
      event: { source: gdacs, hazard: drought, min_alert_level: orange }
response:
  - mode: design_tweak
    households: {}
    tweak: { kind: advance_next_payment, within_days: 10 }
    benefit: { kind: none }
`);
    const result = await backtestRule(t.store, file, { from: '2026-06-01', to: '2026-12-31' });
    // Issued 20 November 2026 (stored in March 2027): in activation from the November period end, over Northaven.
    expect(result.periods.map((p) => [p.periodEnd, p.activation.map((a) => a.pcode).join(' ')])).toEqual([
      ['2026-06-30', ''], ['2026-07-31', ''], ['2026-08-31', ''], ['2026-09-30', ''], ['2026-10-31', ''],
      ['2026-11-30', 'XD01001 XD01002 XD01003 XD01004 XD01005 XD01006'],
      ['2026-12-31', 'XD01001 XD01002 XD01003 XD01004 XD01005 XD01006'],
    ]);
    expect(result.summary.shocks).toBe(1);
  });
});

describe('cool_down', () => {
  const coolRule = (coolDown: string) => `
id: test-cool-down
title: cool-down test
country: XDL
programme: CT
owner: test
effective: { from: 2024-01-01 }
agreed_text: test
monitoring: { cadence: monthly }
areas: { admin_level: 2, within: [XD02] }
stages:
  activation:
    when:
      indicator:
        name: vci3m
        source: NDMA (demo)
        version: any
        unit: VCI
        spatial_unit: { admin_level: 2 }
        period: monthly
        threshold: { op: lt, value: 20 }
${coolDown}
response:
  - mode: design_tweak
    households: {}
    tweak: { kind: advance_next_payment, within_days: 10 }
    benefit: { kind: none }
`;

  it('holds an area back for the cool-down after its episode ends (a small rule over Eastmarch)', async () => {
    const without = await backtestRule(t.store, await tempFile('no-cool-down.yaml', coolRule('')), { from: FROM, to: TO });
    const withCool = await backtestRule(t.store, await tempFile('cool-down.yaml', coolRule('cool_down: { days: 90 }')), { from: FROM, to: TO });
    const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
    const ends = withCool.periods.map((p) => p.periodEnd);

    // Every area-month the rule activates is either in an episode or held by the cool-down.
    without.periods.forEach((period, i) => {
      const held = withCool.periods[i].heldByCoolDown;
      const active = withCool.periods[i].activation.map((a) => a.pcode);
      expect([...held, ...active].sort()).toEqual(period.activation.map((a) => a.pcode));
    });
    // No episode opens less than 90 days after the same area's previous one ended (the period end after its last).
    for (const pcode of new Set(withCool.episodes.map((e) => e.pcode))) {
      const episodes = withCool.episodes.filter((e) => e.pcode === pcode);
      for (let k = 1; k < episodes.length; k++) {
        const endedAt = ends[ends.indexOf(episodes[k - 1].end) + 1];
        expect(episodes[k].start >= addDays(endedAt, 90)).toBe(true);
      }
    }
    const held = withCool.periods.flatMap((p) => p.heldByCoolDown.map((pcode) => `${p.periodEnd} ${pcode}`));
    expect(held.length).toBeGreaterThan(0);
    expect(withCool.summary.areaEpisodes).toBeLessThan(without.summary.areaEpisodes);
    expect(withCool.notes.join('\n')).toMatch(/cool_down 90 day\(s\)/);
  });

  // One area, monthly values: active Jan–Feb, out in March, active April–June, out in July, active August;
  // published long after (knownAt 2030).
  const history: History = {
    areas: [{ pcode: 'XA', level: 1, parentPcode: null }, { pcode: 'XA001', level: 2, parentPcode: 'XA' }],
    indicators: [10, 10, 30, 10, 10, 10, 30, 10].map((value, i) => {
      const end = new Date(Date.UTC(2024, i + 1, 0)).toISOString().slice(0, 10);
      return { pcode: 'XA001', indicator: 'vci3m', periodStart: `${end.slice(0, 7)}-01`, periodEnd: end, value, status: 'final' as const, source: 'NDMA', knownAt: '2030-01-01T00:00:00Z' };
    }),
    events: [],
    gates: [],
  };
  const rule = (coolDown?: Rule['cool_down']): Rule =>
    ruleSchema.parse({
      id: 'test-rule', title: 'test', country: 'XAA', programme: 'CT', owner: 'test', effective: { from: '2024-01-01' }, agreed_text: 'test',
      monitoring: { cadence: 'monthly' }, areas: { admin_level: 2, within: ['XA'] },
      stages: { activation: { when: { indicator: { name: 'vci3m', source: 'NDMA', version: 'any', unit: 'VCI', spatial_unit: { admin_level: 2 }, period: 'monthly', threshold: { op: 'lt', value: 20 } } } } },
      ...(coolDown ? { cool_down: coolDown } : {}),
      response: [{ mode: 'design_tweak', households: {}, tweak: { kind: 'advance_next_payment', within_days: 10 }, benefit: { kind: 'none' } }],
    });
  // As loadHistory gives them: each final value known at its period end.
  const asLoaded: History = { ...history, indicators: history.indicators.map((v) => ({ ...v, knownAt: `${v.periodEnd}T00:00:00.000Z` })) };
  const ends = periodEnds('2024-01-01', '2024-08-31', 'monthly');
  const summary = (coolDown?: Rule['cool_down']) => {
    const replay = replayRule(rule(coolDown), asLoaded, ends);
    return {
      episodes: replay.episodes.map((e) => `${e.start}…${e.end}`),
      held: replay.periods.flatMap((p) => p.heldByCoolDown.map(() => p.periodEnd)),
    };
  };

  it('counts days from the period end the episode ended, and periods as the live engine does (a month = 30 days)', () => {
    expect(ends).toEqual(['2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30', '2024-05-31', '2024-06-30', '2024-07-31', '2024-08-31']);
    expect(summary()).toEqual({ episodes: ['2024-01-31…2024-02-29', '2024-04-30…2024-06-30', '2024-08-31…2024-08-31'], held: [] });
    // Ended 31 March: held until 29 June (90 days), so April and May are held and June opens; ended 31 July: August held.
    expect(summary({ days: 90 })).toEqual({ episodes: ['2024-01-31…2024-02-29', '2024-06-30…2024-06-30'], held: ['2024-04-30', '2024-05-31', '2024-08-31'] });
    // 2 periods = 60 days: ended 31 March → held before 30 May (April); ended 31 July → held before 29 September (August).
    expect(summary({ periods: 2 })).toEqual({ episodes: ['2024-01-31…2024-02-29', '2024-05-31…2024-06-30'], held: ['2024-04-30', '2024-08-31'] });
    // The replay itself honours knownAt: it is loadHistory that dates final values at their period end.
    expect(replayRule(rule(), history, ends).episodes).toEqual([]);
  });
});

describe('asp backtest', () => {
  it('prints the table, and --json parses', async () => {
    await t.store.close();
    try {
      const table = await runAsp([...t.cliArgs, 'backtest', demoRule, '--from', FROM, '--to', TO]);
      expect(table.stderr).toBe('');
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^period end +in activation +new episodes/m);
      expect(table.stdout).toMatch(/^2022-09-30 +9 \(6 extreme, 3 severe\) +3 /m);
      expect(table.stdout).toMatch(/shocks: 4 in 10\.83 years → 0\.37 per year, return period 2\.71 years/);
      const json = await runAsp([...t.cliArgs, 'backtest', demoRule, '--from', FROM, '--to', TO, '--json']);
      expect(json.code).toBe(0);
      expect((JSON.parse(json.stdout) as BacktestReport).summary).toEqual(report.summary);
    } finally {
      await t.reopen();
    }
  });
});
