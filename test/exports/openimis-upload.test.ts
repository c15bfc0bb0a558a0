import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { exportList, type ExportFormat } from '../../src/exports/index.ts';
import { startOpenImisUploadPeer, UPLOAD_WORKFLOW, type OpenImisUploadPeer, type UploadStatus } from '../peers/openimis-upload.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds } from '../support/households.ts';
import { collector, createList, type FixtureList } from './list-fixture.ts';

/**
 * The openimis export uploaded, as an integrator would, to an openIMIS beneficiary upload on
 * 127.0.0.1 (test/peers/openimis-upload.ts, written from openIMIS's own checks): the export and
 * the beneficiary_data_schema shipped beside it pass; the export as it was before issue 12 (a
 * recorded file) fails, for the reasons the issue names; what openIMIS would refuse, the exporter
 * refuses first, naming the households or areas and writing nothing.
 */

let db: TestDatabase;
let peer: OpenImisUploadPeer;
let list: FixtureList;
let villages: { pcode: string; code: string; name: string }[];
const HOUSEHOLDS = 9;
const registryId = (i: number) => `OI-${String(i + 1).padStart(3, '0')}`;
const pcodeOf = (i: number) => (i % 3 === 0 ? 'XD01002' : 'XD01001');

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  const ids = await insertHouseholds(
    db.store,
    Array.from({ length: HOUSEHOLDS }, (_x, i) => ({ id: registryId(i), pcode: pcodeOf(i), size: 2 + (i % 5), channel: 'mobile_money', account: `07220000${i}0` })),
  );
  await db.store.transaction(async ({ raw }) => {
    for (let i = 0; i < HOUSEHOLDS; i++) {
      // What a registry pull leaves: the head's names, birth date, national id and phone in their columns.
      await raw.query(
        `UPDATE households SET head_first_name = $2, head_last_name = $3, head_birth_date = $4, national_id = $5, phone = $6 WHERE registry_id = $1`,
        [registryId(i), `Wanjiru${i}`, `Kamau Njeri${i}`, `19${70 + i}-0${1 + (i % 9)}-1${i}`, `2${i}345678`, `0722000${i}00`],
      );
    }
    // openIMIS villages (LocationType V) of the two areas, in the area code table.
    await raw.query(`INSERT INTO area_codes (scheme, code, pcode) VALUES ('openimis', 'R1D1M1V1', 'XD01001'), ('openimis', 'R1D1M1V2', 'XD01002')`);
    const { rows } = await raw.query<{ pcode: string; name: string }>(`SELECT pcode, name FROM admin_areas WHERE pcode IN ('XD01001', 'XD01002') ORDER BY pcode`);
    villages = rows.map((r) => ({ pcode: r.pcode, name: r.name, code: r.pcode === 'XD01001' ? 'R1D1M1V1' : 'R1D1M1V2' }));
  });
  list = await createList(db.store, Array.from({ length: HOUSEHOLDS }, (_x, i) => ({ householdId: ids.get(registryId(i))!, registryId: registryId(i), pcode: pcodeOf(i), amount: 1200 + 50 * i })));
  peer = await startOpenImisUploadPeer(villages.map(({ code, name }) => ({ code, name })));
});

afterAll(async () => {
  await peer?.close();
  await db?.drop();
});

async function exported(listId: number, format: ExportFormat): Promise<string> {
  const sink = collector();
  await exportList(db.store, listId, format, sink.out, {}, 'integrator');
  return sink.text();
}

/** A group benefit plan in openIMIS with this beneficiary_data_schema; its UUID. */
function benefitPlan(beneficiaryDataSchema: Record<string, unknown>): string {
  const uuid = randomUUID();
  peer.benefitPlans.set(uuid, { code: `BP-${peer.benefitPlans.size + 1}`, type: 'GROUP', beneficiaryDataSchema });
  return uuid;
}

/** POSTs the file as openIMIS's upload form does, then reads the upload's status. */
async function upload(csv: string, plan: string): Promise<{ http: number; status?: UploadStatus; error?: string }> {
  const form = new FormData();
  form.set('file', new Blob([csv], { type: 'text/csv' }), 'beneficiaries.csv');
  form.set('benefit_plan', plan);
  form.set('workflow_name', UPLOAD_WORKFLOW.name);
  form.set('workflow_group', UPLOAD_WORKFLOW.group);
  form.set('group_aggregation_column', 'group_code');
  const response = await fetch(`${peer.url}/api/social_protection/import_beneficiaries/`, { method: 'POST', body: form });
  const answer = (await response.json()) as { success: boolean; data?: { upload_uuid: string }; error?: string };
  if (!answer.success) return { http: response.status, error: answer.error };
  const status = (await (await fetch(`${peer.url}/peer/uploads/${answer.data!.upload_uuid}`)).json()) as UploadStatus;
  return { http: response.status, status };
}

describe('the openimis export in an openIMIS beneficiary upload', () => {
  it('passes the header and row checks with the schema shipped beside it: one group per household, its head the primary recipient', async () => {
    const plan = benefitPlan(JSON.parse(await exported(list.listId, 'openimis-schema')));
    const result = await upload(await exported(list.listId, 'openimis'), plan);
    expect(result.http).toBe(200);
    expect(result.status?.error).toEqual({});
    expect(result.status).toMatchObject({ status: 'SUCCESS', beneficiaries: HOUSEHOLDS });
    expect(result.status!.groups.map((g) => g.code).sort()).toEqual(Array.from({ length: HOUSEHOLDS }, (_x, i) => registryId(i)));
    for (const group of result.status!.groups) expect(group.members).toEqual([{ id: group.code, role: 'HEAD', recipient: 'PRIMARY' }]);
  });

  it('fails against a benefit plan whose schema does not declare the extra columns: the schema must travel with the file', async () => {
    const schema = JSON.parse(await exported(list.listId, 'openimis-schema'));
    delete schema.properties.national_id;
    delete schema.properties.scaleup_batch_id;
    const result = await upload(await exported(list.listId, 'openimis'), benefitPlan(schema));
    expect(result.status).toMatchObject({ status: 'FAIL', error: { workflow: "Uploaded beneficiaries contains invalid columns: {'national_id', 'scaleup_batch_id'}" } });
  });
});

describe('the export as it was before issue 12 (a recorded file)', () => {
  const before = () => readFile(path.join(import.meta.dirname, '../peers/fixtures/openimis-export-before-issue-12.csv'), 'utf8');

  it('is refused for columns no benefit-plan schema declares', async () => {
    // A benefit plan as openIMIS creates it by default: no properties.
    const result = await upload(await before(), benefitPlan({ $schema: 'https://json-schema.org/draft/2019-09/schema' }));
    expect(result.status?.status).toBe('FAIL');
    expect(result.status?.error.workflow).toBe(
      "Uploaded beneficiaries contains invalid columns: {'location_name', 'location_code', 'group_code', 'recipient_info', 'individual_role', 'household_size', " +
        "'phone', 'amount', 'currency', 'payment_channel', 'payment_account', 'first_payment', 'payments', 'scaleup_batch_id', 'shock_event_id', 'content_sha256'}",
    );
  });

  it('is refused, even with every column declared, because first name, last name and birth date are empty in every row', async () => {
    const text = await before();
    const header = text.split('\n')[0].split(',');
    const everything = { properties: Object.fromEntries(header.filter((h) => !['first_name', 'last_name', 'dob', 'id'].includes(h)).map((h) => [h, {}])) };
    const result = await upload(text, benefitPlan(everything));
    const everyRow = ['HH-1', 'HH-2', 'HH-3'];
    expect(result.status).toMatchObject({
      status: 'FAIL',
      error: { errors: { failing_entries_first_name: everyRow, failing_entries_last_name: everyRow, failing_entries_dob: everyRow, failing_entries_location: everyRow } },
    });
  });
});

describe('what openIMIS would refuse, the exporter refuses first', () => {
  const attempt = async (listId: number) => {
    const sink = collector();
    const error = await exportList(db.store, listId, 'openimis', sink.out, {}, 'integrator').catch((e) => e);
    expect(sink.text()).toBe('');
    return error;
  };
  const auditCount = () => db.store.transaction(async ({ raw }) => (await raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`)).rows[0].n);

  it('a head without a last name or a real birth date: the count and which households, nothing written or audited', async () => {
    const ids = await insertHouseholds(db.store, [
      { id: 'GAP-1', pcode: 'XD01001', attributes: { name: 'Chebet' } },
      { id: 'GAP-2', pcode: 'XD01001', attributes: { name: 'Achieng Odhiambo', dob: '2025-02-30' } },
      { id: 'GAP-3', pcode: 'XD01001', attributes: { name: 'Kiptoo Rono', dob: '1984-02-29' } },
    ]);
    const gaps = await createList(db.store, ['GAP-1', 'GAP-2', 'GAP-3'].map((id) => ({ householdId: ids.get(id)!, registryId: id, pcode: 'XD01001', amount: 500 })), { cycle: '2027-01' });
    const before = await auditCount();
    const error = await attempt(gaps.listId);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`payment list ${gaps.listId} cannot be written for openIMIS: nothing was written`);
    expect(error.details).toEqual([
      "2 household(s) lack the head's first name, last name or birth date; openIMIS refuses the whole upload for one such row. Complete them in the registry (head_first_name, head_last_name, head_birth_date).",
      'household GAP-1: no last name, birth date (YYYY-MM-DD)',
      'household GAP-2: no birth date (YYYY-MM-DD)',
    ]);
    expect(await auditCount()).toBe(before);
  });

  it('an area without an openIMIS village code, or with two', async () => {
    const ids = await insertHouseholds(db.store, [
      { id: 'AREA-1', pcode: 'XD02001', attributes: { name: 'Halima Abdi', dob: '1979-12-31' } },
      { id: 'AREA-2', pcode: 'XD02002', attributes: { name: 'Fatuma Ali', dob: '1981-06-15' } },
    ]);
    await db.store.transaction(({ raw }) => raw.query(`INSERT INTO area_codes (scheme, code, pcode) VALUES ('openimis', 'R2D1M1V1', 'XD02002'), ('openimis', 'R2D1M1V9', 'XD02002')`));
    const areas = await createList(db.store, ['AREA-1', 'AREA-2'].map((id, i) => ({ householdId: ids.get(id)!, registryId: id, pcode: i ? 'XD02002' : 'XD02001', amount: 700 })), { cycle: '2027-02' });
    const error = await attempt(areas.listId);
    expect(error.details).toEqual([
      'area XD02001 (1 household(s)) has no openIMIS location code: add its village code to the area code table (scheme openimis, asp areas codes FILE)',
      'area XD02002 (1 household(s)) has 2 openIMIS location codes: keep the one village code it stands for (scheme openimis)',
    ]);
  });
});
