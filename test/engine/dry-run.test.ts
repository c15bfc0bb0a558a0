import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Polygon } from 'geojson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoDistricts } from '../../src/demo/geography.ts';
import { demoHouseholdsCsv } from '../../src/demo/households.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { dryRunRule } from '../../src/engine/dry-run.ts';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { generateLists } from '../../src/engine/targeting/generate-lists.ts';
import { approveRuleText } from '../support/rules.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { projectRoot } from '../support/paths.ts';

const rule = path.join(projectRoot, 'rules/demo/xd-ct-vci-drought.yaml');
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  // A generated registry of 5000 households in Demoland's districts, some on CT.
  const districts = demoDistricts().features.map((f) => ({ pcode: String(f.properties?.ADM2_PCODE), geometry: f.geometry as Polygon, weight: 1 }));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-dry-run-'));
  try {
    const csv = path.join(dir, 'households.csv');
    await pipeline(Readable.from(demoHouseholdsCsv(districts, 5000, 11, { cashTransfer: 'CT', olderPersons: 'OPG' })), createWriteStream(csv));
    await importRegistry(t.store, csv);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The demo's monthly VCI-3M, as if published on 5 November 2026.
  const bytes = await readFile(path.join(projectRoot, 'data/demo/feeds/vci3m-districts.csv'));
  await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes, url: 'test://vci.csv', fetchedAt: new Date('2026-11-05T06:00:00Z') });
});
afterAll(() => t?.drop());

describe('asp rules dry-run', () => {
  it('finds Northaven in extreme drought from the stored VCI-3M, with the evidence, and writes nothing', async () => {
    const before = await t.store.transaction(({ raw }) => raw.query(`SELECT count(*)::int AS n FROM indicator_values`));
    const report = await dryRunRule(t.store, rule, '2026-11-20T00:00:00Z');
    expect(report.stages).toEqual({ activation: 6, readiness: 0, none: 18 });
    const active = report.decisions.filter((d) => d.stage === 'activation');
    expect(active.map((d) => d.pcode)).toEqual(['XD01001', 'XD01002', 'XD01003', 'XD01004', 'XD01005', 'XD01006']);
    expect(active.every((d) => d.tier === 'extreme')).toBe(true);
    const evidence = active[0].evidence.find((e) => e.kind === 'indicator');
    // The October value is the latest final one; November's forecast does not count for this rule.
    expect(evidence).toMatchObject({ indicator: 'vci3m', periodStart: '2026-10-01', periodEnd: '2026-10-31', status: 'final' });
    const after = await t.store.transaction(({ raw }) => raw.query(`SELECT count(*)::int AS n FROM indicator_values`));
    expect(after.rows).toEqual(before.rows);
  });

  it('estimates the cost of the activated districts, equal to plain arithmetic over the registry', async () => {
    const report = await dryRunRule(t.store, rule, '2026-11-20T00:00:00Z');
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ pcode: string; ct: boolean }>(
        `SELECT h.admin_pcode AS pcode,
                EXISTS (SELECT 1 FROM enrolments e WHERE e.household_id = h.id AND e.programme_code = 'CT' AND e.status = 'active') AS ct
           FROM households h`,
      ),
    );
    // Extreme tier: CT beneficiaries and emergency households together reach 75 % of the
    // registered households (the per-area cap is 75 % too), KES 2700 each per monthly payment.
    const expected = report.decisions
      .filter((d) => d.stage === 'activation')
      .map((d) => {
        const registered = rows.filter((r) => r.pcode === d.pcode).length;
        const beneficiaries = rows.filter((r) => r.pcode === d.pcode && r.ct).length;
        const households = Math.min(registered - beneficiaries, Math.max(0, Math.floor(0.75 * registered) - beneficiaries));
        return { pcode: d.pcode, tier: 'extreme', registered, households, amountPerPayment: 2700 * households, cost: 2700 * households, notes: [] };
      });
    const { estimate } = report;
    expect(estimate.areas).toEqual(expected);
    const households = expected.reduce((sum, a) => sum + a.households, 0);
    expect(households).toBeGreaterThan(500);
    expect(estimate).toMatchObject({
      currency: 'KES',
      payments: 'while_triggered',
      households,
      costPerPayment: 2700 * households,
      cost: 2700 * households,
      envelope: { amount: 1_100_000_000, currency: 'KES', per: 'cycle' },
      overBudget: 0,
    });
  });

  it('the estimate is the list: the same households and amounts per area as the list generated afterwards', async () => {
    const report = await dryRunRule(t.store, rule, '2026-11-20T00:00:00Z');
    await approveRuleText(t.store, await readFile(rule, 'utf8'));
    await evaluateActivations(t.store, { ruleId: report.ruleId, asOf: '2026-11-20T00:00:00Z' });
    const [activation] = await listActivations(t.store, { ruleId: report.ruleId, status: 'open' });
    const [list] = await generateLists(t.store, activation.id, 'coordinator@test', { cycle: '2026-11', asOf: new Date('2026-11-20T00:00:00Z') });
    expect(report.estimate.areas.map((a) => [a.pcode, a.registered, a.households, a.amountPerPayment]))
      .toEqual(list.areas.map((a) => [a.pcode, a.registered, a.listed, a.amount]));
    expect(report.estimate.households).toBe(list.households);
    expect(report.estimate.costPerPayment).toBe(list.totalAmount);
    expect(report.estimate.leftOut).toEqual(list.excluded);
  });

  it('as of a date before the values were published, nothing triggers and nothing costs', async () => {
    const report = await dryRunRule(t.store, rule, '2026-11-04T00:00:00Z');
    expect(report.stages.activation).toBe(0);
    expect(report.estimate).toMatchObject({ areas: [], households: 0, costPerPayment: 0, cost: 0, overBudget: 0 });
  });
});
