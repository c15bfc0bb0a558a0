import type { ExportFormat } from './source.ts';

/** What follows `list-ID[-PARTNER]` in each format's file name: one name per format, so downloads never overwrite each other. */
const SUFFIX: Record<ExportFormat, string> = {
  csv: '.csv',
  hxl: '.hxl.csv',
  json: '.json',
  geojson: '.geojson',
  openimis: '-openimis.csv',
  'openimis-schema': '-openimis.schema.json',
  g2p: '-g2p.json',
};

const CONTENT_TYPE: Record<ExportFormat, string> = {
  csv: 'text/csv',
  hxl: 'text/csv',
  json: 'application/json',
  geojson: 'application/geo+json',
  openimis: 'text/csv',
  'openimis-schema': 'application/schema+json',
  g2p: 'application/json',
};

/**
 * The file a format is downloaded (API Content-Disposition) or written (CLI default --out) as; a
 * partner's download has the partner in its name. Partner ids are lower-case letters, digits and -.
 *
 * ```ts
 * exportFileName(12, 'hxl') // 'list-12.hxl.csv'
 * exportFileName(12, 'openimis', 'wfp') // 'list-12-wfp-openimis.csv'
 * ```
 */
export function exportFileName(listId: number, format: ExportFormat, partnerId?: string | null): string {
  return `list-${listId}${partnerId ? `-${partnerId}` : ''}${SUFFIX[format]}`;
}

export const exportContentType = (format: ExportFormat): string => `${CONTENT_TYPE[format]}; charset=utf-8`;

/** Where the openIMIS schema goes beside an openimis file: `f.csv` → `f.schema.json`. */
export const schemaFileBeside = (file: string): string => `${file.replace(/\.csv$/i, '')}.schema.json`;
