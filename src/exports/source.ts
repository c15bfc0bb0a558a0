import type { Writable } from 'node:stream';
import { audit } from '../audit/audit.ts';
import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { NotFoundError, UserError } from '../errors.ts';
import { getPartner, type ShareableField } from '../lists/partners.ts';
import { findRelease, type Release } from '../lists/release.ts';
import { SHAREABLE_FIELDS } from '../rules/schema.ts';

/**
 * What every export format shares: the checks and the audit entry before a byte is written, the
 * fields one may see, and the list's entries read page by page (keyset on household_id, one short
 * query per page), so that memory does not grow with the list and the embedded database is free
 * between pages. An approved list never changes, so pages read apart still make one list.
 */

export const EXPORT_FORMATS = ['csv', 'hxl', 'json', 'geojson', 'openimis', 'g2p'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What only the programme itself sees (an export without a partner). */
const INTERNAL_FIELDS = ['household_id', 'pcode', 'tier', 'rank', 'reason'] as const;
export type ExportField = ShareableField | (typeof INTERNAL_FIELDS)[number];

const EXPORTABLE = ['approved', 'released', 'closed'];

export interface ListHeader {
  id: number;
  ruleId: string;
  ruleVersionId: number;
  ruleHash: string;
  programme: string;
  programmeName: string;
  kind: string;
  /** The shocks of the list's areas (one list covers every area of its rule version in activation). */
  shockKeys: string[];
  cycle: string;
  status: string;
  currency: string | null;
  households: number;
  totalAmount: number;
  contentSha256: string;
  /** Areas with fewer listed households are not shown in aggregates: at least 5, more if the rule says. */
  suppressBelow: number;
}

export interface ExportContext {
  format: ExportFormat;
  list: ListHeader;
  /** The partner's release when downloading for a partner; undefined for the programme's own export. */
  release?: Release;
  fields: ReadonlySet<ExportField>;
  /** What is written: entries, or areas for geojson. */
  rows: number;
  pageSize: number;
  onProgress?: (written: number, total: number) => void;
}

/** One entry as exports see it; what the reader may not see is null and never read. */
export interface EntryRow {
  householdId: number;
  pseudonymousId: string | null;
  registryId: string | null;
  name: string | null;
  phone: string | null;
  dob: string | null;
  adminPcode: string | null;
  adminName: string | null;
  admin1Pcode: string | null;
  admin2Pcode: string | null;
  admin3Pcode: string | null;
  pcode: string | null;
  tier: string | null;
  rank: number | null;
  size: number | null;
  amount: number | null;
  currency: string | null;
  firstPayment: string | null;
  payments: number | null;
  paymentChannel: string | null;
  paymentAccount: string | null;
  reason: string | null;
  /** The shock of the household's area. */
  shockKey: string | null;
}

/** One column of the tabular formats, the field that allows it and its HXL hashtag. */
export interface Column {
  name: string;
  /** The field that allows the column; none for the list's own identity. */
  field?: ExportField;
  hxl: string;
  value: (e: EntryRow, list: ListHeader) => string | number | null;
  money?: boolean;
}

/** In this order; each appears only when its field may be seen. */
export const ENTRY_COLUMNS: Column[] = [
  { name: 'household_id', field: 'household_id', hxl: '#beneficiary+id+internal', value: (e) => e.householdId },
  { name: 'pseudonymous_id', field: 'pseudonymous_id', hxl: '#beneficiary+code', value: (e) => e.pseudonymousId },
  { name: 'registry_id', field: 'registry_id', hxl: '#beneficiary+code+registry', value: (e) => e.registryId },
  { name: 'name', field: 'name', hxl: '#beneficiary+name', value: (e) => e.name },
  { name: 'phone', field: 'phone', hxl: '#contact+phone', value: (e) => e.phone },
  { name: 'admin_pcode', field: 'admin_pcode', hxl: '#loc+code', value: (e) => e.adminPcode },
  { name: 'admin1_pcode', field: 'admin1_pcode', hxl: '#adm1+code', value: (e) => e.admin1Pcode },
  { name: 'admin2_pcode', field: 'admin2_pcode', hxl: '#adm2+code', value: (e) => e.admin2Pcode },
  { name: 'admin3_pcode', field: 'admin3_pcode', hxl: '#adm3+code', value: (e) => e.admin3Pcode },
  { name: 'pcode', field: 'pcode', hxl: '#loc+code+affected', value: (e) => e.pcode },
  { name: 'tier', field: 'tier', hxl: '#severity', value: (e) => e.tier },
  { name: 'rank', field: 'rank', hxl: '#meta+rank', value: (e) => e.rank },
  { name: 'size', field: 'size', hxl: '#targeted+ind', value: (e) => e.size },
  { name: 'amount', field: 'amount', hxl: '#value', value: (e) => e.amount, money: true },
  { name: 'currency', field: 'currency', hxl: '#currency', value: (e) => e.currency },
  { name: 'cycle', field: 'payment_window', hxl: '#date+cycle', value: (_e, list) => list.cycle },
  { name: 'first_payment', field: 'payment_window', hxl: '#date+start', value: (e) => e.firstPayment },
  { name: 'payments', field: 'payment_window', hxl: '#meta+payments', value: (e) => e.payments },
  { name: 'payment_channel', field: 'payment_channel', hxl: '#delivery+channel', value: (e) => e.paymentChannel },
  { name: 'payment_account', field: 'payment_account', hxl: '#beneficiary+account', value: (e) => e.paymentAccount },
  { name: 'reason', field: 'reason', hxl: '#meta+reason', value: (e) => e.reason },
];

/** The list's identity on every row of the tabular formats: not personal, and proof of which list it is. */
export const LIST_COLUMNS: Column[] = [
  { name: 'list_id', hxl: '#meta+list', value: (_e, list) => list.id },
  { name: 'content_sha256', hxl: '#meta+sha256', value: (_e, list) => list.contentSha256 },
];

export const columnsFor = (ctx: ExportContext): Column[] => ENTRY_COLUMNS.filter((c) => c.field !== undefined && ctx.fields.has(c.field));

/** A column's value as CSV text: amounts with two decimals, nothing for null. */
export function cellText(column: Column, e: EntryRow, list: ListHeader): string {
  const value = column.value(e, list);
  if (value === null || value === undefined) return '';
  return column.money ? Number(value).toFixed(2) : String(value);
}

/**
 * The household's id in this export, as reconciliation reads it back: the registry id for the
 * programme itself; for a partner the pseudonymous id when the release is pseudonymised, else the
 * registry id — null when that field was not released.
 */
export function exportIdOf(ctx: ExportContext, e: EntryRow): string | null {
  if (!ctx.release) return e.registryId;
  return ctx.release.pseudonymised ? e.pseudonymousId : e.registryId;
}

/**
 * Checks that the list may be exported (and, for a partner, downloaded: released to it, not
 * expired), then audits the export, all before the first byte goes out: a disclosure that is not
 * recorded must not happen, so an export that later fails is still on record.
 */
export async function openExport(
  store: Store,
  listId: number,
  format: ExportFormat,
  options: { partnerId?: string; pageSize: number; onProgress?: ExportContext['onProgress'] },
  actor: string,
): Promise<ExportContext> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UserError(`--format ${format}: choose one of ${EXPORT_FORMATS.join(', ')}`);
  }
  if (!actor?.trim()) throw new UserError('say who exports the list (--by NAME)');
  return store.transaction(async ({ raw }) => {
    const list = await loadListHeader(raw, listId);
    if (!EXPORTABLE.includes(list.status)) {
      throw new UserError(`payment list ${listId} is ${list.status}: only approved, released or closed lists can be exported${list.status === 'draft' ? ' (approve it first)' : ''}`);
    }
    let release: Release | undefined;
    if (options.partnerId !== undefined) {
      const partner = await getPartner(raw, options.partnerId);
      release = await findRelease(raw, listId, partner.id);
      if (!release) {
        throw new UserError(`payment list ${listId} has not been released to ${partner.id}: release it first (asp lists release ${listId} --partner ${partner.id} …)`);
      }
      const { rows } = await raw.query<{ expired: boolean }>(`SELECT $1::date < current_date AS expired`, [release.expiresOn]);
      if (rows[0].expired) {
        throw new UserError(`the release of payment list ${listId} to ${partner.id} expired on ${release.expiresOn}: it can no longer be downloaded`);
      }
    }
    const fields = new Set<ExportField>(
      release ? release.fields : [...SHAREABLE_FIELDS.filter((f) => f !== 'pseudonymous_id'), ...INTERNAL_FIELDS],
    );
    if (format === 'g2p' && release) {
      // A disbursement needs an amount and a reference built from the household's id.
      const idField = release.pseudonymised ? 'pseudonymous_id' : 'registry_id';
      const missing = [...(fields.has('amount') ? [] : ['amount']), ...(fields.has(idField) ? [] : [idField])];
      if (missing.length > 0) {
        throw new UserError(`the g2p format needs ${missing.join(' and ')} among the fields released to ${release.partnerId}; use csv or json`);
      }
    }
    const counted = await raw.query<{ n: number }>(
      format === 'geojson'
        ? `SELECT count(*)::int AS n FROM payment_list_areas WHERE list_id = $1`
        : `SELECT count(*)::int AS n FROM payment_list_entries WHERE list_id = $1`,
      [listId],
    );
    const rows = counted.rows[0].n;
    await audit(raw, {
      actor,
      action: release ? 'list.downloaded' : 'list.exported',
      subject: `list:${listId}`,
      details: { format, partner: release?.partnerId ?? null, release: release?.id ?? null, rows, content_sha256: list.contentSha256 },
    });
    return { format, list, release, fields, rows, pageSize: options.pageSize, onProgress: options.onProgress };
  });
}

async function loadListHeader(raw: RawConnection, listId: number): Promise<ListHeader> {
  const { rows } = await raw.query<Record<string, unknown>>(
    `SELECT l.id, l.rule_id, l.rule_version_id, v.hash AS rule_hash, l.programme_code, p.name AS programme_name, l.kind,
            ARRAY(SELECT DISTINCT shock_key FROM payment_list_areas WHERE list_id = l.id ORDER BY shock_key) AS shock_keys, l.cycle, l.status, l.currency, l.households, l.total_amount, l.content_sha256,
            greatest(5, coalesce((v.definition #>> '{data_sharing,aggregates,suppress_below_households}')::int, 0)) AS suppress_below
       FROM payment_lists l
       JOIN rule_versions v ON v.id = l.rule_version_id
       JOIN programmes p ON p.code = l.programme_code
      WHERE l.id = $1`,
    [listId],
  );
  if (rows.length === 0) throw new NotFoundError(`no payment list ${listId} (asp lists list)`);
  const r = rows[0];
  return {
    id: Number(r.id), ruleId: String(r.rule_id), ruleVersionId: Number(r.rule_version_id), ruleHash: String(r.rule_hash),
    programme: String(r.programme_code), programmeName: String(r.programme_name), kind: String(r.kind), shockKeys: r.shock_keys as string[],
    cycle: String(r.cycle), status: String(r.status), currency: (r.currency as string | null) ?? null, households: Number(r.households),
    totalAmount: Number(r.total_amount), contentSha256: String(r.content_sha256), suppressBelow: Number(r.suppress_below),
  };
}

/**
 * The entries in pages of `ctx.pageSize`, ordered by household id. Personal fields the reader may
 * not see are not even selected.
 */
export async function* entryPages(store: Store, ctx: ExportContext): AsyncGenerator<EntryRow[]> {
  const may = (field: ExportField, expression: string) => (ctx.fields.has(field) ? expression : 'NULL');
  // openIMIS needs a date of birth; only the programme's own export may carry it.
  const dob = ctx.release ? 'NULL' : `h.attributes ->> 'dob'`;
  const sql = `
    SELECT e.household_id, r.pseudonymous_id, ${may('registry_id', 'e.registry_id')} AS registry_id,
           ${may('name', `h.attributes ->> 'name'`)} AS name, ${may('phone', `h.attributes ->> 'phone'`)} AS phone, ${dob} AS dob,
           ${may('admin_pcode', 'e.admin_pcode')} AS admin_pcode, ${may('admin_pcode', 'area.name')} AS admin_name,
           ${may('admin1_pcode', 'adm.adm1')} AS admin1_pcode, ${may('admin2_pcode', 'adm.adm2')} AS admin2_pcode,
           ${may('admin3_pcode', 'adm.adm3')} AS admin3_pcode,
           e.pcode, e.tier, e.rank, ${may('size', 'e.size')} AS size, e.amount, e.currency,
           ${may('payment_window', `to_char(e.first_payment, 'YYYY-MM-DD')`)} AS first_payment, ${may('payment_window', 'e.payments')} AS payments,
           ${may('payment_channel', 'e.payment_channel')} AS payment_channel, ${may('payment_account', 'e.payment_account')} AS payment_account,
           e.reason, la.shock_key
      FROM (SELECT * FROM payment_list_entries WHERE list_id = $1 AND household_id > $3 ORDER BY household_id LIMIT $4) e
      JOIN households h ON h.id = e.household_id
      LEFT JOIN payment_list_areas la ON la.list_id = e.list_id AND la.pcode = e.pcode
      LEFT JOIN admin_areas area ON area.pcode = e.admin_pcode
      LEFT JOIN LATERAL (
        SELECT max(a.pcode) FILTER (WHERE a.level = 1) AS adm1, max(a.pcode) FILTER (WHERE a.level = 2) AS adm2,
               max(a.pcode) FILTER (WHERE a.level = 3) AS adm3
          FROM admin_area_ancestors x JOIN admin_areas a ON a.pcode = x.ancestor_pcode
         WHERE x.pcode = e.admin_pcode
      ) adm ON true
      LEFT JOIN release_ids r ON r.release_id = $2 AND r.household_id = e.household_id
     ORDER BY e.household_id`;
  let after = 0;
  let written = 0;
  for (;;) {
    const { rows } = await store.transaction(async ({ raw }) => {
      // A page must come from walking the primary key from `after`: without statistics (a list
      // just generated, PGlite never auto-analyses) the planner would sort all the remaining
      // entries for every page, which makes an export quadratic in the list's size.
      await raw.query('SET LOCAL enable_sort = off');
      return raw.query<Record<string, unknown>>(sql, [ctx.list.id, ctx.release?.id ?? null, after, ctx.pageSize]);
    });
    if (rows.length === 0) return;
    const page = rows.map((r) => toEntry(r, ctx.fields));
    yield page;
    written += page.length;
    ctx.onProgress?.(written, ctx.rows);
    after = page[page.length - 1].householdId;
    if (rows.length < ctx.pageSize) return;
  }
}

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function toEntry(r: Record<string, unknown>, fields: ReadonlySet<ExportField>): EntryRow {
  // Internal columns are selected for paging and aggregation; they are blanked unless allowed.
  const internal = <T>(field: ExportField, v: T) => (fields.has(field) ? v : null);
  return {
    householdId: Number(r.household_id),
    pseudonymousId: internal('pseudonymous_id', text(r.pseudonymous_id)),
    registryId: text(r.registry_id),
    name: text(r.name),
    phone: text(r.phone),
    dob: text(r.dob),
    adminPcode: text(r.admin_pcode),
    adminName: text(r.admin_name),
    admin1Pcode: text(r.admin1_pcode),
    admin2Pcode: text(r.admin2_pcode),
    admin3Pcode: text(r.admin3_pcode),
    pcode: internal('pcode', text(r.pcode)),
    tier: internal('tier', text(r.tier)),
    rank: internal('rank', num(r.rank)),
    size: num(r.size),
    amount: internal('amount', num(r.amount)),
    currency: internal('currency', text(r.currency)),
    firstPayment: text(r.first_payment),
    payments: num(r.payments),
    paymentChannel: text(r.payment_channel),
    paymentAccount: text(r.payment_account),
    reason: internal('reason', text(r.reason)),
    shockKey: text(r.shock_key),
  };
}

/** Writes with backpressure: waits for 'drain' so that a slow reader holds the export, not memory. */
export async function write(out: Writable, chunk: string): Promise<void> {
  if (out.destroyed) throw new Error('the output was closed before the export finished');
  if (out.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the output was closed before the export finished'));
    };
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}
