import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { safeCell } from '../spreadsheet-safe.ts';
import { entryPages, HEAD_BIRTH_DATE_SQL, HEAD_FIRST_NAME_SQL, HEAD_LAST_NAME_SQL, OPENIMIS_CODES_SQL, type EntryRow } from './entries.ts';
import { exportIdOf, write, type ExportCheck, type ExportContext, type ExportField } from './source.ts';

/**
 * The openIMIS social protection beneficiary upload for a benefit plan (POST
 * /api/social_protection/import_beneficiaries/ with group_aggregation_column=group_code), one row
 * per household: its head as the group's HEAD and primary recipient, and the benefit plan's
 * `beneficiary_data_schema` to go with it ({@link writeOpenImisSchema}).
 *
 * What openIMIS checks, read in openimis/openimis-be-social_protection_py (release 24.10):
 * - social_protection/workflows/utils.py `validate_dataframe_headers`: the headers first_name,
 *   last_name, dob and id must be there, and every other header must be a property of the benefit
 *   plan's beneficiary_data_schema, else the whole upload fails ("invalid columns").
 * - social_protection/workflows/base_beneficiary_upload.py: every row needs first_name, last_name
 *   and dob, each row's JSON must validate against the schema, and dob is read with
 *   to_date(…, 'YYYY-MM-DD'); one failing row fails the whole upload.
 * - social_protection/services.py `BeneficiaryImportService`: the CSV is read with pandas, so a
 *   value made only of digits arrives as a number; the schema types text columns loosely for that.
 * - openimis/openimis-be-individual_py individual/workflows/base_individual_upload.py joins
 *   location_name and location_code on tblLocations at LocationType 'V' (village), and
 *   individual/signals/on_validation_import_valid_items.py groups rows by group_code with
 *   recipient_info 1 = primary and individual_role HEAD.
 *
 * So: names and birth date come from the registry (head_first_name, head_last_name,
 * head_birth_date), location_code is the household's area's openIMIS village code from the area
 * code table (scheme openimis), location_name the area's name. When any household lacks one of
 * them the export is refused before a byte is written, naming how many and which (by the ids of
 * this export): openIMIS would refuse the whole file anyway, and leaving households out of a
 * payment list without a word is worse than no file.
 */

interface OpenImisColumn {
  name: string;
  /** The field the reader must have been given for the column to be written. */
  field?: ExportField;
  value: (e: EntryRow, ctx: ExportContext) => string | number | null;
  /** Its property in beneficiary_data_schema; none for the headers openIMIS requires itself. */
  schema?: Record<string, unknown>;
}

// Text that may be all digits (codes, phone numbers, accounts) is left untyped: pandas reads "0712…" as a number.
const TEXT = (description: string) => ({ description });
// An empty cell reaches the schema as null (pandas): optional columns say so.
const OPTIONAL = (type: string, rest: Record<string, unknown>) => ({ type: [type, 'null'], ...rest });

/** openIMIS's own required headers: never declared in the schema. */
const REQUIRED: OpenImisColumn[] = [
  { name: 'first_name', value: (e) => e.firstName },
  { name: 'last_name', value: (e) => e.lastName },
  { name: 'dob', value: (e) => e.birthDate },
  { name: 'id', value: (e, ctx) => exportIdOf(ctx, e) },
];

const GROUPING: OpenImisColumn[] = [
  { name: 'group_code', value: (e, ctx) => exportIdOf(ctx, e), schema: TEXT('the household: rows with one group_code form one openIMIS group') },
  { name: 'recipient_info', value: () => 1, schema: { type: 'integer', enum: [1, 2], description: '1 = primary recipient' } },
  { name: 'individual_role', value: () => 'HEAD', schema: { type: 'string', description: 'the role in the group (GroupIndividual.Role)' } },
  { name: 'location_name', value: (e) => e.adminName, schema: TEXT('the village name (tblLocations.LocationName)') },
  { name: 'location_code', value: (e) => e.openimisLocationCode, schema: TEXT('the village code (tblLocations.LocationCode, LocationType V)') },
];

const PROPERTIES: OpenImisColumn[] = [
  { name: 'national_id', field: 'national_id', value: (e) => e.nationalId, schema: TEXT("the head's national identity number") },
  { name: 'household_size', field: 'size', value: (e) => e.size, schema: OPTIONAL('integer', { minimum: 1, description: 'members of the household' }) },
  { name: 'phone', field: 'phone', value: (e) => e.phone, schema: TEXT("the head's phone number") },
  { name: 'amount', field: 'amount', value: (e) => (e.amount === null ? null : e.amount.toFixed(2)), schema: { type: 'number', minimum: 0, description: 'the amount per payment' } },
  { name: 'currency', field: 'currency', value: (e) => e.currency, schema: OPTIONAL('string', { description: 'ISO 4217 code' }) },
  { name: 'payment_channel', field: 'payment_channel', value: (e) => e.paymentChannel, schema: TEXT('how the household is paid') },
  { name: 'payment_account', field: 'payment_account', value: (e) => e.paymentAccount, schema: TEXT('the account or wallet paid into') },
  { name: 'first_payment', field: 'payment_window', value: (e) => e.firstPayment, schema: OPTIONAL('string', { format: 'date', description: 'YYYY-MM-DD' }) },
  { name: 'payments', field: 'payment_window', value: (e) => e.payments, schema: OPTIONAL('integer', { minimum: 1, description: 'payments in the scale-up' }) },
];

const PROVENANCE: OpenImisColumn[] = [
  { name: 'scaleup_batch_id', value: (_e, ctx) => `asp-list-${ctx.list.id}`, schema: { type: 'string', description: 'the asp-engine payment list' } },
  { name: 'shock_event_id', value: (e) => e.shockKey, schema: OPTIONAL('string', { description: "the shock of the household's area" }) },
  { name: 'content_sha256', value: (_e, ctx) => ctx.list.contentSha256, schema: TEXT("the approved list's content hash") },
];

function columnsOf(ctx: Pick<ExportContext, 'fields'>): OpenImisColumn[] {
  return [...REQUIRED, ...GROUPING, ...PROPERTIES.filter((c) => c.field && ctx.fields.has(c.field)), ...PROVENANCE];
}

export async function writeOpenImis(store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  const columns = columnsOf(ctx);
  await write(out, stringify([columns.map((c) => c.name)]));
  let rows = 0;
  for await (const page of entryPages(store, ctx)) {
    await write(out, stringify(page.map((e) => columns.map((c) => safeCell(c.value(e, ctx))))));
    rows += page.length;
  }
  return rows;
}

/** The benefit plan's beneficiary_data_schema for the columns of this reader's openimis export. */
export function openImisSchema(ctx: Pick<ExportContext, 'fields' | 'list'>) {
  const properties = Object.fromEntries(columnsOf(ctx).filter((c) => c.schema).map((c) => [c.name, c.schema]));
  return {
    $schema: 'http://json-schema.org/draft-04/schema#',
    title: `asp-engine scale-up beneficiaries (programme ${ctx.list.programme})`,
    type: 'object',
    properties,
  };
}

export async function writeOpenImisSchema(_store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  await write(out, `${JSON.stringify(openImisSchema(ctx), null, 2)}\n`);
  return Object.keys(openImisSchema(ctx).properties).length;
}

/** Ids named in an error, at most. */
const NAMED = 20;

/**
 * Refuses the openimis format when openIMIS would refuse the file: a reader not given names, birth
 * dates or areas (a pseudonymised partner never is), a head without first name, last name or
 * birth date, an area without exactly one openIMIS code. Counts and ids only; the problems name
 * households by their id in this export, never by name.
 */
export const checkOpenImis: ExportCheck = async (raw, ctx) => {
  if (ctx.format !== 'openimis' && ctx.format !== 'openimis-schema') return;
  const needed: ExportField[] = ['name', 'birth_date', 'admin_pcode'];
  const missing = needed.filter((f) => !ctx.fields.has(f));
  if (missing.length > 0) {
    const who = ctx.release?.pseudonymised ? `${ctx.release.partnerId} gets pseudonymous ids, and a pseudonymised partner never receives names or birth dates` : `they are not among the fields released to ${ctx.release?.partnerId}`;
    throw new UserError(`the openimis format needs ${missing.join(', ')} (openIMIS refuses rows without first_name, last_name, dob): ${who}; use csv or json`);
  }
  if (ctx.format === 'openimis-schema') return;
  const problems = [...(await headProblems(raw, ctx)), ...(await areaProblems(raw, ctx.list.id))];
  if (problems.length > 0) {
    throw new UserError(`payment list ${ctx.list.id} cannot be written for openIMIS: nothing was written`, problems);
  }
};

async function headProblems(raw: RawConnection, ctx: Parameters<ExportCheck>[1]): Promise<string[]> {
  const id = ctx.release?.pseudonymised ? 'r.pseudonymous_id' : 'e.registry_id';
  const { rows } = await raw.query<{ id: string; first: boolean; last: boolean; dob: boolean; total: number }>(
    `SELECT ${id} AS id, first_name IS NULL AS first, last_name IS NULL AS last, birth_date IS NULL AS dob, count(*) OVER ()::int AS total
       FROM (SELECT e.household_id, e.registry_id, ${HEAD_FIRST_NAME_SQL} AS first_name, ${HEAD_LAST_NAME_SQL} AS last_name, ${HEAD_BIRTH_DATE_SQL} AS birth_date
               FROM payment_list_entries e JOIN households h ON h.id = e.household_id
              WHERE e.list_id = $1) e
       LEFT JOIN release_ids r ON r.release_id = $2 AND r.household_id = e.household_id
      WHERE first_name IS NULL OR last_name IS NULL OR birth_date IS NULL
      ORDER BY e.household_id
      LIMIT ${NAMED}`,
    [ctx.list.id, ctx.release?.id ?? null],
  );
  if (rows.length === 0) return [];
  const lacking = (r: (typeof rows)[number]) => [r.first && 'first name', r.last && 'last name', r.dob && 'birth date (YYYY-MM-DD)'].filter(Boolean).join(', ');
  return [
    `${rows[0].total} household(s) lack the head's first name, last name or birth date; openIMIS refuses the whole upload for one such row. Complete them in the registry (head_first_name, head_last_name, head_birth_date).`,
    ...rows.map((r) => `household ${r.id}: no ${lacking(r)}`),
    ...(rows[0].total > rows.length ? [`… and ${rows[0].total - rows.length} more`] : []),
  ];
}

async function areaProblems(raw: RawConnection, listId: number): Promise<string[]> {
  const { rows } = await raw.query<{ pcode: string; households: number; codes: number }>(
    `WITH openimis AS (${OPENIMIS_CODES_SQL})
     SELECT e.admin_pcode AS pcode, count(*)::int AS households, coalesce(max(o.codes), 0) AS codes
       FROM payment_list_entries e LEFT JOIN openimis o ON o.pcode = e.admin_pcode
      WHERE e.list_id = $1
      GROUP BY e.admin_pcode
     HAVING coalesce(max(o.codes), 0) <> 1
      ORDER BY e.admin_pcode`,
    [listId],
  );
  return rows.map((r) =>
    r.codes === 0
      ? `area ${r.pcode} (${r.households} household(s)) has no openIMIS location code: add its village code to the area code table (scheme openimis, asp areas codes FILE)`
      : `area ${r.pcode} (${r.households} household(s)) has ${r.codes} openIMIS location codes: keep the one village code it stands for (scheme openimis)`,
  );
}
