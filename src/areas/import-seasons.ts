import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { crossesYear, isMonthDay, type SeasonRecord } from './season-calendar.ts';

export interface SeasonsReport {
  /** Seasons loaded. */
  seasons: number;
  /** Areas whose calendar the file replaced. */
  areas: string[];
  /** Seasons that run into the next year, as `pcode season`. */
  crossingYear: string[];
}

const COLUMNS = ['pcode', 'season', 'start', 'end'] as const;

/**
 * Loads season calendars: a CSV with the header `pcode,season,start,end` (any order, names
 * case-insensitive, other columns ignored), `start` and `end` written MM-DD, the first and last
 * day of the season every year; an end before the start runs into the next year. The file is the
 * whole calendar of each P-code it names: their earlier seasons are replaced. Every bad row is
 * reported with its line, and nothing is loaded unless every row is good.
 *
 * ```csv
 * pcode,season,start,end
 * NE003,main,06-01,10-31
 * MZ01,main,11-01,03-31
 * ```
 */
export async function importSeasons(store: Store, file: string): Promise<SeasonsReport> {
  const records = parseSeasonCalendar(await readFile(file), file);
  return store.transaction(async ({ raw }) => {
    const pcodes = [...new Set(records.map((r) => r.record.pcode))];
    const known = await raw.query<{ pcode: string }>(`SELECT pcode FROM admin_areas WHERE pcode = ANY ($1::text[])`, [pcodes]);
    const knownPcodes = new Set(known.rows.map((r) => r.pcode));
    const unknown = records.filter((r) => !knownPcodes.has(r.record.pcode));
    if (unknown.length > 0) {
      throw new UserError(
        `${file}: ${unknown.length} row(s) name areas that are not loaded; nothing was loaded`,
        unknown.map((r) => `${file}: line ${r.line}, column pcode: ${r.record.pcode} is not an admin area (load the boundaries first: asp areas import)`),
      );
    }
    await raw.query(`DELETE FROM area_seasons WHERE pcode = ANY ($1::text[])`, [pcodes]);
    await raw.query(
      `INSERT INTO area_seasons (pcode, season, start_md, end_md)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
      [records.map((r) => r.record.pcode), records.map((r) => r.record.season), records.map((r) => r.record.start), records.map((r) => r.record.end)],
    );
    return {
      seasons: records.length,
      areas: pcodes.sort(),
      crossingYear: records.filter((r) => crossesYear(r.record)).map((r) => `${r.record.pcode} ${r.record.season}`),
    };
  });
}

/** The rows of a season calendar file with their lines; a UserError listing every bad row. */
export function parseSeasonCalendar(bytes: Buffer, file: string): { record: SeasonRecord; line: number }[] {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(bytes, {
      bom: true, columns: (names: string[]) => names.map((n) => n.trim().toLowerCase()), skip_empty_lines: true, trim: true, info: true,
    }) as typeof rows;
  } catch (error) {
    throw new UserError(`${file}: not readable CSV: ${(error as Error).message}`);
  }
  const header = rows.length > 0 ? Object.keys(rows[0].record) : [];
  const missing = COLUMNS.filter((c) => !header.includes(c));
  if (rows.length === 0) throw new UserError(`${file}: no seasons; the file needs the header ${COLUMNS.join(',')} and one row per area and season`);
  if (missing.length > 0) throw new UserError(`${file}: the header has no ${missing.join(', ')} column(s); it must have ${COLUMNS.join(',')}`);

  const problems: string[] = [];
  const seen = new Map<string, number>();
  const records = rows.map(({ record, info }) => {
    const line = info.lines;
    const at = (column: string, reason: string) => problems.push(`${file}: line ${line}, column ${column}: ${reason}`);
    const { pcode, season, start, end } = record;
    if (!/^[A-Z]{2}[A-Z0-9]*$/.test(pcode)) at('pcode', pcode ? `"${pcode}" is not a P-code (two capital letters then capitals or digits, e.g. NE003)` : 'is empty');
    if (!/^[a-z][a-z0-9_]*$/.test(season)) at('season', season ? `"${season}" must be lower-case letters, digits and _, starting with a letter (e.g. main, long_rains)` : 'is empty');
    for (const [column, value] of [['start', start], ['end', end]] as const) {
      if (value === '02-29') at(column, '02-29 does not occur every year; use 02-28 or 03-01');
      else if (!isMonthDay(value)) at(column, value ? `"${value}" is not a day of the year written MM-DD (e.g. 06-01)` : 'is empty');
    }
    const key = `${pcode}|${season}`;
    if (seen.has(key)) at('season', `${pcode} ${season} is already given on line ${seen.get(key)}`);
    else seen.set(key, line);
    return { record: { pcode, season, start, end }, line };
  });
  if (problems.length > 0) throw new UserError(`${file}: ${problems.length} problem(s); nothing was loaded`, problems);
  return records;
}
