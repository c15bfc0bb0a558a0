import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { dryRunRule } from '../../src/engine/dry-run.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { listQuarantine } from '../../src/feeds/health.ts';
import { loadIndicatorCatalogue } from '../../src/feeds/indicator-catalogue.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { numberOf } from '../../src/feeds/decode.ts';
import { MAX_FEED_MAGNITUDE, readFeedNumber } from '../../src/feeds/strict-number.ts';
import type { IndicatorEvidence } from '../../src/rules/evaluate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { approveRuleText, CT_TOP_UP, ruleHeader, VCI_STAGES_AND_TIERS } from '../support/rules.ts';

/**
 * Implausible evidence never drives money: numbers from feeds are read strictly (no hex, no
 * Infinity, no 1e300), a value outside its indicator's range (the catalogue's, data/indicators.yaml,
 * or the rule's) is quarantined or left out with the reason, and an activation records the checks
 * its evidence passed.
 */

const SEED = 20261207;

describe('the strict feed number parser', () => {
  it('reads back every decimal a number prints as, within the feed magnitude', () => {
    fc.assert(
      fc.property(fc.double({ min: -MAX_FEED_MAGNITUDE, max: MAX_FEED_MAGNITUDE, noNaN: true }), fc.integer({ min: 0, max: 8 }), (n, digits) => {
        expect(numberOf(String(n))).toBe(n === 0 ? 0 : n);
        expect(numberOf(` ${n.toFixed(digits)}\t`)).toBe(Number(n.toFixed(digits)));
        expect(numberOf(n.toExponential(digits))).toBe(Number(n.toExponential(digits)));
        expect(numberOf(n)).toBe(n);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('accepts exactly the strings a plain-decimal reference accepts, with the same value', () => {
    // Reference: only digits, sign, point and exponent characters, and Number() reads it finite
    // and within the magnitude. Anything with x, letters, separators or nothing at all is refused.
    const reference = (s: string): number | null => {
      const t = s.trim();
      if (t === '' || !/^[0-9+\-.eE]+$/.test(t)) return null;
      const n = Number(t);
      return Number.isFinite(n) && Math.abs(n) <= MAX_FEED_MAGNITUDE ? n : null;
    };
    const unit = fc.constantFrom(...'0123456789+-.eE xXoObB_,InfityNa\u00A0'.split(''));
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), (s) => {
        expect(numberOf(s)).toBe(reference(s));
      }),
      { seed: SEED, numRuns: 20000 },
    );
  });

  it('refuses hex, octal, binary, Infinity, NaN, trailing junk and magnitudes beyond 1e15, saying why', () => {
    expect(readFeedNumber('0x5')).toEqual({ problem: '"0x5" is not a decimal number (hexadecimal, octal and binary are refused)' });
    expect(readFeedNumber('-0X1F').problem).toMatch(/not a decimal number/);
    expect(readFeedNumber('0o7').problem).toMatch(/not a decimal number/);
    expect(readFeedNumber('0b1').problem).toMatch(/not a decimal number/);
    expect(readFeedNumber('Infinity').problem).toBe('"Infinity" is not a finite number');
    expect(readFeedNumber('-inf').problem).toBe('"-inf" is not a finite number');
    expect(readFeedNumber('NaN').problem).toBe('"NaN" is not a finite number');
    expect(readFeedNumber('5abc').problem).toBe('"5abc" is not a number');
    expect(readFeedNumber('1,5').problem).toBe('"1,5" is not a number');
    expect(readFeedNumber('').problem).toBe('the value is empty');
    expect(readFeedNumber('-1e300').problem).toBe('"-1e300" is beyond ±1e15, larger than any figure a feed publishes');
    expect(readFeedNumber(1e300).problem).toMatch(/beyond ±1e15/);
    expect(readFeedNumber(Number.NaN).problem).toMatch(/not a finite number/);
    expect(readFeedNumber(null).problem).toBe('null is not a number');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 53n }), fc.constantFrom('0x', '0X', '0o', '0b'), fc.constantFrom('', '-', '+'), (n, prefix, sign) => {
        const radix = { x: 16, o: 8, b: 2 }[prefix[1].toLowerCase() as 'x' | 'o' | 'b'];
        expect(numberOf(`${sign}${prefix}${n.toString(radix)}`)).toBeNull();
      }),
      { seed: SEED, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true }).filter((n) => Math.abs(n) > MAX_FEED_MAGNITUDE), (n) => {
        expect(numberOf(String(n))).toBeNull();
        expect(numberOf(n)).toBeNull();
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('the indicator catalogue', () => {
  it('gives the ranges of the indicators the shipped rules and adapters use', async () => {
    const catalogue = await loadIndicatorCatalogue();
    expect(catalogue.rangeOf('vci3m')).toMatchObject({ min: 0, max: 100 });
    expect(catalogue.rangeOf('spi3')).toMatchObject({ min: -5, max: 5 });
    expect(catalogue.rangeOf('spei12')).toMatchObject({ min: -5, max: 5 });
    expect(catalogue.rangeOf('rainfall_1m_mm')).toMatchObject({ min: 0 });
    expect(catalogue.rangeOf('ipc_phase')).toMatchObject({ min: 1, max: 5, integer: true });
    expect(catalogue.rangeOf('ndvi')).toMatchObject({ min: -1, max: 1 });
    expect(catalogue.rangeOf('glofas_discharge')).toMatchObject({ min: 0 });
    expect(catalogue.rangeOf('no_such_indicator')).toBeUndefined();
  });

  it('refuses a catalogue whose range is upside down, naming the entry', async () => {
    const file = await tempFile('indicators.yaml', 'indicators:\n  - { name: vci3m, min: 100, max: 0, unit: VCI }\n');
    await expect(loadIndicatorCatalogue(file)).rejects.toMatchObject({ message: `${file}: the indicator catalogue is invalid`, details: [`${file}:2: indicators.0: min is above max`] });
  });
});

describe('implausible indicator values through ingest and evaluation', () => {
  let t: TestDatabase;
  const HEADER = 'pcode,indicator,period_start,period_end,value,status,source';
  const publish = (indicator: string, month: string, cells: Record<string, string>) => {
    const [y, m] = month.split('-').map(Number);
    const end = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
    const rows = Object.entries(cells).map(([pcode, value]) => `${pcode},${indicator},${month}-01,${end},${value},final,NDMA (test)`);
    return ingestPayload(t.store, indicatorsAdapter, {
      source: 'indicators', bytes: Buffer.from(`${HEADER}\n${rows.join('\n')}\n`), url: `test://${indicator}-${month}.csv`, fetchedAt: new Date(Date.UTC(y, m, 5, 6)),
    });
  };
  /** A rule over the districts of `region` with one indicator condition (flow YAML), topping up CT. */
  const indicatorRule = (id: string, region: string, indicator: string) => `${ruleHeader(id)}
areas: { admin_level: 2, within: [${region}] }
stages:
  activation:
    when:
      indicator: { ${indicator}, spatial_unit: { admin_level: 2 }, period: monthly }
${CT_TOP_UP}`;

  beforeAll(async () => {
    t = await createTestDatabase();
    await loadDemoAreas(t.store);
  });
  afterAll(async () => t?.drop());

  it('quarantines VCI-3M -1e300, 0x5 and -5 with the reason, opens no activation for them, and lands the valid siblings', async () => {
    const summary = await publish('vci3m', '2026-07', { XD01001: '-1e300', XD01002: '0x5', XD01003: '-5', XD01004: '5', XD01005: '30' });
    expect(summary).toMatchObject({ indicatorsAdded: 2, quarantined: 3 });

    const reasons = (await listQuarantine(t.store)).map((q) => `${q.location}: ${q.reason}`);
    expect(reasons).toEqual(expect.arrayContaining([
      expect.stringMatching(/line 2, column value: value "-1e300" is beyond ±1e15/),
      expect.stringMatching(/line 3, column value: value "0x5" is not a decimal number/),
      'indicator value 0 (XD01003 vci3m 2026-07-01..2026-07-31 from NDMA (test)): vci3m value -5 is outside 0..100 (VCI (0-100)) (indicator catalogue): not stored as evidence',
    ]));
    const stored = await t.store.transaction(({ raw }) => raw.query<{ pcode: string; value: number }>(`SELECT pcode, value FROM indicator_values ORDER BY pcode`));
    expect(stored.rows).toEqual([{ pcode: 'XD01004', value: 5 }, { pcode: 'XD01005', value: 30 }]);

    await approveRuleText(t.store, `${ruleHeader('test-vci-plausible')}
areas: { admin_level: 2, within: [XD01] }
${VCI_STAGES_AND_TIERS}${CT_TOP_UP}`);
    await evaluateActivations(t.store, { asOf: '2026-08-06T00:00:00Z', ruleId: 'test-vci-plausible' });
    const open = await listActivations(t.store, { status: 'open', ruleId: 'test-vci-plausible' });
    expect(open.map((a) => [a.pcode, a.tier])).toEqual([['XD01004', 'extreme']]);
    const evidence = open[0].evidence.find((e): e is IndicatorEvidence => e.kind === 'indicator');
    expect(evidence?.plausibility).toEqual([{ indicator: 'vci3m', range: { min: 0, max: 100 }, source: 'catalogue', checked: 1 }]);
  });

  it("leaves out a value outside the rule's declared unit range (no catalogue entry) with a note, and records the rule's check", async () => {
    await publish('dryness_index', '2026-07', { XD02001: '42', XD02002: '9' });
    const rule = indicatorRule('test-dryness', 'XD02', 'name: dryness_index, source: NDMA (test), version: any, unit: "index (0-10)", threshold: { op: gte, value: 8 }');
    // The coordinator's dry run says why the area has no value.
    const report = await dryRunRule(t.store, await tempFile('test-dryness.yaml', rule), '2026-08-06T00:00:00Z');
    const notes = report.decisions.find((d) => d.pcode === 'XD02001')!.evidence.flatMap((e) => (e.kind === 'note' ? [e.text] : []));
    expect(notes).toContain("dryness_index for XD02001 2026-07-01–2026-07-31 from NDMA (test): 42 is outside 0..10 (index (0-10)), the rule's range; not read as evidence");
    await approveRuleText(t.store, rule);
    await evaluateActivations(t.store, { asOf: '2026-08-06T00:00:00Z', ruleId: 'test-dryness' });
    const activations = await listActivations(t.store, { ruleId: 'test-dryness' });
    expect(activations.map((a) => a.pcode)).toEqual(['XD02002']);
    const evidence = activations[0].evidence.find((e): e is IndicatorEvidence => e.kind === 'indicator');
    expect(evidence?.plausibility).toEqual([{ indicator: 'dryness_index', range: { min: 0, max: 10 }, source: 'rule', checked: 1 }]);
  });

  it("honours an explicit range in the rule, narrower than the unit's words", async () => {
    await publish('wetness_index', '2026-07', { XD03001: '12', XD03002: '9' });
    await approveRuleText(t.store, indicatorRule('test-wetness', 'XD03', 'name: wetness_index, source: NDMA (test), version: any, unit: index, range: { min: 0, max: 10 }, threshold: { op: gte, value: 8 }'));
    const summary = await evaluateActivations(t.store, { asOf: '2026-08-06T00:00:00Z', ruleId: 'test-wetness' });
    expect(summary.opened).toBe(1);
    expect((await listActivations(t.store, { ruleId: 'test-wetness' })).map((a) => a.pcode)).toEqual(['XD03002']);
  });
});
