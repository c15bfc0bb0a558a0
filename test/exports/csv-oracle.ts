import { stringify } from 'csv-stringify/sync';
import type { Store } from '../../src/db/store.ts';
import { LIST_COLUMNS, cellText, columnsFor } from '../../src/exports/columns.ts';
import { entryPages } from '../../src/exports/entries.ts';
import { openExport } from '../../src/exports/source.ts';
import { spreadsheetSafe } from '../../src/spreadsheet-safe.ts';

/**
 * The CSV and HXL exports as Node formatted them before the set-based COPY (src/exports/table-copy.ts):
 * entries read a page at a time, each cell through cellText and spreadsheetSafe, rows through
 * csv-stringify. Kept as the oracle the COPY's bytes are compared with.
 */
export async function nodeFormattedTable(
  store: Store,
  listId: number,
  options: { hxlTags: boolean; partnerId?: string; pageSize?: number },
): Promise<string> {
  const format = options.hxlTags ? 'hxl' : 'csv';
  const ctx = await openExport(store, listId, format, { partnerId: options.partnerId, pageSize: options.pageSize ?? 1000 }, 'oracle');
  const columns = [...LIST_COLUMNS, ...columnsFor(ctx)];
  const header = [columns.map((c) => c.name)];
  if (options.hxlTags) header.push(columns.map((c) => c.hxl));
  let text = stringify(header);
  for await (const page of entryPages(store, ctx)) {
    text += stringify(page.map((e) => columns.map((c) => spreadsheetSafe(cellText(c, e, ctx.list)))));
  }
  return text;
}
