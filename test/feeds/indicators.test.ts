import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INDICATOR_COLUMNS, dekadPeriods, indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { PayloadError, type IndicatorValue, type ParseResult } from '../../src/feeds/model.ts';
import { indicatorValueSchema } from '../../src/feeds/validate.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const chirpsPath = path.resolve(root, '../shared/data/feeds/climate/wfp_chirps_rainfall_moz-adm2-5ytd_extract.csv');
const fixture = (name: string) => readFileSync(path.resolve(root, 'test/fixtures/feeds/indicators', name));
const context = { pcodeFor: () => undefined };

const parse = (bytes: Buffer | string): ParseResult => {
  const result = indicatorsAdapter.parse(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, context);
  // Whatever the adapter emits must pass the storage side's checks.
  for (const value of result.indicators) {
    const checked = indicatorValueSchema.safeParse(value);
    expect(checked.success, JSON.stringify(checked.error?.issues)).toBe(true);
  }
  expect(result.events).toEqual([]);
  return result;
};

const find = (values: IndicatorValue[], pcode: string, indicator: string, periodStart?: string, status?: string) =>
  values.filter((v) => v.pcode === pcode && v.indicator === indicator
    && (periodStart === undefined || v.periodStart === periodStart) && (status === undefined || v.status === status));

describe('indicators adapter: WFP CHIRPS rainfall (HDX moz-rainfall-adm2-5ytd extract)', () => {
  const result = () => parse(readFileSync(chirpsPath));

  it('reads 7 values from each of the 6 rows, with no rejection', () => {
    const { indicators, rejected } = result();
    expect(rejected).toEqual([]);
    expect(indicators).toHaveLength(42);
    expect(new Set(indicators.map((v) => v.indicator))).toEqual(new Set([
      'rainfall_10d_mm', 'rainfall_10d_avg_mm', 'rainfall_1m_mm', 'rainfall_3m_mm',
      'rainfall_anomaly_10d_pct', 'rainfall_anomaly_1m_pct', 'rainfall_anomaly_3m_pct',
    ]));
    expect(indicators.every((v) => v.source === 'WFP CHIRPS')).toBe(true);
    expect(indicators.filter((v) => v.status === 'final')).toHaveLength(28);
    expect(indicators.filter((v) => v.status === 'forecast')).toHaveLength(14);
  });

  it('maps each column to its value and its dekad-aligned period', () => {
    const { indicators } = result();
    const first = indicators.filter((v) => v.pcode === 'MZ01' && v.periodEnd === '2021-01-10');
    expect(first).toEqual([
      { pcode: 'MZ01', indicator: 'rainfall_10d_mm', periodStart: '2021-01-01', periodEnd: '2021-01-10', value: 53.375195, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'MZ01', indicator: 'rainfall_10d_avg_mm', periodStart: '2021-01-01', periodEnd: '2021-01-10', value: 86.49647, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'MZ01', indicator: 'rainfall_1m_mm', periodStart: '2020-12-11', periodEnd: '2021-01-10', value: 127.58656, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'MZ01', indicator: 'rainfall_3m_mm', periodStart: '2020-10-11', periodEnd: '2021-01-10', value: 166.10086, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'MZ01', indicator: 'rainfall_anomaly_10d_pct', periodStart: '2021-01-01', periodEnd: '2021-01-10', value: 63.80049, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'MZ01', indicator: 'rainfall_anomaly_1m_pct', periodStart: '2020-12-11', periodEnd: '2021-01-10', value: 57.33111, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'MZ01', indicator: 'rainfall_anomaly_3m_pct', periodStart: '2020-10-11', periodEnd: '2021-01-10', value: 52.46601, status: 'final', source: 'WFP CHIRPS' },
    ]);
    // The admin-2 forecast row of March 2025.
    expect(find(indicators, 'MZ0101', 'rainfall_1m_mm')).toEqual([
      { pcode: 'MZ0101', indicator: 'rainfall_1m_mm', periodStart: '2025-02-11', periodEnd: '2025-03-10', value: 291.36746, status: 'forecast', source: 'WFP CHIRPS' },
    ]);
    expect(find(indicators, 'MZ0101', 'rainfall_anomaly_3m_pct')[0]).toMatchObject({ periodStart: '2024-12-11', periodEnd: '2025-03-10', value: 95.562416 });
    expect(find(indicators, 'MZ01', 'rainfall_10d_mm', '2025-03-01')).toEqual([
      { pcode: 'MZ01', indicator: 'rainfall_10d_mm', periodStart: '2025-03-01', periodEnd: '2025-03-10', value: 79.3551, status: 'forecast', source: 'WFP CHIRPS' },
    ]);
  });

  it('keeps a forecast and a final row of the same P-code and date as separate values', () => {
    // The extract has only the forecast for MZ01 2025-03-01; the next file brings the final.
    const text = readFileSync(chirpsPath, 'utf8').trimEnd()
      + '\n2025-03-01,1,900948,MZ01,2588.0,80.0,81.81247,211.0,223.32239,574.0,693.1858,97.8,94.5,82.8,final\n';
    const both = find(parse(text).indicators, 'MZ01', 'rainfall_10d_mm', '2025-03-01');
    expect(both.map((v) => [v.status, v.value])).toEqual([['forecast', 79.3551], ['final', 80]]);
  });
});

describe('indicators adapter: older WFP file (ADM2_PCODE, HXL row) with bad rows', () => {
  const result = () => parse(fixture('wfp-rainfall-adm2-legacy.csv'));

  it('skips the HXL hashtag row and reads forecast and final of the same dekad as separate values', () => {
    const { indicators } = result();
    expect(indicators.some((v) => v.pcode.startsWith('#'))).toBe(false);
    expect(find(indicators, 'KE023001', 'rainfall_10d_mm', '2024-04-21')).toEqual([
      { pcode: 'KE023001', indicator: 'rainfall_10d_mm', periodStart: '2024-04-21', periodEnd: '2024-04-30', value: 12.5, status: 'forecast', source: 'WFP CHIRPS' },
      { pcode: 'KE023001', indicator: 'rainfall_10d_mm', periodStart: '2024-04-21', periodEnd: '2024-04-30', value: 14, status: 'final', source: 'WFP CHIRPS' },
    ]);
    // Third dekad of April: 1 month = the three dekads of April, 3 months = February to April.
    expect(find(indicators, 'KE023001', 'rainfall_1m_mm', undefined, 'final')[0]).toMatchObject({ periodStart: '2024-04-01', periodEnd: '2024-04-30', value: 41.7 });
    expect(find(indicators, 'KE023001', 'rainfall_3m_mm', undefined, 'final')[0]).toMatchObject({ periodStart: '2024-02-01', periodEnd: '2024-04-30', value: 151.8 });
  });

  it('skips empty cells and ends the third dekad of a leap February on the 29th', () => {
    const feb = result().indicators.filter((v) => v.periodEnd === '2024-02-29');
    expect(feb).toEqual([
      { pcode: 'KE023001', indicator: 'rainfall_10d_mm', periodStart: '2024-02-21', periodEnd: '2024-02-29', value: 3.1, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'KE023001', indicator: 'rainfall_10d_avg_mm', periodStart: '2024-02-21', periodEnd: '2024-02-29', value: 5, status: 'final', source: 'WFP CHIRPS' },
      { pcode: 'KE023001', indicator: 'rainfall_anomaly_10d_pct', periodStart: '2024-02-21', periodEnd: '2024-02-29', value: 62, status: 'final', source: 'WFP CHIRPS' },
    ]);
  });

  it('rejects each bad row or cell with its line and column, and keeps the rest of a row with one bad cell', () => {
    const { indicators, rejected } = result();
    expect(rejected).toEqual([
      { where: 'line 6, column date', reason: 'date 2024-04-05 is not the start of a dekad (day 1, 11 or 21 of a month)' },
      { where: 'line 7, column date', reason: 'date "2024-13-01" is not a date (YYYY-MM-DD)' },
      { where: 'line 8, column version', reason: 'version "provisional" is neither final nor forecast' },
      { where: 'line 9, column rfh', reason: 'rfh "abc" is not a rainfall in mm' },
      { where: 'line 10, column ADM2_PCODE', reason: 'ADM2_PCODE is empty' },
    ]);
    const may = indicators.filter((v) => v.periodEnd === '2024-05-20');
    expect(may.map((v) => v.indicator)).toEqual([
      'rainfall_10d_avg_mm', 'rainfall_1m_mm', 'rainfall_3m_mm', 'rainfall_anomaly_10d_pct', 'rainfall_anomaly_1m_pct', 'rainfall_anomaly_3m_pct',
    ]);
    expect(indicators).toHaveLength(7 + 7 + 3 + 6);
  });
});

describe('indicators adapter: canonical table', () => {
  it('reads good rows (any column order, extra columns ignored, status case-insensitive, empty status final)', () => {
    const { indicators } = parse(fixture('canonical-with-errors.csv'));
    expect(indicators).toEqual([
      { pcode: 'KE023', indicator: 'vci3m', periodStart: '2024-01-01', periodEnd: '2024-03-31', value: 18.5, status: 'final', source: 'NDMA' },
      { pcode: 'KE010', indicator: 'vci3m', periodStart: '2024-01-01', periodEnd: '2024-03-31', value: 27.25, status: 'forecast', source: 'NDMA' },
      { pcode: 'KE008', indicator: 'spi3', periodStart: '2024-01-01', periodEnd: '2024-03-31', value: 0.9, status: 'final', source: 'ICPAC' },
    ]);
  });

  it('rejects each bad row with its editor line (a quoted field spans two lines) and column', () => {
    const { rejected } = parse(fixture('canonical-with-errors.csv'));
    expect(rejected).toEqual([
      { where: 'line 5, column period_start', reason: 'period_start "2024-02-30" is not a date (YYYY-MM-DD)' },
      { where: 'line 6, column value', reason: 'value "n/a" is not a number' },
      { where: 'line 7, column status', reason: 'status "maybe" is neither final nor forecast' },
      { where: 'line 8, column period_end', reason: 'period_end 2024-03-31 is before period_start 2024-04-01' },
      { where: 'line 9, column pcode', reason: 'pcode is empty' },
      { where: 'line 11', reason: 'the row has 6 fields but the header has 8' },
      { where: 'line 12, column source', reason: 'source is empty' },
      { where: 'line 14, column indicator', reason: 'indicator "VCI 3M" must be lower-case letters, digits and _ only' },
    ]);
  });

  it('names every problem of a row, the first bad column in where', () => {
    const csv = 'pcode,indicator,period_start,period_end,value,status,source\nKE001,vci3m,2024-1-1,2024-03-31,,draft,NDMA\n';
    expect(parse(csv).rejected).toEqual([{
      where: 'line 2, column period_start',
      reason: 'period_start "2024-1-1" is not a date (YYYY-MM-DD); value is empty; status "draft" is neither final nor forecast',
    }]);
  });

  it('gives the line where a bad row starts when a quoted field spans lines', () => {
    const csv = 'pcode,indicator,period_start,period_end,value,status,source,note\n'
      + 'KE001,vci3m,2024-01-01,2024-03-31,10,final,NDMA,"one\ntwo\nthree"\n'
      + 'KE002,vci3m,2024-01-01,2024-03-31,oops,final,NDMA,"four\nfive"\n'
      + 'KE003,vci3m,2024-01-01,2024-03-31,12,final,,\n';
    const result = parse(csv);
    expect(result.indicators.map((v) => v.pcode)).toEqual(['KE001']);
    expect(result.rejected).toEqual([
      { where: 'line 5, column value', reason: 'value "oops" is not a number' },
      { where: 'line 7, column source', reason: 'source is empty' },
    ]);
  });

  it('accepts a BOM, upper-case header names and CRLF line ends', () => {
    const csv = '\uFEFFPCODE,Indicator,Period_Start,Period_End,Value,Status,Source\r\nKE023,vci3m,2024-01-01,2024-03-31,9.5,Final,NDMA\r\n';
    expect(parse(csv)).toEqual({
      events: [],
      indicators: [{ pcode: 'KE023', indicator: 'vci3m', periodStart: '2024-01-01', periodEnd: '2024-03-31', value: 9.5, status: 'final', source: 'NDMA' }],
      rejected: [],
    });
  });

  it('reads the optional issued_at column: a date is midnight UTC, a date-time keeps its zone, empty is "when received"', () => {
    const csv = 'pcode,indicator,period_start,period_end,value,status,source,issued_at\n'
      + 'MZ0101,p_spi3_moderate,2025-11-01,2026-01-31,48,forecast,WFP SEAS5,2025-09-15\n'
      + 'MZ0101,p_spi3_moderate,2025-11-01,2026-01-31,52,forecast,WFP SEAS5,2025-10-15T08:30:00+02:00\n'
      + 'MZ0101,p_spi3_moderate,2025-11-01,2026-01-31,55,forecast,WFP SEAS5,\n';
    const { indicators, rejected } = parse(csv);
    expect(rejected).toEqual([]);
    expect(indicators.map((v) => [v.value, v.issuedAt])).toEqual([[48, '2025-09-15T00:00:00.000Z'], [52, '2025-10-15T06:30:00.000Z'], [55, undefined]]);
  });

  it('rejects an issued_at that is not a date, or a clock time without a time zone, with its line and column', () => {
    const csv = 'pcode,indicator,period_start,period_end,value,status,source,Issued_At\n'
      + 'MZ0101,p_spi3_moderate,2025-11-01,2026-01-31,48,forecast,WFP SEAS5,15/09/2025\n'
      + 'MZ0101,p_spi3_moderate,2025-11-01,2026-01-31,48,forecast,WFP SEAS5,2025-09-15T08:00:00\n'
      + 'MZ0101,p_spi3_moderate,2025-11-01,2026-01-31,48,forecast,WFP SEAS5,2025-02-30\n';
    const reason = (cell: string) => `issued_at "${cell}" is neither a date (YYYY-MM-DD) nor a date-time with a time zone (e.g. 2025-08-15T06:00:00Z)`;
    expect(parse(csv)).toMatchObject({
      indicators: [],
      rejected: [
        { where: 'line 2, column Issued_At', reason: reason('15/09/2025') },
        { where: 'line 3, column Issued_At', reason: reason('2025-09-15T08:00:00') },
        { where: 'line 4, column Issued_At', reason: reason('2025-02-30') },
      ],
    });
  });

  it('exports the canonical header', () => {
    expect(INDICATOR_COLUMNS.join(',')).toBe('pcode,indicator,period_start,period_end,value,status,source');
  });
});

describe('indicators adapter: empty and unrecognised payloads', () => {
  it('reads a header without rows as a valid, empty result', () => {
    expect(parse(`${INDICATOR_COLUMNS.join(',')}\n`)).toEqual({ events: [], indicators: [], rejected: [] });
    expect(parse('date,adm_level,adm_id,PCODE,n_pixels,rfh,rfh_avg,r1h,r1h_avg,r3h,r3h_avg,rfq,r1q,r3q,version'))
      .toEqual({ events: [], indicators: [], rejected: [] });
  });

  it('throws a PayloadError for an empty or blank file', () => {
    expect(() => parse('')).toThrow(PayloadError);
    expect(() => parse('')).toThrow(/empty/);
    expect(() => parse('\uFEFF\n\n  \n')).toThrow(/empty/);
  });

  it('throws a PayloadError naming the expected columns when the header is neither format', () => {
    const csv = 'station_code,station_name,lat,lon\nG5142,ATHI MUNYU,-1.08,37.19\n';
    expect(() => parse(csv)).toThrow(PayloadError);
    expect(() => parse(csv)).toThrow(/the header has "station_code", "station_name", "lat", "lon"; expected the columns pcode, indicator, period_start, period_end, value, status, source/);
    // A canonical table missing one column is not recognised either.
    expect(() => parse('pcode,indicator,period_start,period_end,value,status\n')).toThrow(/expected the columns pcode, indicator/);
  });

  it('throws a PayloadError for JSON or binary input', () => {
    expect(() => parse('{"pcode": "KE001"}')).toThrow(PayloadError);
    expect(() => parse(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toThrow(PayloadError);
  });
});

describe('dekadPeriods', () => {
  it('aligns 10-day, 1-month and 3-month periods on dekads', () => {
    expect(dekadPeriods('2025-03-21')).toEqual({
      '10d': { start: '2025-03-21', end: '2025-03-31' },
      '1m': { start: '2025-03-01', end: '2025-03-31' },
      '3m': { start: '2025-01-01', end: '2025-03-31' },
    });
    expect(dekadPeriods('2024-01-11')).toEqual({
      '10d': { start: '2024-01-11', end: '2024-01-20' },
      '1m': { start: '2023-12-21', end: '2024-01-20' },
      '3m': { start: '2023-10-21', end: '2024-01-20' },
    });
    expect(dekadPeriods('2023-02-21')?.['10d']).toEqual({ start: '2023-02-21', end: '2023-02-28' });
    expect(dekadPeriods('2024-01-02')).toBeNull();
  });
});
