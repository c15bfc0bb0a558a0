import type { EntryRow } from './entries.ts';
import type { ExportContext, ExportField, ListHeader } from './source.ts';

/**
 * The columns of the tabular formats (csv, hxl, json) and their HXL hashtags.
 *
 * HXL: core hashtags and attributes only, as the HXL 1.1 hashtag dictionary lists them
 * (hxlstandard.org/standard/1-1final/dictionary, generated from the HXL core schema by
 * HXLStandard/gen-hxl-dict, docs/hxl-hashtags-and-attributes.html). A column that no core hashtag
 * describes is left untagged (an empty cell in the hashtag row), which the HXL tagging conventions
 * allow and HXL tools read as "not for exchange": the engine's own row id, the affected area, the
 * targeting rank, the birth date, the national id and the payment account. test/exports/hxl-core.test.ts
 * holds the dictionary's list and checks every export against it.
 */

/** One column of the tabular formats, the field that allows it and its HXL hashtag ('' = untagged). */
export interface Column {
  name: string;
  /** The field that allows the column; none for the list's own identity. */
  field?: ExportField;
  hxl: string;
  value: (e: EntryRow, list: ListHeader) => string | number | null;
  money?: boolean;
  /**
   * The same cell as SQL text (null for an empty cell) over the entries query `x` (entries.ts),
   * for the set-based export (table-copy.ts), if not `x.<name>`; `value` and `sql` must agree
   * (test/exports/csv-copy.test.ts).
   */
  sql?: string | ((list: ListHeader) => string);
  /** Always a plain number's text, which spreadsheets never read as a formula: no escaping needed. */
  number?: boolean;
}

/** In this order; each appears only when its field may be seen. */
export const ENTRY_COLUMNS: Column[] = [
  { name: 'household_id', field: 'household_id', hxl: '', value: (e) => e.householdId, sql: 'x.household_id::text', number: true },
  // Never both in one export: a pseudonymised release has no registry ids, the programme's own export no pseudonyms.
  { name: 'pseudonymous_id', field: 'pseudonymous_id', hxl: '#beneficiary+code', value: (e) => e.pseudonymousId },
  { name: 'registry_id', field: 'registry_id', hxl: '#beneficiary+code', value: (e) => e.registryId },
  { name: 'name', field: 'name', hxl: '#beneficiary+name', value: (e) => e.name },
  { name: 'birth_date', field: 'birth_date', hxl: '', value: (e) => e.birthDate },
  { name: 'national_id', field: 'national_id', hxl: '', value: (e) => e.nationalId },
  { name: 'phone', field: 'phone', hxl: '#contact+phone', value: (e) => e.phone },
  { name: 'admin_pcode', field: 'admin_pcode', hxl: '#loc+code', value: (e) => e.adminPcode },
  { name: 'admin1_pcode', field: 'admin1_pcode', hxl: '#adm1+code', value: (e) => e.admin1Pcode },
  { name: 'admin2_pcode', field: 'admin2_pcode', hxl: '#adm2+code', value: (e) => e.admin2Pcode },
  { name: 'admin3_pcode', field: 'admin3_pcode', hxl: '#adm3+code', value: (e) => e.admin3Pcode },
  { name: 'pcode', field: 'pcode', hxl: '', value: (e) => e.pcode },
  { name: 'tier', field: 'tier', hxl: '#severity', value: (e) => e.tier },
  { name: 'rank', field: 'rank', hxl: '', value: (e) => e.rank, sql: 'x.rank::text', number: true },
  { name: 'size', field: 'size', hxl: '#targeted+ind', value: (e) => e.size, sql: 'x.size::text', number: true },
  // numeric(14, 2): its text has the two decimals that toFixed(2) writes, exactly (14 digits fit a double).
  { name: 'amount', field: 'amount', hxl: '#value', value: (e) => e.amount, money: true, sql: 'x.amount::text', number: true },
  // char(3) with its padding, as pg reads it: a cast to text would drop trailing spaces.
  { name: 'currency', field: 'currency', hxl: '#currency+code', value: (e) => e.currency, sql: 'concat(x.currency)' },
  { name: 'cycle', field: 'payment_window', hxl: '#date', value: (_e, list) => list.cycle, sql: (list) => sqlText(list.cycle) },
  { name: 'first_payment', field: 'payment_window', hxl: '#date+start', value: (e) => e.firstPayment },
  // The payments planned: an output count of the activity.
  { name: 'payments', field: 'payment_window', hxl: '#output+num', value: (e) => e.payments, sql: 'x.payments::text', number: true },
  // "The means by which an aid activity is accomplished" (mobile money, bank…).
  { name: 'payment_channel', field: 'payment_channel', hxl: '#modality', value: (e) => e.paymentChannel },
  { name: 'payment_account', field: 'payment_account', hxl: '', value: (e) => e.paymentAccount },
  { name: 'reason', field: 'reason', hxl: '#description', value: (e) => e.reason },
];

/** The list's identity on every row of the tabular formats: not personal, and proof of which list it is. */
export const LIST_COLUMNS: Column[] = [
  // The scale-up list is the activity; its approved content's hash is the row's metadata.
  { name: 'list_id', hxl: '#activity+code', value: (_e, list) => list.id, sql: (list) => sqlText(String(list.id)), number: true },
  { name: 'content_sha256', hxl: '#meta+code', value: (_e, list) => list.contentSha256, sql: (list) => sqlText(list.contentSha256) },
];

export const columnsFor = (ctx: ExportContext): Column[] => ENTRY_COLUMNS.filter((c) => c.field !== undefined && ctx.fields.has(c.field));

/** A string as an SQL literal (standard_conforming_strings is on by default since PostgreSQL 9.1). */
export const sqlText = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** A column's value as CSV text: amounts with two decimals, nothing for null. */
export function cellText(column: Column, e: EntryRow, list: ListHeader): string {
  const value = column.value(e, list);
  if (value === null || value === undefined) return '';
  return column.money ? Number(value).toFixed(2) : String(value);
}
