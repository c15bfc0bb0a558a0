import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationInput } from '../../src/engine/evaluation-input.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { loadHistory, replayRule } from '../../src/engine/backtest.ts';
import { evaluateRule, type IndicatorEvidence } from '../../src/rules/evaluate.ts';
import { ruleSchema, type Rule } from '../../src/rules/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';

// Every issue of a forecast is stored and read as it was known: a newer issue for the same period
// does not overwrite the older one, an evaluation as of a date between them reads the older, and a
// backtest replays the issues at their issue times.

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
});
afterAll(() => t?.drop());

const HEADER = 'pcode,indicator,period_start,period_end,value,status,source';

/** One forecast row of the Oct–Dec season for a Demoland district, optionally with its issue time. */
const row = (pcode: string, value: number, issuedAt?: string) =>
  `${pcode},p_spi3_moderate,2025-10-01,2025-12-31,${value},forecast,ICPAC${issuedAt === undefined ? '' : `,${issuedAt}`}`;

async function ingest(rows: string[], fetchedAt: string, withIssue = true): Promise<number> {
  const text = `${HEADER}${withIssue ? ',issued_at' : ''}\n${rows.join('\n')}\n`;
  const summary = await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(text), url: `test://${fetchedAt}.csv`, fetchedAt: new Date(fetchedAt) });
  expect(summary.quarantined).toBe(0);
  return summary.indicatorsAdded;
}

const rule: Rule = ruleSchema.parse({
  id: 'xd-seasonal-forecast', title: 'test', country: 'XDL', programme: 'CT', owner: 'test', effective: { from: '2025-01-01' }, agreed_text: 'test',
  areas: { admin_level: 2, within: ['XD02001', 'XD02002'] },
  stages: {
    activation: {
      when: {
        indicator: {
          name: 'p_spi3_moderate', source: 'ICPAC', version: 'any', unit: '%', spatial_unit: { admin_level: 2 }, period: 'seasonal',
          status: 'forecast', threshold: { op: 'gte', value: 40 },
        },
      },
    },
  },
  response: [{ mode: 'design_tweak', households: {}, tweak: { kind: 'advance_next_payment', within_days: 10 }, benefit: { kind: 'none' } }],
});

async function decide(asOf: string, pcode: string) {
  const decisions = evaluateRule(await evaluationInput(t.store, rule, asOf));
  const found = decisions.find((d) => d.pcode === pcode)!;
  return { stage: found.stage, evidence: found.evidence.filter((e): e is IndicatorEvidence => e.kind === 'indicator') };
}

const storedIssues = async (pcode: string) =>
  (await t.store.transaction(({ raw }) => raw.query<{ value: number; issued: string }>(
    `SELECT value, to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS issued
       FROM indicator_values WHERE pcode = $1 AND indicator = 'p_spi3_moderate' ORDER BY issued_at`, [pcode]))).rows;

describe('forecasts as issued, through the store', () => {
  it('a newer issue does not overwrite the older: as of a date between them the older (which met the threshold) decides', async () => {
    expect(await ingest([row('XD02001', 55, '2025-07-15')], '2025-07-15T08:00:00Z')).toBe(1);
    expect(await ingest([row('XD02001', 30, '2025-08-15')], '2025-08-15T08:00:00Z')).toBe(1);
    expect(await storedIssues('XD02001')).toEqual([{ value: 55, issued: '2025-07-15T00:00' }, { value: 30, issued: '2025-08-15T00:00' }]);

    const between = await decide('2025-08-01T00:00:00Z', 'XD02001');
    expect(between.stage).toBe('activation');
    expect(between.evidence[0]).toMatchObject({ value: 55, issuedAt: '2025-07-15T00:00:00.000Z', leadDays: 78 });
    const after = await decide('2025-08-20T00:00:00Z', 'XD02001');
    expect(after.stage).toBe('none');
    expect(after.evidence[0]).toMatchObject({ value: 30, issuedAt: '2025-08-15T00:00:00.000Z' });
  });

  it('without issued_at a forecast is issued when received; the same value fetched again is not a new issue', async () => {
    expect(await ingest([row('XD02002', 45)], '2025-07-10T06:00:00Z', false)).toBe(1);
    expect(await ingest([row('XD02002', 45), 'XD02002,vci3m,2025-06-01,2025-06-30,40,final,NDMA'], '2025-07-11T06:00:00Z', false)).toBe(1);
    expect(await ingest([row('XD02002', 38)], '2025-08-10T06:00:00Z', false)).toBe(1);
    expect(await storedIssues('XD02002')).toEqual([{ value: 45, issued: '2025-07-10T06:00' }, { value: 38, issued: '2025-08-10T06:00' }]);
    expect((await decide('2025-07-20T00:00:00Z', 'XD02002')).stage).toBe('activation');
    expect((await decide('2025-08-20T00:00:00Z', 'XD02002')).stage).toBe('none');
  });

  it('the same issue loaded again with a corrected value replaces it (one row per issue)', async () => {
    expect(await ingest([row('XD02001', 31, '2025-08-15')], '2025-08-16T08:00:00Z')).toBe(1);
    expect(await storedIssues('XD02001')).toEqual([{ value: 55, issued: '2025-07-15T00:00' }, { value: 31, issued: '2025-08-15T00:00' }]);
  });

  it('a backtest replays the issues at their issue times, even an archive loaded long after', async () => {
    // The September issue arrives in an archive loaded in January: live as of September it was not known.
    await ingest([row('XD02001', 60, '2025-09-15')], '2026-01-10T08:00:00Z');
    expect((await decide('2025-09-30T23:59:59Z', 'XD02001')).stage).toBe('none');
    const replay = replayRule({ ...rule, effective: { from: '0001-01-01' } }, await loadHistory(t.store, rule), ['2025-06-30', '2025-07-31', '2025-08-31', '2025-09-30']);
    expect(replay.periods.map((p) => [p.periodEnd, p.activation.map((a) => a.pcode)])).toEqual([
      ['2025-06-30', []],
      ['2025-07-31', ['XD02001', 'XD02002']],
      ['2025-08-31', []],
      ['2025-09-30', ['XD02001']],
    ]);
  });
});
