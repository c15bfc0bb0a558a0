import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { readCsvHeader } from './csv-header.ts';
import { UserError } from '../errors.ts';
import { spreadsheetSafe } from '../spreadsheet-safe.ts';
import { CopyError } from '../db/raw.ts';
import type { Store, Tx } from '../db/store.ts';
import { isCanonical, type CanonicalColumn } from './columns.ts';
import { RecordLines } from './record-lines.ts';
import {
  assertProgramme, countRows, createProblemsTable, findProblems, moreProblems, problemCounts, stagedProblems, upsertEnrolments, upsertHouseholds,
  type Staged,
} from './staging.ts';
import { withIndexesDeferredOnFirstLoad } from './first-load.ts';

export { importRecords } from './import-records.ts';

export interface RegistryImportOptions {
  /** Import the good rows and write the bad ones to `rejectsFile` instead of importing nothing. */
  skipInvalid?: boolean;
  /** Where rejected rows go with `skipInvalid`; default `FILE.rejects.csv`. */
  rejectsFile?: string;
  /** Also enrol every imported household in this programme (active). */
  programme?: string;
  /** Called as the source is read, for a progress bar: bytes of a file, records of a registry pull (`importRecords`). */
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

type Header = Staged;

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
    const counts = await problemCounts(tx);
    const shown = (await describeProblems(tx, header, lines)).map((p) => p.text);
    const rejected = counts.rejected;
    if (counts.problems > 0 && !options.skipInvalid) {
      throw new UserError(
        `${file}: ${counts.problems} problem(s) in ${rejected} row(s); nothing was imported (use --skip-invalid to import the good rows)`,
        [...shown, ...moreProblems(counts, shown.length, '(with --skip-invalid the rejects file lists every one)')].map((p) => `${file}: ${p}`),
      );
    }
    const problems = [...shown, ...moreProblems(counts, shown.length, 'in the rejects file')];
    const { result: { inserted, updated, enrolled } } = await withIndexesDeferredOnFirstLoad(tx, async () => ({
      ...(await upsertHouseholds(tx, header)),
      enrolled: await upsertEnrolments(tx, header, options.programme),
    }));
    // Written last, so that a failure above leaves no rejects file for an import that did not happen.
    const rejectsFile = rejected > 0 ? (options.rejectsFile ?? `${file}.rejects.csv`) : undefined;
    if (rejectsFile) await writeRejects(tx, header, lines, rejectsFile);
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

async function copyToStaging(
  tx: Tx,
  file: string,
  header: Header,
  totalBytes: number,
  onProgress: RegistryImportOptions['onProgress'],
): Promise<RecordLines> {
  const { raw } = tx;
  const columns = header.names.map((_, i) => `c${i + 1}`);
  await raw.query(`
    CREATE TEMP TABLE registry_import (
      record bigint GENERATED ALWAYS AS IDENTITY,
      ${columns.map((c) => `${c} text`).join(', ')}
    ) ON COMMIT DROP`);
  await createProblemsTable(tx);
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

interface Problem {
  record: number;
  /** `line N, column C: reason` */
  text: string;
}

/** Name the column as the file spells it (e.g. `Size` for size). */
function columnName(header: Header, col: string): string {
  const staging = header.canonical[col as CanonicalColumn];
  return staging ? header.names[Number(staging.slice(1)) - 1] : col;
}

/** `C: reason` (and the line a duplicate repeats), for messages and the rejects file's problems column. */
function shortProblem(header: Header, lines: RecordLines, p: { col: string; message: string; other_record: number | null }): string {
  const message = p.other_record === null ? p.message : `${p.message} on line ${lines.lineOf(p.other_record)}`;
  return `${columnName(header, p.col)}: ${message}`;
}

/** The first problems (PROBLEMS_SHOWN), as lines of the file. */
async function describeProblems(tx: Tx, header: Header, lines: RecordLines): Promise<Problem[]> {
  return (await stagedProblems(tx)).map((p) => ({ record: p.record, text: `line ${lines.lineOf(p.record)}, column ${shortProblem(header, lines, p)}` }));
}

/** Rejected rows read and written a page at a time: memory stays flat however many rows were bad. */
const REJECTS_PAGE = 10_000;

async function writeRejects({ raw }: Tx, header: Header, lines: RecordLines, rejectsFile: string): Promise<void> {
  const columns = header.names.map((_, i) => `c${i + 1}`);
  // Whole household rows: readable by the operator only, like exports.
  const out = createWriteStream(rejectsFile, { mode: 0o600 });
  const csv = stringify({ header: true, columns: ['line', 'problems', ...header.names.map(spreadsheetSafe)] });
  csv.pipe(out);
  // Each page finds its rows by record: without an index every page would read the whole staging table.
  await raw.query(`CREATE INDEX ON registry_import (record)`);
  let after = 0;
  for (;;) {
    const { rows } = await raw.query<Record<string, unknown> & { record: number; problems: { col: string; message: string; other_record: number | null }[] }>(
      `SELECT r.record::int AS record, ${columns.map((c) => `i.${c}`).join(', ')}, r.problems
         FROM (SELECT p.record, json_agg(json_build_object('col', p.col, 'message', p.message, 'other_record', p.other_record) ORDER BY p.col, p.message) AS problems
                 FROM registry_problems p WHERE p.record > $1 GROUP BY p.record ORDER BY p.record LIMIT $2) r
         JOIN registry_import i ON i.record = r.record
        ORDER BY r.record`,
      [after, REJECTS_PAGE],
    );
    for (const row of rows) {
      // The rows were refused, so they may hold anything, formulas included.
      const cells = [row.problems.map((p) => shortProblem(header, lines, p)).join('; '), ...columns.map((c) => String(row[c] ?? ''))];
      if (!csv.write([lines.lineOf(row.record), ...cells.map(spreadsheetSafe)])) await once(csv, 'drain');
    }
    if (rows.length < REJECTS_PAGE) break;
    after = rows[rows.length - 1].record;
  }
  csv.end();
  await finished(out);
}
