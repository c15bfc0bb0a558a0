import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { Store } from '../db/store.ts';
import { safeCell } from '../spreadsheet-safe.ts';
import { entryPages, exportIdOf, write, type EntryRow, type ExportContext, type ExportField } from './source.ts';

/**
 * The openIMIS social protection beneficiary-import CSV for a benefit plan (POST
 * /api/social_protection/import_beneficiaries/), one row per household: its recipient as the
 * group head, aggregated on group_code.
 *
 * Base columns, always present as the upload template requires (empty when not known or not
 * shared): first_name, last_name, dob, location_name, location_code, id, group_code,
 * recipient_info (1 = primary), individual_role (HEAD). Then the benefit plan's schema properties
 * the reader may see: household_size, phone, amount, currency, payment_channel, payment_account,
 * first_payment, payments. Then our provenance, always: scaleup_batch_id (asp-list-ID),
 * shock_event_id (the shock of the household's area) and content_sha256. location_code is the household's
 * P-code: the crosswalk to openIMIS LocationCode is the deployment's. dob exists only in the
 * programme's own export (from the registry attribute dob), never in a partner's.
 */

interface OpenImisColumn {
  name: string;
  field?: ExportField;
  value: (e: EntryRow, ctx: ExportContext) => string | number | null;
}

const BASE: OpenImisColumn[] = [
  { name: 'first_name', value: (e) => splitName(e.name)[0] },
  { name: 'last_name', value: (e) => splitName(e.name)[1] },
  { name: 'dob', value: (e) => e.dob },
  { name: 'location_name', value: (e) => e.adminName },
  { name: 'location_code', value: (e) => e.adminPcode },
  { name: 'id', value: (e, ctx) => exportIdOf(ctx, e) },
  { name: 'group_code', value: (e, ctx) => exportIdOf(ctx, e) },
  { name: 'recipient_info', value: () => 1 },
  { name: 'individual_role', value: () => 'HEAD' },
];

const PROPERTIES: OpenImisColumn[] = [
  { name: 'household_size', field: 'size', value: (e) => e.size },
  { name: 'phone', field: 'phone', value: (e) => e.phone },
  { name: 'amount', field: 'amount', value: (e) => (e.amount === null ? null : e.amount.toFixed(2)) },
  { name: 'currency', field: 'currency', value: (e) => e.currency },
  { name: 'payment_channel', field: 'payment_channel', value: (e) => e.paymentChannel },
  { name: 'payment_account', field: 'payment_account', value: (e) => e.paymentAccount },
  { name: 'first_payment', field: 'payment_window', value: (e) => e.firstPayment },
  { name: 'payments', field: 'payment_window', value: (e) => e.payments },
];

const PROVENANCE: OpenImisColumn[] = [
  { name: 'scaleup_batch_id', value: (_e, ctx) => `asp-list-${ctx.list.id}` },
  { name: 'shock_event_id', value: (e) => e.shockKey },
  { name: 'content_sha256', value: (_e, ctx) => ctx.list.contentSha256 },
];

export async function writeOpenImis(store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  const columns = [...BASE, ...PROPERTIES.filter((c) => c.field && ctx.fields.has(c.field)), ...PROVENANCE];
  await write(out, stringify([columns.map((c) => c.name)]));
  let rows = 0;
  for await (const page of entryPages(store, ctx)) {
    await write(out, stringify(page.map((e) => columns.map((c) => safeCell(c.value(e, ctx))))));
    rows += page.length;
  }
  return rows;
}

/** "Amina Hassan Omar" → first name Amina, last name Hassan Omar; the registry keeps one name field. */
function splitName(name: string | null): [string, string] {
  const parts = (name ?? '').trim().split(/\s+/).filter(Boolean);
  return [parts[0] ?? '', parts.slice(1).join(' ')];
}
