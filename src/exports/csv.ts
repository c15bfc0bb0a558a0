import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { Store } from '../db/store.ts';
import { LIST_COLUMNS, columnsFor } from './columns.ts';
import { write, type ExportContext } from './source.ts';
import { copyTableRows } from './table-copy.ts';

/**
 * CSV: one row per entry. The first two columns, list_id and content_sha256, say which list (and
 * which approved content) the file is; the others are the fields the reader may see.
 */
export function writeCsv(store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  return writeTable(store, ctx, out, { hxlTags: false });
}

/**
 * The header (and HXL hashtag row), then the rows as PostgreSQL's COPY writes them (table-copy.ts),
 * every cell made safe for spreadsheets (README "Exports"); returns the rows written.
 */
export async function writeTable(store: Store, ctx: ExportContext, out: Writable, options: { hxlTags: boolean }): Promise<number> {
  const columns = [...LIST_COLUMNS, ...columnsFor(ctx)];
  const header = [columns.map((c) => c.name)];
  if (options.hxlTags) header.push(columns.map((c) => c.hxl));
  await write(out, stringify(header));
  return copyTableRows(store, ctx, columns, out);
}
