import { OPENIMIS_SCHEME } from '../areas/area-codes.ts';
import type { Store } from '../db/store.ts';
import type { ExportContext, ExportField } from './source.ts';

/**
 * A list's entries as exports read them, with what the registry knows of each household's head.
 * Personal fields the reader may not see are not even selected.
 */

/** One entry as exports see it; what the reader may not see is null and never read. */
export interface EntryRow {
  householdId: number;
  pseudonymousId: string | null;
  registryId: string | null;
  /** The head's full name. */
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  /** YYYY-MM-DD, a day that exists. */
  birthDate: string | null;
  nationalId: string | null;
  phone: string | null;
  adminPcode: string | null;
  adminName: string | null;
  admin1Pcode: string | null;
  admin2Pcode: string | null;
  admin3Pcode: string | null;
  /** The household's area in openIMIS (area_codes, scheme openimis); read for the openimis format only. */
  openimisLocationCode: string | null;
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

// The head's details over households `h`: the registry's columns (migration 0014), else what older
// imports kept in attributes. A name is split (first word, the rest) only when both name columns are empty.
const NAME_ATTRIBUTE = `btrim(h.attributes ->> 'name')`;
const NO_NAME_COLUMNS = `h.head_first_name IS NULL AND h.head_last_name IS NULL`;
export const HEAD_FIRST_NAME_SQL = `CASE WHEN ${NO_NAME_COLUMNS} THEN substring(${NAME_ATTRIBUTE} from '^\\S+') ELSE h.head_first_name END`;
export const HEAD_LAST_NAME_SQL = `CASE WHEN ${NO_NAME_COLUMNS} THEN nullif(regexp_replace(${NAME_ATTRIBUTE}, '^\\S+\\s*', ''), '') ELSE h.head_last_name END`;
// The full name as stored: not trimmed, so that what reads back is what the registry holds.
export const HEAD_NAME_SQL = `CASE WHEN ${NO_NAME_COLUMNS} THEN h.attributes ->> 'name' ELSE concat_ws(' ', h.head_first_name, h.head_last_name) END`;
// An attribute date is taken only when it names a day that exists; nested CASEs so that the cast
// runs only on text already shaped like a date (AND does not promise an order).
const DOB_ATTRIBUTE = `(h.attributes ->> 'dob')`;
export const HEAD_BIRTH_DATE_SQL = `CASE
  WHEN h.head_birth_date IS NOT NULL THEN to_char(h.head_birth_date, 'YYYY-MM-DD')
  WHEN ${DOB_ATTRIBUTE} ~ '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$' THEN
    CASE WHEN substr(${DOB_ATTRIBUTE}, 9, 2)::int
              <= extract(day FROM (substr(${DOB_ATTRIBUTE}, 1, 7) || '-01')::date + interval '1 month' - interval '1 day')
         THEN ${DOB_ATTRIBUTE} END
END`;
export const NATIONAL_ID_SQL = `coalesce(h.national_id, h.attributes ->> 'national_id')`;
export const PHONE_SQL = `coalesce(h.phone, h.attributes ->> 'phone')`;

/** The P-codes of levels 1-3 above entries `e`'s area, as `adm.adm1`…`adm.adm3`. */
export const ADMIN_LEVELS_JOIN_SQL = `LEFT JOIN LATERAL (
        SELECT max(a.pcode) FILTER (WHERE a.level = 1) AS adm1, max(a.pcode) FILTER (WHERE a.level = 2) AS adm2,
               max(a.pcode) FILTER (WHERE a.level = 3) AS adm3
          FROM admin_area_ancestors x JOIN admin_areas a ON a.pcode = x.ancestor_pcode
         WHERE x.pcode = e.admin_pcode
      ) adm ON true`;

/**
 * openIMIS location codes by P-code, for a join: the area code table maps (scheme, code) → P-code,
 * so one P-code could have several codes; exports refuse that case before writing (openimis.ts).
 */
export const OPENIMIS_CODES_SQL = `SELECT pcode, min(code) AS code, count(*)::int AS codes FROM area_codes WHERE scheme = '${OPENIMIS_SCHEME}' GROUP BY pcode`;

/**
 * The entries' SELECT (without ORDER BY), one row per entry of `entries`, SQL that selects rows of
 * payment_list_entries (e.g. one page). `releaseId` is SQL too: a parameter, or a literal for a COPY,
 * which takes none. Personal fields the reader may not see are not even selected.
 */
export function entrySelect(ctx: ExportContext, entries: string, releaseId: string): string {
  const may = (field: ExportField, expression: string) => (ctx.fields.has(field) ? expression : 'NULL');
  const openimis = ctx.format === 'openimis';
  return `
    ${openimis ? `WITH openimis AS (${OPENIMIS_CODES_SQL})` : ''}
    SELECT e.household_id, r.pseudonymous_id, ${may('registry_id', 'e.registry_id')} AS registry_id,
           ${may('name', HEAD_NAME_SQL)} AS name, ${may('name', HEAD_FIRST_NAME_SQL)} AS first_name, ${may('name', HEAD_LAST_NAME_SQL)} AS last_name,
           ${may('birth_date', HEAD_BIRTH_DATE_SQL)} AS birth_date, ${may('national_id', NATIONAL_ID_SQL)} AS national_id,
           ${may('phone', PHONE_SQL)} AS phone,
           ${may('admin_pcode', 'e.admin_pcode')} AS admin_pcode, ${may('admin_pcode', 'area.name')} AS admin_name,
           ${may('admin1_pcode', 'adm.adm1')} AS admin1_pcode, ${may('admin2_pcode', 'adm.adm2')} AS admin2_pcode,
           ${may('admin3_pcode', 'adm.adm3')} AS admin3_pcode, ${openimis ? may('admin_pcode', 'oi.code') : 'NULL'} AS openimis_code,
           e.pcode, e.tier, e.rank, ${may('size', 'e.size')} AS size, e.amount, e.currency,
           ${may('payment_window', `to_char(e.first_payment, 'YYYY-MM-DD')`)} AS first_payment, ${may('payment_window', 'e.payments')} AS payments,
           ${may('payment_channel', 'e.payment_channel')} AS payment_channel, ${may('payment_account', 'e.payment_account')} AS payment_account,
           e.reason, la.shock_key
      FROM ${entries} e
      JOIN households h ON h.id = e.household_id
      LEFT JOIN payment_list_areas la ON la.list_id = e.list_id AND la.pcode = e.pcode
      LEFT JOIN admin_areas area ON area.pcode = e.admin_pcode
      ${openimis ? 'LEFT JOIN openimis oi ON oi.pcode = e.admin_pcode' : ''}
      ${ADMIN_LEVELS_JOIN_SQL}
      LEFT JOIN release_ids r ON r.release_id = ${releaseId} AND r.household_id = e.household_id`;
}

/**
 * The entries in pages of `ctx.pageSize`, ordered by household id. Personal fields the reader may
 * not see are not even selected.
 */
export async function* entryPages(store: Store, ctx: ExportContext): AsyncGenerator<EntryRow[]> {
  const page = '(SELECT * FROM payment_list_entries WHERE list_id = $1 AND household_id > $3 ORDER BY household_id LIMIT $4)';
  const sql = `${entrySelect(ctx, page, '$2')}
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
    firstName: text(r.first_name),
    lastName: text(r.last_name),
    birthDate: text(r.birth_date),
    nationalId: text(r.national_id),
    phone: text(r.phone),
    adminPcode: text(r.admin_pcode),
    adminName: text(r.admin_name),
    admin1Pcode: text(r.admin1_pcode),
    admin2Pcode: text(r.admin2_pcode),
    admin3Pcode: text(r.admin3_pcode),
    openimisLocationCode: text(r.openimis_code),
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
