import { open } from 'node:fs/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import { UserError } from '../errors.ts';

/**
 * The header of a CSV file about to be streamed into a staging table (a registry file, a partner's
 * payment report): its column names, each with the staging column `cN` it lands in, and the
 * problems a person can fix — a nameless or repeated column — with the line and column.
 * A file that cannot be read, is empty, or has no readable header line is refused at once.
 */
/** Columns a staging table can hold beside its own record number (PostgreSQL allows 1,600 in all). */
export const MAX_COLUMNS = 1599;

export async function readCsvHeader(file: string): Promise<{ columns: { name: string; key: string; staging: string }[]; problems: string[] }> {
  let firstBytes: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      firstBytes = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new UserError(`${file}: cannot read: ${(error as Error).message}`);
  }
  if (firstBytes.length === 0) throw new UserError(`${file}: the file is empty`);
  const end = firstBytes.indexOf(0x0a);
  if (end < 0 && firstBytes.length === 64 * 1024) throw new UserError(`${file}: line 1: no end of the header line in the first 64 KiB`);
  let names: string[];
  try {
    const headerLine = firstBytes.subarray(0, end < 0 ? firstBytes.length : end).toString('utf8');
    names = (parseCsv(headerLine, { bom: true }) as string[][])[0].map((n) => n.trim());
  } catch (error) {
    throw new UserError(`${file}: line 1: the header is not valid CSV: ${(error as Error).message}`);
  }
  const problems: string[] = [];
  if (names.length > MAX_COLUMNS) {
    problems.push(`line 1: the header has ${names.length} columns; at most ${MAX_COLUMNS} can be read (the staging table adds one to PostgreSQL's limit of 1,600)`);
  }
  const columns: { name: string; key: string; staging: string }[] = [];
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (!name) return problems.push(`line 1, column ${i + 1}: the column has no name`);
    const key = name.toLowerCase();
    if (seen.has(key)) return problems.push(`line 1, column ${name}: the column appears twice`);
    seen.add(key);
    columns.push({ name, key, staging: `c${i + 1}` });
  });
  return { columns, problems };
}
