import type { Writable } from 'node:stream';
import type { Store } from '../db/store.ts';
import { writeTable } from './csv.ts';
import type { ExportContext } from './source.ts';

/**
 * HXL: the CSV with a second row of HXL hashtags (#adm1+code, #beneficiary+code, #value,
 * #currency, #date+start…), so that humanitarian tools read the columns by meaning. Individual
 * lists are for exchange under a data-sharing agreement, never for publication on HDX.
 */
export function writeHxl(store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  return writeTable(store, ctx, out, { hxlTags: true });
}
