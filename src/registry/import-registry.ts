import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { readCsvHeader } from './csv-header.ts';
import { UserError } from '../errors.ts';
import { spreadsheetSafe } from '../spreadsheet-safe.ts';
import { CopyError } from '../db/raw.ts';
import { MAX_KEY_BYTES } from '../db/storable.ts';
import type { Store, Tx } from '../db/store.ts';
import { isCanonical, type CanonicalColumn } from './columns.ts';
import { RecordLines } from './record-lines.ts';

export interface RegistryImportOptions {
  /** Import the good rows and write the bad ones to `rejectsFile` instead of importing nothing. */
  skipInvalid?: boolean;
  /** Where rejected rows go with `skipInvalid`; default `FILE.rejects.csv`. */
  rejectsFile?: string;
  /** Also enrol every imported household in this programme (active). */
  programme?: string;
  /** Called as bytes are read, for a progress bar. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface RegistryImportReport {
  rows: number;
  inserted: number;
  /** Households that existed and changed. */
  updated: number;
  /** Households that existed and were already exactly as in the file. */
  unchanged: number;
  rejected: number;
  /** Active enrolments created or re-activated by this import. */
  enrolled: number;
  /** One line per problem, `line N, column C: reason` (only with skipInvalid; otherwise thrown). */
  problems: string[];
  rejectsFile?: string;
}

interface Header {
  /** Column names as written in the file, in file order. */
  names: string[];
  /** Canonical column → staging column (c1, c2, ...). */
  canonical: Partial<Record<CanonicalColumn, string>>;
  /** Extra column name → staging column. */
  extra: [string, string][];
}

// Decimal numbers that fit a double (no 400-digit integers, no 1e999): a value out of range is
// a row problem, never a failed cast that aborts the whole import.
const NUMBER = String.raw`^\s*[-+]?([0-9]{1,15}(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,2})?\s*$`;
const WHOLE = String.raw`^\s*[0-9]{1,9}\s*$`;
// Written as a decimal number, of any size; with the length cap below, a cast to numeric cannot fail.
const DECIMAL = String.raw`^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,4})?\s*$`;
/** A PMT or wealth score is a modest number: beyond this it is a typing or export mistake, not a score. */
export const PMT_SCORE_LIMIT = 1e15;

/**
 * Imports a household CSV into the registry (see README "Registry CSV"). The file is streamed
 * into a staging table with COPY, checked there in SQL, and upserted by `registry_id` with
 * `INSERT … SELECT`: households never pass through Node one by one, and memory stays flat.
 *
 * Every bad row is reported as `line N, column C: reason`. By default one bad row means nothing
 * is imported (a UserError); with `skipInvalid` the good rows land and the bad go to a rejects file.
 *
 * ```ts
 * const report = await importRegistry(store, 'households.csv', { skipInvalid: true })
 * ```
 */
export async function importRegistry(
  store: Store,
  file: string,
  options: RegistryImportOptions = {},
): Promise<RegistryImportReport> {
  const header = await readHeader(file);
  const totalBytes = (await stat(file)).size;
  return store.transaction(async (tx) => {
    if (options.programme) await assertProgramme(tx, options.programme);
    const lines = await copyToStaging(tx, file, header, totalBytes, options.onProgress);
    const rows = await countRows(tx);
    if (rows === 0) throw new UserError(`${file}: no households after the header line`);
    await findProblems(tx, header);
    const described = await describeProblems(tx, header, lines);
    const problems = described.map((p) => p.text);
    const rejected = new Set(described.map((p) => p.record)).size;
    if (problems.length > 0 && !options.skipInvalid) {
      throw new UserError(
        `${file}: ${problems.length} problem(s) in ${rejected} row(s); nothing was imported (use --skip-invalid to import the good rows)`,
        problems.map((p) => `${file}: ${p}`),
      );
    }
    const { inserted, updated } = await upsertHouseholds(tx, header);
    const enrolled = await upsertEnrolments(tx, header, options.programme);
    // Written last, so that a failure above leaves no rejects file for an import that did not happen.
    const rejectsFile = rejected > 0 ? (options.rejectsFile ?? `${file}.rejects.csv`) : undefined;
    if (rejectsFile) await writeRejects(tx, header, lines, described, rejectsFile);
    const unchanged = rows - rejected - inserted - updated;
    return { rows, inserted, updated, unchanged, rejected, enrolled, problems, rejectsFile };
  });
}

async function readHeader(file: string): Promise<Header> {
  const { columns, problems } = await readCsvHeader(file);
  const names = columns.map((c) => c.name);
  const canonical: Header['canonical'] = {};
  const extra: Header['extra'] = [];
  for (const { name, key, staging } of columns) {
    if (isCanonical(key)) canonical[key] = staging;
    else extra.push([name, staging]);
  }
  if (!canonical.registry_id) problems.push('line 1: the required column registry_id is missing');
  if (!canonical.admin_pcode && !(canonical.lat && canonical.lon)) {
    problems.push('line 1: give admin_pcode, or lat and lon to derive it');
  }
  if (Boolean(canonical.lat) !== Boolean(canonical.lon)) problems.push('line 1: lat and lon go together; one is missing');
  if (problems.length > 0) {
    throw new UserError(`${file}: the header is not usable`, problems.map((p) => `${file}: ${p}`));
  }
  return { names, canonical, extra };
}

async function assertProgramme({ raw }: Tx, code: string) {
  const found = await raw.query('SELECT 1 FROM programmes WHERE code = $1', [code]);
  if (found.rows.length === 0) throw new UserError(`--programme ${code}: no such programme (create it with \`asp programmes add\`)`);
}

async function copyToStaging(
  { raw }: Tx,
  file: string,
  header: Header,
  totalBytes: number,
  onProgress: RegistryImportOptions['onProgress'],
): Promise<RecordLines> {
  const columns = header.names.map((_, i) => `c${i + 1}`);
  await raw.query(`
    CREATE TEMP TABLE registry_import (
      record bigint GENERATED ALWAYS AS IDENTITY,
      ${columns.map((c) => `${c} text`).join(', ')}
    ) ON COMMIT DROP`);
  await raw.query(`
    CREATE TEMP TABLE registry_problems (record bigint NOT NULL, col text NOT NULL, message text NOT NULL, other_record bigint)
    ON COMMIT DROP`);
  const lines = new RecordLines();
  const source = createReadStream(file, { highWaterMark: 1024 * 1024 });
  if (onProgress) source.on('data', () => onProgress(lines.bytes, totalBytes));
  try {
    await raw.copyFrom(
      `COPY registry_import (${columns.join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')`,
      source.pipe(lines),
    );
  } catch (error) {
    if (error instanceof CopyError) {
      const where = error.line === undefined ? '' : `line ${error.line}: `;
      // PostgreSQL's message may quote the row; keep only its first sentence.
      throw new UserError(`${file}: ${where}${copyProblemWords(error.message.split('\n')[0])}`);
    }
    throw error;
  }
  onProgress?.(totalBytes, totalBytes);
  return lines;
}

/** COPY's words for bytes it cannot store, said as what the person must fix in the file. */
function copyProblemWords(message: string): string {
  if (/invalid byte sequence for encoding "UTF8": 0x00/.test(message)) {
    return 'the line contains a NUL character (byte 0x00), which a registry file cannot hold; nothing was imported';
  }
  if (/invalid byte sequence for encoding "UTF8"/.test(message)) {
    return `${message}: the file must be UTF-8 text (re-save it as UTF-8); nothing was imported`;
  }
  return message;
}

async function countRows({ raw }: Tx): Promise<number> {
  const result = await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM registry_import');
  return result.rows[0].n;
}

/** `nullif(trim(cN), '')` for a column, or NULL when the file does not have it. */
function value(header: Header, column: CanonicalColumn): string {
  const staging = header.canonical[column];
  return staging ? `nullif(trim(${staging}), '')` : 'NULL::text';
}

async function findProblems({ raw }: Tx, header: Header): Promise<void> {
  const v = (c: CanonicalColumn) => value(header, c);
  const hasLocation = Boolean(header.canonical.lat);
  // Checks that need only the row itself: [column, message or NULL]. Rows are filtered on the
  // checks first and expanded into one problem per column only when bad: the expansion per row
  // costs more than the checks (measured: 28 s → 8 s for 1M rows).
  const rowChecks: [string, string][] = [
    // registry_id is unique-indexed: held to the limit of every indexed identifier.
    ['registry_id', `CASE WHEN ${v('registry_id')} IS NULL THEN 'is required'
               WHEN octet_length(${v('registry_id')}) > ${MAX_KEY_BYTES}
               THEN 'is ' || octet_length(${v('registry_id')}) || ' bytes long; at most ${MAX_KEY_BYTES} (an identifier that long is not plausible)' END`],
    ['size', `CASE WHEN ${v('size')} IS NOT NULL AND CASE WHEN ${v('size')} ~ '${WHOLE}' THEN ${v('size')}::int < 1 ELSE true END
               THEN '"' || ${v('size')} || '" is not a whole number of at least 1' END`],
    ['pmt_score', `CASE WHEN ${v('pmt_score')} IS NULL THEN NULL
               WHEN ${v('pmt_score')} !~ '${DECIMAL}' THEN '"' || ${v('pmt_score')} || '" is not a number'
               WHEN length(${v('pmt_score')}) > 1000 OR abs(${v('pmt_score')}::numeric) > ${PMT_SCORE_LIMIT}
                    OR (${v('pmt_score')}::numeric <> 0 AND abs(${v('pmt_score')}::numeric) < ${1 / PMT_SCORE_LIMIT})
               THEN '"' || ${v('pmt_score')} || '" is out of range: a score lies between -1e15 and 1e15 (and is 0 or at least 1e-15 from 0)' END`],
    ['lat', `CASE WHEN ${v('lat')} IS NOT NULL AND CASE WHEN ${v('lat')} ~ '${NUMBER}' THEN abs(${v('lat')}::float8) > 90 ELSE true END
               THEN '"' || ${v('lat')} || '" is not a latitude in decimal degrees (-90..90)' END`],
    ['lon', `CASE WHEN ${v('lon')} IS NOT NULL AND CASE WHEN ${v('lon')} ~ '${NUMBER}' THEN abs(${v('lon')}::float8) > 180 ELSE true END
               THEN '"' || ${v('lon')} || '" is not a longitude in decimal degrees (-180..180)' END`],
    ['lon', `CASE WHEN (${v('lat')} IS NULL) <> (${v('lon')} IS NULL) THEN 'lat and lon must both be given or both be empty' END`],
    ['admin_pcode', `CASE WHEN ${v('admin_pcode')} IS NULL AND (${v('lat')} IS NULL OR ${v('lon')} IS NULL)
               THEN 'is required unless lat and lon are given' END`],
  ];
  await raw.query(`
    INSERT INTO registry_problems (record, col, message)
    SELECT record, p.col, p.message
      FROM (SELECT * FROM registry_import WHERE ${rowChecks.map(([, check]) => `(${check}) IS NOT NULL`).join(' OR ')}) bad,
      LATERAL (VALUES ${rowChecks.map(([col, check]) => `('${col}', ${check})`).join(', ')}) AS p(col, message)
     WHERE p.message IS NOT NULL`);

  if (header.canonical.admin_pcode) {
    await raw.query(`
      INSERT INTO registry_problems (record, col, message)
      SELECT i.record, 'admin_pcode', 'unknown P-code "' || ${v('admin_pcode')} || '"'
        FROM registry_import i
       WHERE ${v('admin_pcode')} IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM admin_areas a WHERE a.pcode = ${v('admin_pcode')})`);
  }

  await raw.query(`
    INSERT INTO registry_problems (record, col, message, other_record)
    SELECT record, 'registry_id', 'the same registry_id is already on line', first_record
      FROM (SELECT record, min(record) OVER (PARTITION BY ${v('registry_id')}) AS first_record
              FROM registry_import WHERE ${v('registry_id')} IS NOT NULL) d
     WHERE record <> first_record`);

  if (header.canonical.programmes) {
    await raw.query(`
      INSERT INTO registry_problems (record, col, message)
      SELECT i.record, 'programmes', 'unknown programme "' || code || '"'
        FROM registry_import i,
        LATERAL (SELECT DISTINCT trim(c) AS code FROM unnest(string_to_array(${v('programmes')}, ';')) c WHERE trim(c) <> '') codes
       WHERE NOT EXISTS (SELECT 1 FROM programmes p WHERE p.code = codes.code)`);
  }

  // Rows without a P-code but with a valid point get the lowest-level area containing it.
  await raw.query(`CREATE TEMP TABLE registry_located (record bigint PRIMARY KEY, pcode text) ON COMMIT DROP`);
  if (hasLocation) {
    await raw.query(`
      INSERT INTO registry_located (record, pcode)
      SELECT i.record,
             (SELECT p.pcode FROM admin_area_parts p
               WHERE p.level = (SELECT max(level) FROM admin_areas)
                 AND ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(${v('lon')}::float8, ${v('lat')}::float8), 4326))
               ORDER BY p.pcode LIMIT 1)
        FROM registry_import i
       WHERE ${v('admin_pcode')} IS NULL
         AND NOT EXISTS (SELECT 1 FROM registry_problems r WHERE r.record = i.record)`);
    await raw.query(`
      INSERT INTO registry_problems (record, col, message)
      SELECT l.record, 'lat', 'the point (' || ${v('lat')} || ', ' || ${v('lon')} || ') is outside every imported admin area'
        FROM registry_located l JOIN registry_import i USING (record)
       WHERE l.pcode IS NULL`);
  }
  await raw.query(`CREATE INDEX ON registry_problems (record)`);
}

interface Problem {
  record: number;
  /** `line N, column C: reason` */
  text: string;
  /** `C: reason`, for the rejects file's problems column */
  short: string;
}

async function describeProblems({ raw }: Tx, header: Header, lines: RecordLines): Promise<Problem[]> {
  const result = await raw.query<{ record: number; col: string; message: string; other_record: number | null }>(
    `SELECT record::int, col, message, other_record::int FROM registry_problems ORDER BY record, col, message`,
  );
  // Name the column as the file spells it (e.g. `Size` for size).
  const nameOf = (col: string) => {
    const staging = header.canonical[col as CanonicalColumn];
    return staging ? header.names[Number(staging.slice(1)) - 1] : col;
  };
  return result.rows.map((p) => {
    const message = p.other_record === null ? p.message : `${p.message} ${lines.lineOf(p.other_record)}`;
    const short = `${nameOf(p.col)}: ${message}`;
    return { record: p.record, short, text: `line ${lines.lineOf(p.record)}, column ${short}` };
  });
}

async function writeRejects(
  { raw }: Tx,
  header: Header,
  lines: RecordLines,
  problems: Problem[],
  rejectsFile: string,
): Promise<void> {
  const columns = header.names.map((_, i) => `c${i + 1}`);
  const byRecord = new Map<number, string[]>();
  for (const p of problems) byRecord.set(p.record, [...(byRecord.get(p.record) ?? []), p.short]);
  const result = await raw.query<Record<string, string | number>>(`
    SELECT i.record::int AS record, ${columns.map((c) => `i.${c}`).join(', ')}
      FROM registry_import i
     WHERE i.record IN (SELECT record FROM registry_problems)
     ORDER BY i.record`);
  // Whole household rows: readable by the operator only, like exports.
  const out = createWriteStream(rejectsFile, { mode: 0o600 });
  const csv = stringify({ header: true, columns: ['line', 'problems', ...header.names.map(spreadsheetSafe)] });
  csv.pipe(out);
  for (const row of result.rows) {
    const record = Number(row.record);
    // The rows were refused, so they may hold anything, formulas included.
    const cells = [byRecord.get(record)?.join('; ') ?? '', ...columns.map((c) => String(row[c] ?? ''))];
    csv.write([lines.lineOf(record), ...cells.map(spreadsheetSafe)]);
  }
  csv.end();
  await finished(out);
}

async function upsertHouseholds({ raw }: Tx, header: Header): Promise<{ inserted: number; updated: number }> {
  const v = (c: CanonicalColumn) => value(header, c);
  const present = (c: CanonicalColumn) => Boolean(header.canonical[c]);
  const location = present('lat')
    ? `CASE WHEN ${v('lat')} IS NOT NULL THEN ST_SetSRID(ST_MakePoint(${v('lon')}::float8, ${v('lat')}::float8), 4326) END`
    : 'NULL::geometry';
  const columns: [string, string, boolean][] = [
    // [households column, expression, update it on re-import]
    ['registry_id', v('registry_id'), false],
    ['admin_pcode', `coalesce(${v('admin_pcode')}, l.pcode)`, true],
    ['location', location, present('lat')],
    ['size', `${v('size')}::int`, present('size')],
    ['pmt_score', `${v('pmt_score')}::float8`, present('pmt_score')],
    ['payment_channel', v('payment_channel'), present('payment_channel')],
    ['payment_account', v('payment_account'), present('payment_account')],
    [
      'attributes',
      header.extra.length
        ? `jsonb_strip_nulls(jsonb_object($1::text[], ARRAY[${header.extra.map(([, s]) => `nullif(trim(${s}), '')`).join(', ')}]))`
        : `'{}'::jsonb`,
      false,
    ],
  ];
  const updatable = columns.filter(([, , update]) => update).map(([c]) => c);
  const updates = updatable.map((c) => `${c} = excluded.${c}`);
  // Attributes merge: a re-import with fewer columns keeps what earlier imports said.
  updates.push('attributes = h.attributes || excluded.attributes', 'updated_at = now()');
  // A row that would not change is left alone: rewriting it costs four index entries (measured:
  // a 1M re-import of an unchanged file 83 s → 25 s).
  const changed = [
    ...updatable.map((c) => `h.${c} IS DISTINCT FROM excluded.${c}`),
    'NOT (h.attributes @> excluded.attributes)',
  ].join(' OR ');
  const result = await raw.query<{ inserted: number; updated: number }>(
    `
    WITH upserted AS (
      INSERT INTO households AS h (${columns.map(([c]) => c).join(', ')})
      SELECT ${columns.map(([, e]) => e).join(', ')}
        FROM registry_import i LEFT JOIN registry_located l USING (record)
       WHERE NOT EXISTS (SELECT 1 FROM registry_problems p WHERE p.record = i.record)
       ORDER BY i.record
      ON CONFLICT (registry_id) DO UPDATE SET ${updates.join(', ')} WHERE ${changed}
      RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated
      FROM upserted`,
    header.extra.length ? [header.extra.map(([name]) => name)] : [],
  );
  return result.rows[0];
}

/**
 * Enrolments follow the file: each listed programme becomes (or stays) active; with a
 * `programmes` column, the household's other active enrolments are ended ('exited').
 */
async function upsertEnrolments({ raw }: Tx, header: Header, programme: string | undefined): Promise<number> {
  if (!header.canonical.programmes && !programme) return 0;
  const programmes = value(header, 'programmes');
  const listed = header.canonical.programmes
    ? `CASE WHEN ${programmes} IS NULL THEN ARRAY[]::text[]
            ELSE ARRAY(SELECT DISTINCT trim(c) FROM unnest(string_to_array(${programmes}, ';')) c WHERE trim(c) <> '') END`
    : `ARRAY[]::text[]`;
  await raw.query(`
    CREATE TEMP TABLE registry_enrolments ON COMMIT DROP AS
    SELECT h.id AS household_id,
           ${listed} || CASE WHEN $1::text IS NULL THEN ARRAY[]::text[] ELSE ARRAY[$1::text] END AS codes
      FROM registry_import i
      JOIN households h ON h.registry_id = ${value(header, 'registry_id')}
     WHERE NOT EXISTS (SELECT 1 FROM registry_problems p WHERE p.record = i.record)`,
    [programme ?? null],
  );
  const enrolled = await raw.query(`
    INSERT INTO enrolments AS e (household_id, programme_code, status, since)
    SELECT DISTINCT r.household_id, code, 'active', current_date
      FROM registry_enrolments r, unnest(r.codes) code
    ON CONFLICT (household_id, programme_code) DO UPDATE SET status = 'active', since = current_date
     WHERE e.status <> 'active'`);
  if (header.canonical.programmes) {
    await raw.query(`
      UPDATE enrolments e SET status = 'exited'
        FROM registry_enrolments r
       WHERE e.household_id = r.household_id AND e.status = 'active' AND NOT (e.programme_code = ANY (r.codes))`);
  }
  return enrolled.rowCount;
}
