import { UserError } from '../errors.ts';
import type { Store, Tx } from '../db/store.ts';
import type { CanonicalColumn } from './columns.ts';
import type { RegistryImportOptions, RegistryImportReport } from './import-registry.ts';
import type { RecordSource, RegistryRecord, SourcedRecord } from './record-source.ts';
import {
  assertProgramme, countRows, createProblemsTable, findProblems, moreProblems, problemCounts, PROBLEMS_SHOWN, upsertEnrolments, upsertHouseholds,
  type Staged,
} from './staging.ts';
import { withIndexesDeferredOnFirstLoad } from './first-load.ts';

/** The record fields that are household columns, in staging order (c1, c2, ...). */
const RECORD_FIELDS = [
  'registry_id', 'admin_pcode', 'lat', 'lon', 'size', 'pmt_score', 'payment_channel', 'payment_account',
  'head_first_name', 'head_last_name', 'head_birth_date', 'national_id', 'phone',
] as const satisfies readonly CanonicalColumn[];

/** Records per chunk of CSV text handed to COPY: a page's worth, never the whole pull. */
const RECORDS_PER_CHUNK = 1000;

/**
 * Imports the households a live registry sends (a {@link RecordSource}) through the same staging
 * table, SQL checks and upsert as the CSV import. Records are written as CSV text a chunk at a time
 * and streamed into the staging table with COPY while the source is still reading its next page,
 * so memory stays flat for a million records. One transaction: a bad record (by default) or a
 * source that fails mid-way (a 5xx) leaves the registry as it was.
 *
 * A field a source never gives (undefined in every record) keeps what the household had, as a CSV
 * without that column does; a field it gives as null is cleared. Problems read
 * `${source.label}: ${where}, field F: reason`.
 *
 * ```ts
 * const report = await importRecords(store, dciSource, { programme: 'CT' })
 * ```
 */
export async function importRecords(
  store: Store,
  source: RecordSource,
  options: RegistryImportOptions & {
    programme?: string;
    /** More work for the same transaction once the households are in (e.g. exits, a record of what was applied). */
    within?: (tx: Tx) => Promise<void>;
  } = {},
): Promise<RegistryImportReport> {
  return store.transaction(async (tx) => {
    if (options.programme) await assertProgramme(tx, options.programme);
    if (store.backend === 'embedded') source.readWith?.(tx.raw);
    const present = await copyRecords(tx, source, options.onProgress);
    const staged: Staged = {
      names: [...RECORD_FIELDS],
      canonical: Object.fromEntries(RECORD_FIELDS.map((f, i) => [f, `c${i + 1}`]).filter(([f]) => present.has(f as CanonicalColumn))),
      extra: [],
      attributesColumn: 'attrs',
      enrolmentColumn: 'enrolment',
    };
    const rows = await countRows(tx);
    if (rows === 0) {
      await options.within?.(tx);
      return { rows: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, enrolled: 0, problems: [] };
    }
    await findProblems(tx, staged);
    const { problems, rejected } = await describeProblems(tx, source.label);
    if (problems.length > 0 && !options.skipInvalid) {
      throw new UserError(
        `${source.label}: ${problems.length} problem(s) in ${rejected} record(s); nothing was imported (use --skip-invalid to import the good records)`,
        problems,
      );
    }
    const { result: { inserted, updated, enrolled } } = await withIndexesDeferredOnFirstLoad(tx, async () => ({
      ...(await upsertHouseholds(tx, staged)),
      enrolled: await upsertEnrolments(tx, staged, options.programme),
    }));
    await options.within?.(tx);
    return { rows, inserted, updated, unchanged: rows - rejected - inserted - updated, rejected, enrolled, problems };
  });
}

/** Streams the source into `registry_import`; returns the fields some record gave. */
async function copyRecords(tx: Tx, source: RecordSource, onProgress: RegistryImportOptions['onProgress']): Promise<Set<CanonicalColumn>> {
  const columns = RECORD_FIELDS.map((_, i) => `c${i + 1}`);
  await tx.raw.query(`
    CREATE TEMP TABLE registry_import (
      record bigint GENERATED ALWAYS AS IDENTITY,
      ${columns.map((c) => `${c} text`).join(', ')},
      attrs jsonb, enrolment text, src_where text
    ) ON COMMIT DROP`);
  await createProblemsTable(tx);
  const present = new Set<CanonicalColumn>();
  let sourceError: unknown;
  let read = 0;
  async function* chunks(): AsyncGenerator<string> {
    let text = '';
    let inChunk = 0;
    try {
      for await (const sourced of source.records) {
        text += csvLine(sourced, present, source.label);
        read++;
        if (++inChunk === RECORDS_PER_CHUNK) {
          yield text;
          text = '';
          inChunk = 0;
          onProgress?.(read, Math.max(read, source.expected?.() ?? 0));
        }
      }
    } catch (error) {
      sourceError = error;
      throw error;
    }
    if (text) yield text;
    onProgress?.(read, read);
  }
  try {
    await tx.raw.copyFrom(
      `COPY registry_import (${columns.join(', ')}, attrs, enrolment, src_where) FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')`,
      chunks(),
    );
  } catch (error) {
    // The registry failing (a 5xx, a bad page) is the error to report, not COPY's view of it.
    throw sourceError ?? error;
  }
  return present;
}

/** One CSV line: a value the record does not give is an unquoted empty field, which COPY reads as NULL. */
function csvLine({ record, where }: SourcedRecord, present: Set<CanonicalColumn>, label: string): string {
  const cells: string[] = [];
  for (const field of RECORD_FIELDS) {
    const value = record[field as keyof RegistryRecord];
    if (value !== undefined) present.add(field);
    cells.push(value === undefined || value === null ? '' : quote(String(value)));
  }
  cells.push(quote(JSON.stringify(record.attributes ?? {})), record.enrolment ? quote(record.enrolment) : '', quote(where));
  const line = cells.join(',');
  // PostgreSQL text cannot hold NUL: name the record instead of failing the COPY somewhere.
  if (line.includes('\0') || line.includes('\\u0000')) throw new UserError(`${label}: ${where}: a value contains a NUL character`);
  return `${line}\n`;
}

const quote = (text: string) => `"${text.replace(/"/g, '""')}"`;

async function describeProblems(tx: Tx, label: string): Promise<{ problems: string[]; rejected: number }> {
  const counts = await problemCounts(tx);
  // The first problems by name (a pull of ten million bad records must not become ten million strings).
  const result = await tx.raw.query<{ record: number; col: string; message: string; place: string; other_place: string | null }>(`
    SELECT p.record::int, p.col, p.message, i.src_where AS place, o.src_where AS other_place
      FROM (SELECT * FROM registry_problems ORDER BY record, col, message LIMIT $1) p
      JOIN registry_import i ON i.record = p.record
      LEFT JOIN registry_import o ON o.record = p.other_record
     ORDER BY p.record, p.col, p.message`, [PROBLEMS_SHOWN]);
  const problems = result.rows.map((p) =>
    `${label}: ${p.place}, field ${p.col}: ${p.message}${p.other_place === null ? '' : ` at ${p.other_place}`}`);
  problems.push(...moreProblems(counts, problems.length, '').map((more) => `${label}: ${more.trim()}`));
  return { problems, rejected: counts.rejected };
}
