import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { UserError } from '../errors.ts';
import type { Store } from '../db/store.ts';

/** The scheme of openIMIS location codes: pulls map them to P-codes, the openIMIS export back. */
export const OPENIMIS_SCHEME = 'openimis';

export interface AreaCodesReport {
  rows: number;
  /** Codes whose P-code is not among the imported admin areas (kept: areas may come later). */
  unknownPcodes: string[];
}

/**
 * Imports the table that maps other schemes' area codes to P-codes: CAP geocodes (`EMMA_ID`,
 * `UGC`, `CAP-CP`…), IPC analysis areas (`ipc`), WFP ids. A CSV with the header
 * `scheme,code,pcode`; re-importing a (scheme, code) replaces its P-code. All rows or none.
 *
 * ```csv
 * scheme,code,pcode
 * EMMA_ID,PL805,PL22
 * ipc,25133842,ET0101
 * ```
 */
export async function importAreaCodes(store: Store, file: string): Promise<AreaCodesReport> {
  let records: { record: Record<string, string>; line: number }[];
  try {
    const parsed = parse(await readFile(file), { bom: true, columns: true, skip_empty_lines: true, trim: true, info: true }) as {
      record: Record<string, string>;
      info: { lines: number };
    }[];
    records = parsed.map((p) => ({ record: p.record, line: p.info.lines }));
  } catch (error) {
    throw new UserError(`${file}: ${(error as Error).message}`);
  }
  const problems: string[] = [];
  for (const { record, line } of records) {
    for (const column of ['scheme', 'code', 'pcode']) {
      if (!record[column]) problems.push(`${file}: line ${line}, column ${column}: is required`);
    }
  }
  if (records.length > 0 && !('scheme' in records[0].record && 'code' in records[0].record && 'pcode' in records[0].record)) {
    throw new UserError(`${file}: the header must be scheme,code,pcode`);
  }
  if (problems.length > 0) throw new UserError(`${file}: ${problems.length} problem(s); nothing was imported`, problems);
  return store.transaction(async ({ raw }) => {
    await raw.query(
      `INSERT INTO area_codes (scheme, code, pcode)
       SELECT DISTINCT ON (scheme, code) scheme, code, pcode
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(scheme, code, pcode, n)
        ORDER BY scheme, code, n DESC -- a code listed twice: the later line wins
       ON CONFLICT (scheme, code) DO UPDATE SET pcode = excluded.pcode`,
      [records.map((r) => r.record.scheme), records.map((r) => r.record.code), records.map((r) => r.record.pcode)],
    );
    const unknown = await raw.query<{ pcode: string }>(
      `SELECT DISTINCT t.pcode FROM unnest($1::text[]) AS t(pcode)
        WHERE NOT EXISTS (SELECT 1 FROM admin_areas a WHERE a.pcode = t.pcode) ORDER BY 1`,
      [records.map((r) => r.record.pcode)],
    );
    return { rows: records.length, unknownPcodes: unknown.rows.map((r) => r.pcode) };
  });
}
