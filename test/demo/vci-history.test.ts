import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { vciHistory, vciHistoryCsv } from '../../src/demo/vci-history.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { projectRoot } from '../support/paths.ts';

const feeds = path.join(projectRoot, 'data/demo/feeds');
const rows = vciHistory();
const month = (r: { periodStart: string }) => r.periodStart.slice(0, 7);
const region = (r: { pcode: string }) => r.pcode.slice(0, 4);
const between = (from: string, to: string) => rows.filter((r) => month(r) >= from && month(r) <= to);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

// The three droughts the generator models (keyframe windows in src/demo/vci-history.ts).
const DROUGHTS = { '2016–17': ['2016-06', '2017-10'], '2019': ['2019-02', '2019-10'], '2021–22': ['2021-06', '2023-04'] } as const;
const inDrought = (r: { periodStart: string }) => Object.values(DROUGHTS).some(([from, to]) => month(r) >= from && month(r) <= to);

describe('the synthetic VCI-3M history of Demoland', () => {
  it('is deterministic, and data/demo/feeds/vci3m-history.csv is its current output', async () => {
    const text = vciHistoryCsv();
    expect(vciHistoryCsv()).toBe(text);
    expect(vciHistoryCsv(1)).not.toBe(text);
    expect(await readFile(path.join(feeds, 'vci3m-history.csv'), 'utf8')).toBe(text);
  });

  it('has 120 months (2015-12 … 2025-11) for each of the 24 districts and ends where vci3m-districts.csv begins', async () => {
    expect(rows).toHaveLength(24 * 120);
    const pcodes = [...new Set(rows.map((r) => r.pcode))];
    expect(pcodes).toHaveLength(24);
    for (const pcode of pcodes) {
      const months = rows.filter((r) => r.pcode === pcode).map(month);
      expect(months).toHaveLength(120);
      expect(months[0]).toBe('2015-12');
      expect(months[119]).toBe('2025-11');
      expect(new Set(months).size).toBe(120);
    }
    expect(rows.every((r) => r.value >= 0 && r.value <= 100 && Math.round(r.value * 10) === r.value * 10)).toBe(true);

    // Read as the indicators adapter reads it: every row a final vci3m value, nothing rejected.
    const parsed = indicatorsAdapter.parse(Buffer.from(vciHistoryCsv()), { pcodeFor: () => undefined });
    expect(parsed.rejected).toEqual([]);
    expect(parsed.indicators).toHaveLength(2880);
    expect(parsed.indicators.every((v) => v.indicator === 'vci3m' && v.status === 'final' && v.source === 'NDMA (demo)')).toBe(true);
    const next = indicatorsAdapter.parse(await readFile(path.join(feeds, 'vci3m-districts.csv')), { pcodeFor: () => undefined });
    const lastEnd = parsed.indicators.map((v) => v.periodEnd).sort().at(-1);
    const firstStart = next.indicators.map((v) => v.periodStart).sort()[0];
    expect([lastEnd, firstStart]).toEqual(['2025-11-30', '2025-12-01']);
  });

  it('has severe and extreme drought only in the 2016–17, 2019 and 2021–22 episodes, extreme mostly in the north-east in 2021–22', () => {
    const severeOrWorse = rows.filter((r) => r.value < 20);
    expect(severeOrWorse.filter((r) => !inDrought(r))).toEqual([]);
    // Normal years stay well above the severe band.
    expect(Math.min(...rows.filter((r) => !inDrought(r)).map((r) => r.value))).toBeGreaterThan(20);

    const [a16, b16] = DROUGHTS['2016–17'];
    const drought2016 = between(a16, b16);
    expect(drought2016.filter((r) => r.value >= 10 && r.value < 20).length).toBeGreaterThanOrEqual(10);
    expect(drought2016.filter((r) => r.value < 10).length).toBeLessThanOrEqual(2);
    expect(new Set(drought2016.filter((r) => r.value < 20).map(region))).toEqual(new Set(['XD01', 'XD02']));

    const [a19, b19] = DROUGHTS['2019'];
    const drought2019 = between(a19, b19);
    expect(drought2019.filter((r) => r.value < 10)).toEqual([]);
    expect(drought2019.filter((r) => r.value < 20).length).toBeGreaterThanOrEqual(5);
    expect(new Set(drought2019.filter((r) => r.value < 20).map(region))).toEqual(new Set(['XD02', 'XD04']));

    const [a21, b21] = DROUGHTS['2021–22'];
    const extreme2021 = between(a21, b21).filter((r) => r.value < 10);
    expect(extreme2021.length).toBeGreaterThanOrEqual(10);
    expect(new Set(extreme2021.map(region))).toEqual(new Set(['XD02']));

    // A handful of episodes, not every month: under 5 % of district-months, 15–30 months with any.
    expect(severeOrWorse.length / rows.length).toBeLessThan(0.05);
    const monthsWithAny = new Set(severeOrWorse.map(month)).size;
    expect(monthsWithAny).toBeGreaterThanOrEqual(15);
    expect(monthsWithAny).toBeLessThanOrEqual(30);
    // Southdale (XD03) is never below 20.
    expect(severeOrWorse.filter((r) => region(r) === 'XD03')).toEqual([]);
  });

  it('moves districts of a region together more than districts of different regions, and follows the bimodal seasons', () => {
    const series = new Map<string, number[]>();
    for (const r of rows) series.set(r.pcode, [...(series.get(r.pcode) ?? []), r.value]);
    const correlation = (x: number[], y: number[]) => {
      const mx = mean(x);
      const my = mean(y);
      const cov = x.reduce((s, xi, i) => s + (xi - mx) * (y[i] - my), 0);
      return cov / Math.sqrt(x.reduce((s, xi) => s + (xi - mx) ** 2, 0) * y.reduce((s, yi) => s + (yi - my) ** 2, 0));
    };
    const within: number[] = [];
    const across: number[] = [];
    const pcodes = [...series.keys()];
    for (let i = 0; i < pcodes.length; i++) {
      for (let j = i + 1; j < pcodes.length; j++) {
        (pcodes[i].slice(0, 4) === pcodes[j].slice(0, 4) ? within : across).push(correlation(series.get(pcodes[i])!, series.get(pcodes[j])!));
      }
    }
    expect(mean(within)).toBeGreaterThan(0.85);
    expect(mean(within) - mean(across)).toBeGreaterThan(0.15);

    // After the rains (May–June, November–December) the index is higher than before them.
    const quiet = rows.filter((r) => !inDrought(r));
    const calendarMonth = (r: { periodStart: string }) => Number(r.periodStart.slice(5, 7));
    const afterRains = mean(quiet.filter((r) => [5, 6, 11, 12].includes(calendarMonth(r))).map((r) => r.value));
    const beforeRains = mean(quiet.filter((r) => [2, 3, 8, 9].includes(calendarMonth(r))).map((r) => r.value));
    expect(afterRains - beforeRains).toBeGreaterThan(4);
  });
});
