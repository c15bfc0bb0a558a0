import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import { parse } from 'csv-parse/sync';

/**
 * An openIMIS social protection beneficiary upload on 127.0.0.1, written from openIMIS's rules and
 * sharing no code with the engine's exporter. What it checks, as openIMIS does (release 24.10):
 *
 * - POST /api/social_protection/import_beneficiaries/ (multipart: file, benefit_plan,
 *   workflow_name, workflow_group, group_aggregation_column): the request itself, as
 *   social_protection/views.py `_resolve_import_beneficiaries_args` and services.py
 *   `BeneficiaryImportService` (`import_loaders`: text/csv; "Import file is empty") refuse it, 400.
 * - Then the upload workflow, whose outcome is the upload's status (openIMIS records it in
 *   individual_individualdatasourceupload; here GET /peer/uploads/UUID stands in for the GraphQL
 *   upload history): social_protection/workflows/utils.py `validate_dataframe_headers` (first_name,
 *   last_name, dob, id present; every other header a property of the benefit plan's
 *   beneficiary_data_schema), then workflows/base_beneficiary_upload.py's rows: first_name,
 *   last_name and dob filled (individual_individual's columns are NOT NULL), dob a YYYY-MM-DD day
 *   (to_date), each row valid against the schema (validate_json_schema). One bad row fails all.
 * - The CSV is read as pandas reads it: an empty cell is null, a column of integers is numbers.
 * - Stricter than openIMIS in one place, said here: openIMIS joins location_name and location_code
 *   on tblLocations at LocationType 'V' with a LEFT JOIN (individual/workflows/base_individual_upload.py),
 *   so an unknown village silently leaves the individual without a location; this peer fails the
 *   row instead, since a household without a location drops out of location-filtered payrolls.
 * - Groups as individual/signals/on_validation_import_valid_items.py forms them: rows by
 *   group_code, recipient_info 1 (primary) or 2 (secondary), individual_role a GroupIndividual role.
 *
 * Rows are named by their `id` value in the failures (openIMIS names data-source UUIDs).
 */

export interface Village {
  code: string;
  name: string;
}

export interface UploadStatus {
  status: 'SUCCESS' | 'FAIL';
  error: { workflow?: string; errors?: Record<string, string[]> };
  beneficiaries: number;
  groups: { code: string; members: { id: string; role: string; recipient: string | null }[] }[];
}

export interface OpenImisUploadPeer {
  url: string;
  /** Benefit plans by UUID: their beneficiary_data_schema, as an integrator configures them. */
  benefitPlans: Map<string, { code: string; type: 'INDIVIDUAL' | 'GROUP'; beneficiaryDataSchema: Record<string, unknown> }>;
  uploads: Map<string, UploadStatus>;
  close(): Promise<void>;
}

/** The upload workflow openIMIS registers (social_protection/apps.py `_set_up_workflows`). */
const WORKFLOW = { name: 'Python Beneficiaries Upload', group: 'socialProtection' };
const ROLES = ['HEAD', 'SPOUSE', 'SON', 'DAUGHTER', 'GRANDFATHER', 'GRANDMOTHER', 'MOTHER', 'FATHER', 'GRANDSON', 'GRANDDAUGHTER', 'SISTER', 'BROTHER', 'OTHER'];
const REQUIRED_HEADERS = ['first_name', 'last_name', 'dob', 'id'];

export async function startOpenImisUploadPeer(villages: Village[]): Promise<OpenImisUploadPeer> {
  const benefitPlans: OpenImisUploadPeer['benefitPlans'] = new Map();
  const uploads = new Map<string, UploadStatus>();
  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => send(res, 500, { success: false, error: error.message }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://peer').pathname;
    if (req.method === 'GET' && path.startsWith('/peer/uploads/')) {
      const upload = uploads.get(path.slice('/peer/uploads/'.length));
      return upload ? send(res, 200, upload) : send(res, 404, { error: 'no such upload' });
    }
    if (req.method !== 'POST' || path !== '/api/social_protection/import_beneficiaries/') return send(res, 404, { error: 'not found' });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    // The multipart body, read by the platform's own form-data parser (undici), not by hand.
    const form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    const file = form.get('file');
    const field = (name: string) => (typeof form.get(name) === 'string' ? String(form.get(name)) : '');
    if (!(file instanceof Blob)) return send(res, 400, { success: false, error: 'Import file not provided' });
    if (!field('benefit_plan')) return send(res, 400, { success: false, error: 'Benefit plan UUID not provided' });
    if (!field('workflow_name')) return send(res, 400, { success: false, error: 'Workflow name not provided' });
    if (!field('workflow_group')) return send(res, 400, { success: false, error: 'Workflow group not provided' });
    const plan = benefitPlans.get(field('benefit_plan'));
    if (field('group_aggregation_column') && plan?.type !== 'GROUP') return send(res, 400, { success: false, error: 'Group aggregation only for group type benefit plans' });
    if (field('workflow_name') !== WORKFLOW.name || field('workflow_group') !== WORKFLOW.group) {
      return send(res, 400, { success: false, error: `Workflow not found: group=${field('workflow_group')} name=${field('workflow_name')}` });
    }
    if (!plan) return send(res, 400, { success: false, error: `Benefit Plan not found: ${field('benefit_plan')}` });
    if (file.type.split(';')[0] !== 'text/csv') return send(res, 400, { success: false, error: `Unsupported content type: ${file.type}` });
    const rows = readAsPandas(await file.text());
    if (rows.records.length === 0) return send(res, 400, { success: false, error: 'Import file is empty' });
    const uuid = randomUUID();
    uploads.set(uuid, runWorkflow(rows, plan.beneficiaryDataSchema, villages, field('group_aggregation_column')));
    return send(res, 200, { success: true, data: { upload_uuid: uuid } });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    benefitPlans,
    uploads,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const UPLOAD_WORKFLOW = WORKFLOW;

type Cell = string | number | null;

/** pandas.read_csv, as far as the checks see it: empty cells are null, a column of integers or decimals holds numbers. */
function readAsPandas(text: string): { headers: string[]; records: Record<string, Cell>[] } {
  const [headers = [], ...lines] = parse(text, { bom: true }) as string[][];
  const isInteger = (v: string) => /^[+-]?\d+$/.test(v);
  const isDecimal = (v: string) => /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v);
  const kind = headers.map((_h, i) => {
    const filled = lines.map((l) => l[i]).filter((v) => v !== '');
    if (filled.length > 0 && filled.every(isInteger)) return 'number';
    if (filled.length > 0 && filled.every(isDecimal)) return 'number';
    return 'text';
  });
  const records = lines.map((l) => Object.fromEntries(headers.map((h, i) => [h, l[i] === '' ? null : kind[i] === 'number' ? Number(l[i]) : l[i]])));
  return { headers, records };
}

function runWorkflow(rows: ReturnType<typeof readAsPandas>, schema: Record<string, unknown>, villages: Village[], groupColumn: string): UploadStatus {
  const failed = (error: UploadStatus['error']): UploadStatus => ({ status: 'FAIL', error, beneficiaries: 0, groups: [] });
  // Headers first: a bad header fails the upload before any row is looked at.
  const declared = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
  const invalid = rows.headers.filter((h) => !REQUIRED_HEADERS.includes(h) && !declared.includes(h));
  const headerErrors = [
    ...(invalid.length > 0 ? [`Uploaded beneficiaries contains invalid columns: {${invalid.map((h) => `'${h}'`).join(', ')}}`] : []),
    ...REQUIRED_HEADERS.filter((h) => !rows.headers.includes(h)).map((h) => `Uploaded beneficiaries missing essential header: ${h}`),
  ];
  if (headerErrors.length > 0) return failed({ workflow: headerErrors.join('\n') });

  const ajv = new Ajv({ strict: false, allErrors: true });
  (formats as unknown as { default: (a: Ajv) => void }).default(ajv);
  const { $schema: _dialect, ...body } = schema;
  const validRow = ajv.compile(body);
  const failing: Record<string, string[]> = { failing_entries_first_name: [], failing_entries_last_name: [], failing_entries_dob: [], failing_entries_invalid_json: [], failing_entries_location: [], failing_entries_group: [] };
  for (const row of rows.records) {
    const id = String(row.id);
    const blank = (v: Cell) => v === null || String(v).trim() === '';
    if (blank(row.first_name)) failing.failing_entries_first_name.push(id);
    if (blank(row.last_name)) failing.failing_entries_last_name.push(id);
    if (blank(row.dob) || !isDay(String(row.dob))) failing.failing_entries_dob.push(id);
    if (!validRow(row)) failing.failing_entries_invalid_json.push(id);
    if ('location_code' in row && !villages.some((v) => v.code === String(row.location_code) && v.name === row.location_name)) failing.failing_entries_location.push(id);
    if (groupColumn && (blank(row[groupColumn]) || !ROLES.includes(String(row.individual_role ?? '').toUpperCase()) || ![1, 2, null].includes(row.recipient_info as number | null))) {
      failing.failing_entries_group.push(id);
    }
  }
  const errors = Object.fromEntries(Object.entries(failing).filter(([, ids]) => ids.length > 0));
  if (Object.keys(errors).length > 0) return failed({ errors });

  const groups = new Map<string, UploadStatus['groups'][number]>();
  for (const row of groupColumn ? rows.records : []) {
    const code = String(row[groupColumn]);
    const group = groups.get(code) ?? { code, members: [] };
    group.members.push({ id: String(row.id), role: String(row.individual_role).toUpperCase(), recipient: row.recipient_info === 1 ? 'PRIMARY' : row.recipient_info === 2 ? 'SECONDARY' : null });
    groups.set(code, group);
  }
  return { status: 'SUCCESS', error: {}, beneficiaries: rows.records.length, groups: [...groups.values()] };
}

/** What to_date(…, 'YYYY-MM-DD') takes: four, two and two digits naming a day that exists. */
function isDay(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return day.getUTCFullYear() === Number(match[1]) && day.getUTCMonth() === Number(match[2]) - 1 && day.getUTCDate() === Number(match[3]);
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
