/**
 * Season calendars: per area, named seasons that recur every year from a start day to an end day
 * (MM-DD). A season whose end comes before its start in the year runs into the next year
 * (`10-01` to `03-31`: October to March). Loaded with `asp areas seasons FILE`; read by the
 * `end_of_season` aggregation, for an area or its nearest ancestor with a calendar.
 *
 * ```ts
 * lastEnded({ pcode: 'NE', season: 'main', start: '06-01', end: '10-31' }, '2025-11-15')
 * // → { season: 'main', start: '2025-06-01', end: '2025-10-31' }
 * ```
 */

export interface SeasonRecord {
  pcode: string;
  /** Lower-case name, as a rule's `aggregation.season` names it: main, long_rains, deyr… */
  season: string;
  /** MM-DD, the season's first day. */
  start: string;
  /** MM-DD, the season's last day (before `start`: in the next year). */
  end: string;
}

/** One year's season: its first and last day, YYYY-MM-DD. */
export interface SeasonOccurrence {
  season: string;
  start: string;
  end: string;
}

const MONTH_DAY = /^(\d{2})-(\d{2})$/;

/**
 * True for a MM-DD day that occurs every year: 02-29 does not (a calendar that ends a season on
 * it would end it on different days in different years), nor 04-31.
 */
export function isMonthDay(value: string): boolean {
  const match = MONTH_DAY.exec(value);
  if (!match) return false;
  const [month, day] = [Number(match[1]), Number(match[2])];
  const date = new Date(Date.UTC(2001, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** True when the season runs into the next year. */
export function crossesYear(record: SeasonRecord): boolean {
  return record.end < record.start;
}

/** The occurrence of the season that ends in `year`. */
export function occurrenceEndingIn(record: SeasonRecord, year: number): SeasonOccurrence {
  const startYear = crossesYear(record) ? year - 1 : year;
  return { season: record.season, start: `${pad(startYear)}-${record.start}`, end: `${pad(year)}-${record.end}` };
}

/** The latest occurrence of the season whose last day is on or before `date` (YYYY-MM-DD). */
export function lastEnded(record: SeasonRecord, date: string): SeasonOccurrence {
  const year = Number(date.slice(0, 4));
  const thisYear = occurrenceEndingIn(record, year);
  return thisYear.end <= date ? thisYear : occurrenceEndingIn(record, year - 1);
}

/** The occurrence after this one, a year later. */
export function nextOccurrence(record: SeasonRecord, occurrence: SeasonOccurrence): SeasonOccurrence {
  return occurrenceEndingIn(record, Number(occurrence.end.slice(0, 4)) + 1);
}

function pad(year: number): string {
  return String(year).padStart(4, '0');
}
