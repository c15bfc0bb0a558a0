/**
 * What PostgreSQL would refuse in a normalised record, found before the record is sent, so that
 * one bad record is quarantined alone with a reason a person can read (the savepoints in ingest.ts
 * catch whatever these checks do not foresee). They mirror the database's own limits:
 *
 * - text and jsonb cannot hold a NUL character (`\u0000`), and jsonb refuses an unpaired UTF-16
 *   surrogate (`\ud800` alone);
 * - `date` and `timestamptz` refuse year 0000 (there is none) and the ISO text of years past 9999;
 * - a btree index entry holds at most about 2.7 KB, so an identifier that is indexed (event id,
 *   alias, P-code, indicator, source) is held to `MAX_KEY_BYTES`, far above any real one;
 * - nesting deeper than `MAX_DEPTH` is refused before anything walks it recursively (a deeply
 *   nested GeometryCollection would otherwise exhaust the stack).
 *
 * ```ts
 * const problem = storageProblem(event, { externalId: event.externalId }, { validFrom: event.validFrom })
 * if (problem) await quarantine(where, problem, storableCopy(event))
 * ```
 */
export const MAX_DEPTH = 64;
export const MAX_KEY_BYTES = 1000;

const NUL = '\u0000';
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The first thing in `record` the database would refuse, in words, or null. */
export function storageProblem(
  record: unknown,
  keys: Record<string, string | readonly string[] | null | undefined> = {},
  dates: Record<string, string | null | undefined> = {},
): string | null {
  const textProblem = unstorableText(record, 'record');
  if (textProblem) return textProblem;
  for (const [name, value] of Object.entries(keys)) {
    for (const key of typeof value === 'string' ? [value] : (value ?? [])) {
      const bytes = Buffer.byteLength(key, 'utf8');
      if (bytes > MAX_KEY_BYTES) return `${name} is ${bytes} bytes long (at most ${MAX_KEY_BYTES}: an identifier that long is not plausible)`;
    }
  }
  for (const [name, value] of Object.entries(dates)) {
    const problem = value ? yearProblem(value) : null;
    if (problem) return `${name}: ${problem}`;
  }
  return null;
}

/**
 * The first string (or field name) in `value` that text or jsonb cannot hold, or nesting deeper
 * than `MAX_DEPTH`, named by its path from `root` (`body.name: contains a NUL character …`).
 */
export function unstorableText(value: unknown, root: string): string | null {
  const found = findUnstorable(value);
  if (!found) return null;
  const path = found.path.reduce<string>((text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : `${text}.${printable(segment)}`), root);
  return `${path}${found.inFieldName ? ' (a field name)' : ''}: ${found.problem}`;
}

/**
 * The same check, with the path as segments (to point at a line of the file it came from); a
 * caller that knows its data is shallower (a rule) passes its own `maxDepth`.
 */
export function findUnstorable(value: unknown, maxDepth = MAX_DEPTH): { path: (string | number)[]; problem: string; inFieldName: boolean } | null {
  return walkProblem(value, [], 0, maxDepth);
}

type Found = { path: (string | number)[]; problem: string; inFieldName: boolean };

function walkProblem(value: unknown, path: (string | number)[], depth: number, maxDepth: number): Found | null {
  if (typeof value === 'string') {
    const problem = stringProblem(value);
    return problem ? { path, problem, inFieldName: false } : null;
  }
  if (value === null || typeof value !== 'object') return null;
  if (depth >= maxDepth) return { path, problem: `nested more than ${maxDepth} levels deep`, inFieldName: false };
  for (const [key, child] of Object.entries(value)) {
    const keyProblem = Array.isArray(value) ? null : stringProblem(key);
    if (keyProblem) return { path, problem: keyProblem, inFieldName: true };
    const found = walkProblem(child, [...path, Array.isArray(value) ? Number(key) : key], depth + 1, maxDepth);
    if (found) return found;
  }
  return null;
}

function stringProblem(text: string): string | null {
  if (text.includes(NUL)) return 'contains a NUL character (\\u0000), which the database cannot store as text';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
  return null;
}

/** Years the database stores as dates: 0001 to 9999 (ISO 8601 text has no year 0000). */
function yearProblem(text: string): string | null {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return null; // not a date at all: the record schema says so
  const year = /^\d{4}-/.test(text) ? Number(text.slice(0, 4)) : new Date(ms).getUTCFullYear();
  return year < 1 || year > 9999 ? `year ${String(year).padStart(4, '0')} of "${printable(text)}" is outside 0001–9999` : null;
}

/**
 * A copy of `value` the database can store as jsonb, to keep a refused record as evidence: NUL
 * becomes the visible text `\u0000`, an unpaired surrogate U+FFFD, and what is nested deeper than
 * `MAX_DEPTH` a note saying so.
 */
export function storableCopy(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return printable(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return `(nested deeper than ${MAX_DEPTH} levels, left out)`;
  if (Array.isArray(value)) return value.map((child) => storableCopy(child, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [printable(key), storableCopy(child, depth + 1)]));
}

/** Text the database can store: NUL shown as `\u0000`, unpaired surrogates as U+FFFD. */
export function printable(text: string): string {
  return text.replaceAll(NUL, '\\u0000').replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}
