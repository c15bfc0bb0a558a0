import type { Writable } from 'node:stream';
import type { Store } from '../db/store.ts';
import { log } from '../log.ts';
import { writeCsv } from './csv.ts';
import { writeG2p } from './g2p.ts';
import { writeGeojson } from './geojson.ts';
import { writeHxl } from './hxl.ts';
import { writeJson } from './json.ts';
import { checkOpenImis, writeOpenImis, writeOpenImisSchema } from './openimis.ts';
import { openExport, type ExportContext, type ExportFormat } from './source.ts';
import { COPY_SLICE_ENTRIES } from './table-copy.ts';

export { EXPORT_FORMATS, type ExportFormat } from './source.ts';
export { g2pReferenceId } from './g2p.ts';
export { exportContentType, exportFileName, schemaFileBeside } from './file-names.ts';

export interface ExportOptions {
  /** Download for this partner: the release's pseudonymous ids and only its whitelisted fields. */
  partnerId?: string;
  /**
   * Entries read per query (default 1000); memory holds one page. CSV and HXL on the server are
   * one streamed COPY instead; on the embedded back end they copy slices of this many entries
   * (default 10,000, table-copy.ts).
   */
  pageSize?: number;
  onProgress?: (written: number, total: number) => void;
  /** Called once the export is allowed and audited, before the first byte (e.g. to set download headers). */
  onStart?: () => void;
}

export interface ExportSummary {
  listId: number;
  format: ExportFormat;
  partnerId: string | null;
  /** Entries written (areas for geojson, schema properties for openimis-schema). */
  rows: number;
  contentSha256: string;
}

const WRITERS: Record<ExportFormat, (store: Store, ctx: ExportContext, out: Writable) => Promise<number>> = {
  csv: writeCsv,
  hxl: writeHxl,
  json: writeJson,
  geojson: writeGeojson,
  openimis: writeOpenImis,
  'openimis-schema': writeOpenImisSchema,
  g2p: writeG2p,
};

/**
 * Writes an approved, released or closed list to `out` in one format, streaming: the list is read
 * a page at a time (CSV and HXL: one COPY, table-copy.ts) and `out`'s backpressure is respected. Audited before the first byte as
 * `list.exported`, or `list.downloaded` with a partner. `out` is left open for the caller to end.
 *
 * ```ts
 * await exportList(store, 12, 'csv', createWriteStream('list-12.csv'), { partnerId: 'mpesa' }, 'alice')
 * ```
 */
export async function exportList(
  store: Store,
  listId: number,
  format: ExportFormat,
  out: Writable,
  options: ExportOptions,
  actor: string,
): Promise<ExportSummary> {
  const pageSize = options.pageSize ?? (format === 'csv' || format === 'hxl' ? COPY_SLICE_ENTRIES : 1000);
  const ctx = await openExport(store, listId, format, { partnerId: options.partnerId, pageSize, onProgress: options.onProgress, check: checkOpenImis }, actor);
  options.onStart?.();
  const rows = await WRITERS[format](store, ctx, out);
  log.info({ list: listId, format, partner: options.partnerId ?? null, rows }, 'list exported');
  return { listId, format, partnerId: options.partnerId ?? null, rows, contentSha256: ctx.list.contentSha256 };
}
