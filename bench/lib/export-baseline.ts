/**
 * The baseline of a CSV export: PostgreSQL's own COPY of the same rows and columns, its SELECT
 * derived from the export's header so that both always write the same thing (bench/lists.ts and
 * bench/national.ts).
 *
 * Not a bench itself: it exports no `main`.
 */
import { createReadStream } from 'node:fs';
import type { Store } from '../../src/db/store.ts';
import { ADMIN_LEVELS_JOIN_SQL, HEAD_BIRTH_DATE_SQL, HEAD_NAME_SQL, NATIONAL_ID_SQL, PHONE_SQL } from '../../src/exports/entries.ts';
import { psqlCopy, sqlQuoted } from './support.ts';

/** The SQL of each CSV column of the programme's own export (no partner), by its header name. */
const EXPORT_COLUMNS: Record<string, string> = {
  list_id: 'e.list_id',
  content_sha256: 'l.content_sha256',
  household_id: 'e.household_id',
  registry_id: 'e.registry_id',
  name: HEAD_NAME_SQL,
  birth_date: HEAD_BIRTH_DATE_SQL,
  national_id: NATIONAL_ID_SQL,
  phone: PHONE_SQL,
  admin_pcode: 'e.admin_pcode',
  admin1_pcode: 'adm.adm1',
  admin2_pcode: 'adm.adm2',
  admin3_pcode: 'adm.adm3',
  pcode: 'e.pcode',
  tier: 'e.tier',
  rank: 'e.rank',
  size: 'e.size',
  amount: 'e.amount',
  currency: 'e.currency',
  cycle: 'l.cycle',
  first_payment: `to_char(e.first_payment, 'YYYY-MM-DD')`,
  payments: 'e.payments',
  payment_channel: 'h.payment_channel',
  payment_account: 'h.payment_account',
  reason: 'e.reason',
};

/** One SELECT giving the export's columns for the list's entries, in the export's row order, on one line (for psql). */
export function exportBaselineSelect(header: string[], listId: number): string {
  const unknown = header.filter((c) => !(c in EXPORT_COLUMNS));
  if (unknown.length > 0) throw new Error(`the CSV export has column(s) the COPY baseline does not know: ${unknown.join(', ')}`);
  return `SELECT ${header.map((c) => `${EXPORT_COLUMNS[c]} AS ${c}`).join(', ')}
    FROM payment_list_entries e
    JOIN payment_lists l ON l.id = e.list_id
    JOIN households h ON h.id = e.household_id
    ${ADMIN_LEVELS_JOIN_SQL}
   WHERE e.list_id = ${Number(listId)}
   ORDER BY e.household_id`.replace(/\s+/g, ' ');
}

/**
 * The COPY of `select` as CSV with a header: through psql into `file` on the server (`url` given),
 * or into PGlite's virtual /dev/blob (held whole in memory, then dropped) on the embedded back end.
 * Returns the rows copied.
 */
export async function copyBaseline(store: Store, select: string, target: { url: URL; database: string; file: string } | null): Promise<number> {
  if (target) return psqlCopy(target.url, target.database, `\\copy (${select}) TO ${sqlQuoted(target.file)} WITH (FORMAT csv, HEADER true)`);
  const result = await store.transaction(({ raw }) => raw.query(`COPY (${select}) TO '/dev/blob' WITH (FORMAT csv, HEADER true)`));
  return result.rowCount;
}

/** The first line of a text file (a CSV header), reading no more than 64 KiB. */
export async function firstLine(file: string): Promise<string> {
  const stream = createReadStream(file, { encoding: 'utf8', end: 64 * 1024 });
  let text = '';
  for await (const chunk of stream) {
    text += chunk;
    if (text.includes('\n')) break;
  }
  stream.destroy();
  return text.split('\n')[0].replace(/\r$/, '');
}
