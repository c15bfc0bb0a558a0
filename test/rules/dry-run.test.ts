import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { dryRunRule } from '../../src/rules/dry-run.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { projectRoot } from '../support/paths.ts';

const rule = path.join(projectRoot, 'rules/demo/xd-ct-vci-drought.yaml');
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
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

  it('as of a date before the values were published, nothing triggers', async () => {
    const report = await dryRunRule(t.store, rule, '2026-11-04T00:00:00Z');
    expect(report.stages.activation).toBe(0);
  });
});
