import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateActivations } from '../../src/engine/activations.ts';
import { dryRunRule } from '../../src/engine/dry-run.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { insertHouseholds } from '../support/households.ts';
import { approveRuleText, publishMonth, ruleHeader } from '../support/rules.ts';
import { runAsp } from '../support/cli.ts';

/**
 * No silent zeros: a rule that names what the store does not have says so, areas not triggered
 * come with their reasons, and an as-of evaluation before the data was stored points to backtest.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, [
    { id: 'H1', pcode: 'XD01001', pmt: 10, size: 2, location: [38.1, 3.5], enrolments: [['CT', 'active']] },
    { id: 'H2', pcode: 'XD01002', pmt: 10, size: 2, location: [39.1, 3.5] },
  ]);
  // The feed spells the indicator vci_3m; Northaven in drought, the rest of Demoland normal.
  const values: Record<string, number> = { XD01001: 5, XD01002: 15, XD01003: 35, XD01004: 40 };
  for (const month of ['2026-08', '2026-09', '2026-10']) await publishMonth(t.store, month, values, 'vci_3m', 'NDMA (test)');
});
afterAll(() => t?.drop());

const rule = (id: string, indicator: string, within: string, programme = 'CT') => `${ruleHeader(id, { title: `Data check ${id}`, programme })}
areas: { admin_level: 2, within: [${within}] }
stages:
  activation:
    when:
      indicator: { id: vci, name: ${indicator}, source: NDMA (test), version: any, unit: VCI, spatial_unit: { admin_level: 2 }, period: monthly,
                   bands: [{ name: extreme, max: 10 }, { name: severe, min: 10, max: 20 }, { name: normal, min: 20 }], triggering_bands: [extreme, severe] }
response:
  - mode: vertical
    households: { eligibility: { enrolled_in: [${programme}] } }
    benefit: { kind: flat, amount: 1000, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 7 } }
budget:
  envelope: { amount: 100000000, currency: KES, per: activation }
  over_budget: [stop_when_exhausted]
`;

/** The CLI as a user runs it, on this database (the embedded one is closed meanwhile: one process at a time). */
async function cli(args: string[]) {
  await t.store.close();
  try {
    return await runAsp([...t.cliArgs, ...args]);
  } finally {
    await t.reopen();
  }
}

const dryRun = async (yaml: string, asOf = '2026-11-20T00:00:00Z') => dryRunRule(t.store, await tempFile(`${/^id: (\S+)/m.exec(yaml)![1]}.yaml`, yaml), asOf);

describe('a rule that names what the store does not have', () => {
  it('an indicator spelled differently: the dry run warns and names what is stored', async () => {
    const report = await dryRun(rule('check-vci3m', 'vci3m', 'XD01'));
    expect(report.stages.activation).toBe(0);
    expect(report.warnings).toEqual(['no vci3m from NDMA (test) is stored; 4 area(s) have vci_3m from NDMA (test)']);
  });

  it('the right spelling: no warning, Acacia and Baobab in activation', async () => {
    const report = await dryRun(rule('check-vci-3m', 'vci_3m', 'XD01'));
    expect(report.warnings).toEqual([]);
    expect(report.decisions.filter((d) => d.stage === 'activation').map((d) => d.pcode)).toEqual(['XD01001', 'XD01002']);
  });

  it('an unknown programme and an unknown area are named', async () => {
    const report = await dryRun(rule('check-unknown', 'vci_3m', 'XD01, XD09', 'ZZ'));
    expect(report.warnings).toEqual([
      'programme ZZ is not in the store (asp programmes add ZZ …)',
      'area(s) XD09 are neither P-codes nor country codes in the store (asp areas import)',
    ]);
  });

  it('a country code in within covers the whole country', async () => {
    const report = await dryRun(rule('check-country', 'vci_3m', 'XDL'));
    expect(report.warnings).toEqual([]);
    expect(report.decisions).toHaveLength(24);
    expect(report.stages.activation).toBe(2);
  });

  it('areas not triggered come with their main reasons, counted, in the text output', async () => {
    const file = await tempFile('check-text.yaml', rule('check-text', 'vci_3m', 'XD01'));
    const result = await cli(['rules', 'dry-run', file, '--at', '2026-11-20']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/2 area\(s\) not triggered: vci_3m from NDMA \(test\) does not meet the trigger \(e\.g\. XD01003, XD01004\)/);
    expect(result.stdout).toMatch(/2 area\(s\) not triggered: no vci_3m value from NDMA \(test\) for the area \(final\) \(e\.g\. XD01005, XD01006\)/);
  });

  it('rules load warns too', async () => {
    const file = await tempFile('check-load.yaml', rule('check-load', 'vci3m', 'XD01'));
    const result = await cli(['rules', 'load', file, '--by', 'author@test']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/warning: check-load: no vci3m from NDMA \(test\) is stored; 4 area\(s\) have vci_3m from NDMA \(test\)/);
  });
});

describe('evaluate --at before the data was stored', () => {
  it('says how many values exist for earlier periods but were stored later, and points to backtest', async () => {
    await approveRuleText(t.store, rule('check-as-of', 'vci_3m', 'XD01'));
    // September's values were published on 5 October: as of 1 October only August is known.
    const summary = await evaluateActivations(t.store, { ruleId: 'check-as-of', asOf: '2026-10-01T00:00:00Z' });
    expect(summary.rules[0].storedLater).toMatch(/^as of 2026-10-01T00:00:00Z: 4 indicator value\(s\) for periods ending by then were stored later \(from 2026-10-05\)\. .*use asp backtest$/);
    const now = await evaluateActivations(t.store, { ruleId: 'check-as-of' });
    expect(now.rules[0].storedLater).toBeNull();
  });
});
