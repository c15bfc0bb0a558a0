import { parse } from 'csv-parse/sync';
import { readFeedNumber } from '../strict-number.ts';
import { PayloadError, emptyResult, type Adapter, type IndicatorValue, type ParseResult, type Rejection } from '../model.ts';

/**
 * Indicator tables (CSV), recognised by their header:
 *
 * 1. The canonical table `pcode,indicator,period_start,period_end,value,status,source` (any column
 *    order, extra columns ignored, names case-insensitive): one IndicatorValue per row. An optional
 *    `issued_at` column says when the source issued the figure (`YYYY-MM-DD`, taken as 00:00 UTC,
 *    or a date-time with a time zone); left out or empty, the issue time is when the engine
 *    received the table. It tells the issues of a forecast apart (each one is kept) and gives
 *    its lead (issue to period start).
 * 2. The WFP/HDX CHIRPS rainfall table (`date,adm_level,adm_id,PCODE,n_pixels,rfh,rfh_avg,r1h,…,
 *    version`; older files name the P-code `ADM2_PCODE` and may have a HXL `#hashtag` row):
 *    up to seven values per row (rainfall_10d_mm, rainfall_10d_avg_mm, rainfall_1m_mm,
 *    rainfall_3m_mm, rainfall_anomaly_{10d,1m,3m}_pct) over dekad-aligned periods. The file has
 *    no issue date: a forecast row (`version` forecast) is issued when the engine received it.
 *
 * Every bad row (or cell) is a Rejection `line N, column C` with the line as an editor shows it
 * (the header is line 1); the good rows still come through.
 */

/** The canonical header, in the order the docs show it. */
export const INDICATOR_COLUMNS = ['pcode', 'indicator', 'period_start', 'period_end', 'value', 'status', 'source'] as const;

/** WFP/HDX CHIRPS columns → indicator, and which period the figure covers. */
const RAINFALL_COLUMNS: { column: string; indicator: string; period: '10d' | '1m' | '3m'; kind: 'mm' | 'pct' }[] = [
  { column: 'rfh', indicator: 'rainfall_10d_mm', period: '10d', kind: 'mm' },
  { column: 'rfh_avg', indicator: 'rainfall_10d_avg_mm', period: '10d', kind: 'mm' },
  { column: 'r1h', indicator: 'rainfall_1m_mm', period: '1m', kind: 'mm' },
  { column: 'r3h', indicator: 'rainfall_3m_mm', period: '3m', kind: 'mm' },
  { column: 'rfq', indicator: 'rainfall_anomaly_10d_pct', period: '10d', kind: 'pct' },
  { column: 'r1q', indicator: 'rainfall_anomaly_1m_pct', period: '1m', kind: 'pct' },
  { column: 'r3q', indicator: 'rainfall_anomaly_3m_pct', period: '3m', kind: 'pct' },
];
/** The P-code column of a WFP file, most specific first (`PCODE` now, `ADM2_PCODE` in older files). */
const WFP_PCODE_COLUMNS = ['pcode', 'adm3_pcode', 'adm2_pcode', 'adm1_pcode'];
const WFP_SOURCE = 'WFP CHIRPS';

type Row = Record<string, string>;

interface ReadRow {
  line: number;
  row: Row;
}

export const indicatorsAdapter: Adapter = {
  source: 'indicators',
  parse(bytes: Buffer): ParseResult {
    const { header, rows, rejected } = readCsv(bytes);
    const names = header.map(normaliseName);
    const result = emptyResult();
    result.rejected.push(...rejected);

    if (INDICATOR_COLUMNS.every((c) => names.includes(c))) {
      for (const { line, row } of rows) readCanonicalRow(row, line, header, result);
      return inLineOrder(result);
    }
    const pcodeColumn = WFP_PCODE_COLUMNS.find((c) => names.includes(c));
    const valueColumns = RAINFALL_COLUMNS.filter((c) => names.includes(c.column));
    if (names.includes('date') && pcodeColumn && valueColumns.length > 0) {
      const dataRows = rows.length > 0 && isHxlRow(rows[0].row) ? rows.slice(1) : rows;
      for (const { line, row } of dataRows) readRainfallRow(row, line, header, pcodeColumn, valueColumns, names.includes('version'), result);
      return inLineOrder(result);
    }
    throw new PayloadError(
      `not an indicator table: the header has ${header.map((h) => JSON.stringify(h)).join(', ')}; expected the columns `
      + `${INDICATOR_COLUMNS.join(', ')} (any order), or the WFP CHIRPS rainfall columns date, PCODE (or ADM2_PCODE) `
      + `and at least one of ${RAINFALL_COLUMNS.map((c) => c.column).join(', ')}`,
    );
  },
};

/** Header and records (keyed by the lower-case column name) with their first line; bad records as Rejections. */
function readCsv(bytes: Buffer): { header: string[]; rows: ReadRow[]; rejected: Rejection[] } {
  if (bytes.toString('utf8').replace(/^(\uFEFF|\u00EF\u00BB\u00BF)/, '').trim() === '') {
    throw new PayloadError('the payload is empty');
  }
  const captured: { header: string[] | null } = { header: null };
  const rejected: Rejection[] = [];
  let records: { record: Row; info: { lines: number } }[];
  try {
    records = parse(bytes, {
      bom: true,
      columns: (names: string[]) => {
        captured.header = names.map((n, i) => (i === 0 ? n.replace(/^\u00EF\u00BB\u00BF/, '') : n).trim());
        return captured.header.map(normaliseName);
      },
      relax_column_count: false,
      skip_empty_lines: true,
      trim: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (error: (Error & { lines?: number }) | undefined) => {
        if (!error) return;
        const counts = /columns length is (\d+), got (\d+)/.exec(error.message);
        const reason = counts ? `the row has ${counts[2]} fields but the header has ${counts[1]}` : error.message;
        rejected.push({ where: `line ${error.lines ?? '?'}`, reason });
      },
    }) as { record: Row; info: { lines: number } }[];
  } catch (error) {
    throw new PayloadError(`not readable CSV: ${(error as Error).message}`);
  }
  const header = captured.header;
  if (header === null) throw new PayloadError('the payload has no header line');
  const rows = records.map(({ record, info }) => {
    // info.lines is where the record ends; a quoted field may span lines, so count back.
    const spanned = Object.values(record).reduce((n, v) => n + (v.match(/\n/g)?.length ?? 0), 0);
    return { line: info.lines - spanned, row: record };
  });
  return { header, rows, rejected };
}

/** Rejections sorted by line (the CSV reader reports malformed rows before the rows are checked). */
function inLineOrder(result: ParseResult): ParseResult {
  const lineOf = (r: Rejection) => Number(/^line (\d+)/.exec(r.where)?.[1] ?? Number.MAX_SAFE_INTEGER);
  result.rejected.sort((a, b) => lineOf(a) - lineOf(b));
  return result;
}

function normaliseName(name: string): string {
  return name.trim().toLowerCase();
}

/** The HXL hashtag row (`#date,#adm1+code,…`) that HDX files may carry under the header. */
function isHxlRow(row: Row): boolean {
  const cells = Object.values(row).filter((v) => v !== '');
  return cells.length > 0 && cells.every((v) => v.startsWith('#'));
}

/** The column as written in the header, for messages. */
function columnLabel(header: string[], name: string): string {
  return header.find((h) => normaliseName(h) === name) ?? name;
}

// ---------------------------------------------------------------------------------------------
// Canonical table

function readCanonicalRow(row: Row, line: number, header: string[], result: ParseResult): void {
  const problems: { column: string; reason: string }[] = [];
  const problem = (column: string, reason: string) => problems.push({ column: columnLabel(header, column), reason });

  const pcode = row.pcode;
  if (!pcode) problem('pcode', 'pcode is empty');
  const indicator = row.indicator;
  if (!indicator) problem('indicator', 'indicator is empty');
  else if (!/^[a-z0-9_]+$/.test(indicator)) problem('indicator', `indicator "${indicator}" must be lower-case letters, digits and _ only`);
  const periodStart = dateOf(row.period_start);
  if (!periodStart) problem('period_start', describeBadDate('period_start', row.period_start));
  const periodEnd = dateOf(row.period_end);
  if (!periodEnd) problem('period_end', describeBadDate('period_end', row.period_end));
  if (periodStart && periodEnd && periodEnd < periodStart) {
    problem('period_end', `period_end ${periodEnd} is before period_start ${periodStart}`);
  }
  const number = readFeedNumber(row.value ?? '');
  const value = number.value ?? null;
  if (number.problem) problem('value', row.value ? `value ${number.problem}` : 'value is empty');
  const status = statusOf(row.status);
  if (!status) problem('status', `status "${row.status}" is neither final nor forecast`);
  const source = row.source;
  if (!source) problem('source', 'source is empty');
  const issuedAt = issuedAtOf(row.issued_at);
  if (issuedAt === undefined) {
    problem('issued_at', `issued_at "${row.issued_at}" is neither a date (YYYY-MM-DD) nor a date-time with a time zone (e.g. 2025-08-15T06:00:00Z)`);
  }

  if (problems.length > 0) {
    result.rejected.push({ where: `line ${line}, column ${problems[0].column}`, reason: problems.map((p) => p.reason).join('; ') });
    return;
  }
  const read: IndicatorValue = { pcode, indicator, periodStart: periodStart!, periodEnd: periodEnd!, value: value!, status: status!, source };
  if (issuedAt) read.issuedAt = issuedAt;
  result.indicators.push(read);
}

/**
 * The issue time as an ISO date-time in UTC: a date is its midnight UTC, a date-time needs its
 * time zone (a clock time without one is ambiguous). Null for an empty or absent cell (the engine
 * then counts the time it received the table); undefined when the cell cannot be read.
 */
function issuedAtOf(cell: string | undefined): string | null | undefined {
  if (cell === undefined || cell === '') return null;
  const date = dateOf(cell);
  if (date) return `${date}T00:00:00.000Z`;
  const match = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(cell);
  if (!match || !dateOf(match[1])) return undefined;
  const ms = Date.parse(cell);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------------------------
// WFP / HDX CHIRPS rainfall

function readRainfallRow(
  row: Row, line: number, header: string[], pcodeColumn: string,
  valueColumns: typeof RAINFALL_COLUMNS, hasVersion: boolean, result: ParseResult,
): void {
  const where = (column: string) => `line ${line}, column ${columnLabel(header, column)}`;
  const pcode = row[pcodeColumn];
  if (!pcode) {
    result.rejected.push({ where: where(pcodeColumn), reason: `${columnLabel(header, pcodeColumn)} is empty` });
    return;
  }
  const date = dateOf(row.date);
  if (!date) {
    result.rejected.push({ where: where('date'), reason: describeBadDate('date', row.date) });
    return;
  }
  const periods = dekadPeriods(date);
  if (!periods) {
    result.rejected.push({ where: where('date'), reason: `date ${date} is not the start of a dekad (day 1, 11 or 21 of a month)` });
    return;
  }
  const status = hasVersion ? statusOf(row.version) : 'final';
  if (!status) {
    result.rejected.push({ where: where('version'), reason: `version "${row.version}" is neither final nor forecast` });
    return;
  }
  for (const { column, indicator, period, kind } of valueColumns) {
    const cell = row[column];
    if (cell === undefined || cell === '') continue;
    const value = readFeedNumber(cell).value ?? null;
    if (value === null || value < 0) {
      const what = kind === 'mm' ? 'a rainfall in mm' : 'an anomaly in %';
      result.rejected.push({ where: where(column), reason: `${columnLabel(header, column)} "${cell}" is not ${what}` });
      continue;
    }
    const { start, end } = periods[period];
    result.indicators.push({ pcode, indicator, periodStart: start, periodEnd: end, value, status, source: WFP_SOURCE });
  }
}

type Period = { start: string; end: string };

/**
 * The periods a CHIRPS row covers, all ending at the end of the dekad that starts at `date`:
 * 10d is the dekad itself (days 1–10, 11–20, 21–end of month); 1m is the last 3 dekads and 3m the
 * last 9 (WFP sums whole dekads), i.e. they start 1 or 3 months before the dekad's end, plus a day,
 * aligned to a dekad start. Null when `date` is not a dekad start.
 */
export function dekadPeriods(date: string): Record<'10d' | '1m' | '3m', Period> | null {
  const [y, m, d] = date.split('-').map(Number);
  if (d !== 1 && d !== 11 && d !== 21) return null;
  const index = y * 36 + (m - 1) * 3 + (d - 1) / 10;
  const end = d === 21 ? ymd(y, m, daysInMonth(y, m)) : ymd(y, m, d + 9);
  return {
    '10d': { start: date, end },
    '1m': { start: dekadStart(index - 2), end },
    '3m': { start: dekadStart(index - 8), end },
  };
}

function dekadStart(index: number): string {
  const y = Math.floor(index / 36);
  const rest = index - y * 36;
  return ymd(y, Math.floor(rest / 3) + 1, (rest % 3) * 10 + 1);
}

// ---------------------------------------------------------------------------------------------

/** A real calendar date written YYYY-MM-DD, else null. */
function dateOf(value: string | undefined): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value ?? '');
  if (!match) return null;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null;
  return value!;
}

function describeBadDate(column: string, value: string | undefined): string {
  return value ? `${column} "${value}" is not a date (YYYY-MM-DD)` : `${column} is empty`;
}

function statusOf(value: string | undefined): IndicatorValue['status'] | null {
  const v = (value ?? '').toLowerCase();
  if (v === '' || v === 'final') return 'final';
  if (v === 'forecast') return 'forecast';
  return null;
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function ymd(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}
