import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, UserError } from '../../src/errors.ts';
import { exportList, g2pReferenceId, type ExportFormat } from '../../src/exports/index.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { releaseList } from '../../src/lists/release.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds } from '../support/households.ts';
import { contract } from '../support/specs.ts';
import { collector, createList, lastAudit, releaseIds, type FixtureEntry, type FixtureList } from './list-fixture.ts';

/**
 * Every export format written from a real list and read back with csv-parse or JSON.parse: the
 * same households, amounts and content hash; partners' downloads hold their whitelisted fields and
 * release ids only; aggregates suppress small areas; what may not be exported is refused.
 */

let db: TestDatabase;
let entries: FixtureEntry[];
let list: FixtureList;
let draft: FixtureList;
let expired: FixtureList;
const nextYear = `${new Date().getUTCFullYear() + 1}-12-31`;

const AREAS = ['XD01001', 'XD01001', 'XD01001', 'XD01001', 'XD01001', 'XD01001', 'XD01001', 'XD01002', 'XD01002', 'XD01002', 'XD02001', 'XD02001'];
const registryId = (i: number) => `EXP-${String(i + 1).padStart(3, '0')}`;
/** openIMIS village codes of the areas (area code table, scheme openimis). */
const OPENIMIS_CODES: Record<string, string> = { XD01001: 'R1D1V1', XD01002: 'R1D1V2', XD02001: 'R1D2V1' };
/**
 * The head as exports must give it: the first six households have the registry's columns
 * (migration 0014), the others only what older imports kept in attributes (one name, dob).
 */
const head = (i: number) =>
  i < 6
    ? { first: 'Zawadi', last: `Otieno Wafula${i}`, dob: `1990-01-1${i}`, nationalId: `NID-${i}`, phone: `+25473300000${i}` }
    : { first: 'Amina', last: `Hassan${i}`, dob: `1980-05-0${(i % 9) + 1}`, nationalId: null, phone: `+2547220000${String(i).padStart(2, '0')}` };

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  const ids = await insertHouseholds(
    db.store,
    AREAS.map((pcode, i) => ({
      id: registryId(i),
      pcode,
      size: 1 + (i % 6),
      channel: 'mobile_money',
      account: `0711${String(i).padStart(6, '0')}`,
      attributes: { name: `Amina Hassan${i}`, phone: `+2547220000${String(i).padStart(2, '0')}`, dob: '1980-05-0' + ((i % 9) + 1) },
    })),
  );
  entries = AREAS.map((pcode, i) => ({ householdId: ids.get(registryId(i))!, registryId: registryId(i), pcode, amount: 1000 + 125.5 * i, size: 1 + (i % 6) }));
  await db.store.transaction(async ({ raw }) => {
    for (let i = 0; i < 6; i++) {
      const h = head(i);
      await raw.query(
        `UPDATE households SET head_first_name = $2, head_last_name = $3, head_birth_date = $4, national_id = $5, phone = $6 WHERE registry_id = $1`,
        [registryId(i), h.first, h.last, h.dob, h.nationalId, h.phone],
      );
    }
    for (const [pcode, code] of Object.entries(OPENIMIS_CODES)) await raw.query(`INSERT INTO area_codes (scheme, code, pcode) VALUES ('openimis', $1, $2)`, [code, pcode]);
  });
  list = await createList(db.store, entries);
  draft = await createList(db.store, entries.slice(0, 3), { approve: false, cycle: '2027-01' });
  expired = await createList(db.store, entries.slice(0, 3), { cycle: '2027-02' });

  const partner = (id: string, role: string, fields: string[], pseudonymise = true) =>
    addPartner(db.store, { id, name: id.toUpperCase(), role, fields, pseudonymise }, 'alice');
  await partner('fsp', 'payment_provider', ['pseudonymous_id', 'name', 'phone', 'amount', 'currency', 'payment_channel', 'payment_account', 'payment_window']);
  await partner('ngo', 'humanitarian_partner', ['pseudonymous_id', 'admin1_pcode', 'admin2_pcode', 'amount', 'currency']);
  await partner('bank', 'payment_provider', ['registry_id', 'amount', 'currency'], false);
  await partner('maps', 'coordination', ['pseudonymous_id', 'admin2_pcode']);
  await partner('late', 'coordination', ['admin1_pcode']);
  // A partner that runs openIMIS itself: registry ids, names, birth dates and areas.
  await partner('imis', 'humanitarian_partner', ['registry_id', 'name', 'birth_date', 'admin_pcode', 'amount', 'currency'], false);
  for (const id of ['fsp', 'ngo', 'bank', 'maps', 'imis']) {
    await releaseList(db.store, list.listId, { partnerId: id, purpose: `DSA with ${id}`, expiresOn: nextYear }, 'carol');
  }
  await releaseList(db.store, expired.listId, { partnerId: 'ngo', purpose: 'old', expiresOn: nextYear }, 'carol');
  await db.store.transaction(({ raw }) => raw.query(`UPDATE list_releases SET expires_on = current_date - 1 WHERE list_id = $1`, [expired.listId]));
});

afterAll(async () => {
  await db?.drop();
});

async function run(listId: number, format: ExportFormat, partnerId?: string) {
  const sink = collector();
  const summary = await exportList(db.store, listId, format, sink.out, { partnerId }, 'dora');
  return { text: sink.text(), summary };
}

/** What a format says per household: its id in the export and the amount. */
function readBack(format: ExportFormat, text: string): { id: string; amount: number; hash?: string }[] {
  switch (format) {
    case 'csv':
    case 'openimis': {
      const rows = parse(text, { columns: true }) as Record<string, string>[];
      return rows.map((r) => ({ id: r.id ?? r.pseudonymous_id ?? r.registry_id, amount: Number(r.amount), hash: r.content_sha256 }));
    }
    case 'hxl': {
      const [header, tags, ...rows] = parse(text) as string[][];
      const at = (tag: string) => tags.indexOf(tag);
      expect(header).toHaveLength(tags.length);
      return rows.map((r) => ({ id: r[at('#beneficiary+code')], amount: Number(r[at('#value')]), hash: r[at('#meta+code')] }));
    }
    case 'json': {
      const doc = JSON.parse(text);
      return doc.entries.map((e: Record<string, unknown>) => ({ id: e.pseudonymous_id ?? e.registry_id, amount: e.amount, hash: doc.list.content_sha256 }));
    }
    case 'g2p': {
      const doc = JSON.parse(text);
      return doc.message.disbursements.map((d: { meta: { beneficiary_id: string }; amount: string }) => ({
        id: d.meta.beneficiary_id, amount: Number(d.amount), hash: doc.header.meta.list.content_sha256,
      }));
    }
    default:
      throw new Error(format);
  }
}

const expected = (idOf: (e: FixtureEntry) => string) =>
  entries.map((e) => ({ id: idOf(e), amount: e.amount, hash: list.contentSha256 })).sort((a, b) => a.id.localeCompare(b.id));
const sorted = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => a.id.localeCompare(b.id));

describe('the programme’s own export', () => {
  for (const format of ['csv', 'hxl', 'json', 'openimis', 'g2p'] as const) {
    it(`${format} round-trips: the same households, amounts and content hash; audited as list.exported`, async () => {
      const { text, summary } = await run(list.listId, format);
      expect(summary).toMatchObject({ listId: list.listId, format, partnerId: null, rows: 12, contentSha256: list.contentSha256 });
      expect(sorted(readBack(format, text))).toEqual(expected((e) => e.registryId));
      const audited = await lastAudit(db.store);
      expect(audited).toMatchObject({ actor: 'dora', action: 'list.exported', subject: `list:${list.listId}` });
      expect(audited.details).toEqual({ format, partner: null, release: null, rows: 12, content_sha256: list.contentSha256 });
    });
  }

  it('csv has the list identity, then every field in the vocabulary order plus the internal ones', async () => {
    const { text } = await run(list.listId, 'csv');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual([
      'list_id', 'content_sha256', 'household_id', 'registry_id', 'name', 'birth_date', 'national_id', 'phone', 'admin_pcode', 'admin1_pcode', 'admin2_pcode', 'admin3_pcode',
      'pcode', 'tier', 'rank', 'size', 'amount', 'currency', 'cycle', 'first_payment', 'payments', 'payment_channel', 'payment_account', 'reason',
    ]);
    const first = rows.find((r) => r.registry_id === 'EXP-008')!;
    expect(first).toMatchObject({
      list_id: String(list.listId), household_id: String(entries[7].householdId), name: 'Amina Hassan7', birth_date: '1980-05-08', national_id: '', phone: '+254722000007',
      admin_pcode: 'XD01002', admin1_pcode: 'XD01', admin2_pcode: 'XD01002', admin3_pcode: '', pcode: 'XD01002', size: '2',
      amount: '1878.50', currency: 'KES', cycle: '2026-11', first_payment: '2026-11-07', payments: '3', payment_channel: 'mobile_money',
      payment_account: '0711000007',
    });
    // The registry's columns win over older attributes, and the name is the head's first and last name.
    expect(rows.find((r) => r.registry_id === 'EXP-002')).toMatchObject({
      name: 'Zawadi Otieno Wafula1', birth_date: '1990-01-11', national_id: 'NID-1', phone: '+254733000001',
    });
  });

  it('hxl tags the columns on the second row, and leaves those no core hashtag describes untagged', async () => {
    const [header, tags] = parse((await run(list.listId, 'hxl')).text) as string[][];
    const tagOf = Object.fromEntries(header.map((h, i) => [h, tags[i]]));
    expect(tagOf).toEqual({
      list_id: '#activity+code', content_sha256: '#meta+code', household_id: '', registry_id: '#beneficiary+code', name: '#beneficiary+name',
      birth_date: '', national_id: '', phone: '#contact+phone', admin_pcode: '#loc+code', admin1_pcode: '#adm1+code', admin2_pcode: '#adm2+code',
      admin3_pcode: '#adm3+code', pcode: '', tier: '#severity', rank: '', size: '#targeted+ind', amount: '#value', currency: '#currency+code',
      cycle: '#date', first_payment: '#date+start', payments: '#output+num', payment_channel: '#modality', payment_account: '', reason: '#description',
    });
  });

  it('json carries the list header: id, rule, hash, status, totals, currency', async () => {
    const doc = JSON.parse((await run(list.listId, 'json')).text);
    expect(doc.list).toMatchObject({
      id: list.listId, rule: { id: 'test-rule' }, status: 'released', content_sha256: list.contentSha256, households: 12,
      total_amount: entries.reduce((s, e) => s + e.amount, 0), currency: 'KES', cycle: '2026-11', shocks: ['indicator:vci3m:2026-10-01'],
    });
    expect(doc.list.rule.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.release).toBeNull();
  });

  it('openimis has the beneficiary-upload columns, the head from the registry and the village code from the area code table', async () => {
    const rows = parse((await run(list.listId, 'openimis')).text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual([
      'first_name', 'last_name', 'dob', 'id', 'group_code', 'recipient_info', 'individual_role', 'location_name', 'location_code',
      'national_id', 'household_size', 'phone', 'amount', 'currency', 'payment_channel', 'payment_account', 'first_payment', 'payments',
      'scaleup_batch_id', 'shock_event_id', 'content_sha256',
    ]);
    expect(rows.find((r) => r.id === 'EXP-001')).toMatchObject({
      first_name: 'Zawadi', last_name: 'Otieno Wafula0', dob: '1990-01-10', location_code: 'R1D1V1', group_code: 'EXP-001', recipient_info: '1',
      individual_role: 'HEAD', national_id: 'NID-0', amount: '1000.00', scaleup_batch_id: `asp-list-${list.listId}`, shock_event_id: 'indicator:vci3m:2026-10-01',
    });
    // Older registry rows: the one name split at its first space, the dob attribute.
    expect(rows.find((r) => r.id === 'EXP-012')).toMatchObject({ first_name: 'Amina', last_name: 'Hassan11', dob: '1980-05-03', location_code: 'R1D2V1', national_id: '' });
    for (const [i, r] of rows.entries()) expect([r.first_name, r.last_name, r.dob, r.location_name], `row ${i}`).not.toContain('');
  });

  it('openimis-schema declares exactly the columns openIMIS does not require itself', async () => {
    const schema = JSON.parse((await run(list.listId, 'openimis-schema')).text);
    const [header] = parse((await run(list.listId, 'openimis')).text) as string[][];
    expect(schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
    expect(Object.keys(schema.properties).sort()).toEqual(header.filter((h) => !['first_name', 'last_name', 'dob', 'id'].includes(h)).sort());
  });

  it('g2p is a disburse request whose reference ids are stable idempotency keys', async () => {
    const first = JSON.parse((await run(list.listId, 'g2p')).text);
    const again = JSON.parse((await run(list.listId, 'g2p')).text);
    expect(first.header).toMatchObject({ version: '1.0.0', action: 'disburse', total_count: 12, is_msg_encrypted: false });
    const refs = first.message.disbursements.map((d: { reference_id: string }) => d.reference_id);
    expect(new Set(refs).size).toBe(12);
    expect(again.message.disbursements.map((d: { reference_id: string }) => d.reference_id)).toEqual(refs);
    expect(again.message.transaction_id).toBe(first.message.transaction_id);
    expect(again.header.message_id).not.toBe(first.header.message_id);
    const one = first.message.disbursements.find((d: { meta: { beneficiary_id: string } }) => d.meta.beneficiary_id === 'EXP-002');
    expect(one).toMatchObject({
      reference_id: g2pReferenceId(list.listId, list.contentSha256!, 'EXP-002'), amount: '1125.50', currency_code: 'KES',
      payee_fa: 'mobile:0711000001@mobile-money', scheduled_timestamp: '2026-11-07T00:00:00Z', payee_name: 'Zawadi Otieno Wafula1',
    });
    for (const d of first.message.disbursements) expect(d.amount).toMatch(/^\d{1,13}\.\d{1,2}$/);
  });
});

describe('the g2p file against the G2P Connect contract', () => {
  for (const partnerId of [undefined, 'fsp', 'ngo', 'bank']) {
    it(`${partnerId ? `for ${partnerId}` : 'of the programme'}: a /disburse request body, unsigned, with string amounts`, async () => {
      const body = JSON.parse((await run(list.listId, 'g2p', partnerId)).text);
      // The file is unsigned: the sender signs it when it sends it (the spec's signature is optional in the body).
      expect(body).not.toHaveProperty('signature');
      expect(contract('disburse').request('/disburse', body)).toEqual([]);
      expect(body.message.disbursements).toHaveLength(12);
      for (const d of body.message.disbursements) {
        expect(typeof d.amount).toBe('string');
        expect(d.amount).toMatch(/^\d{1,13}\.\d{1,2}$/);
      }
      const sum = body.message.disbursements.reduce((s: number, d: { amount: string }) => s + Math.round(Number(d.amount) * 100), 0);
      expect(sum).toBe(Math.round(entries.reduce((s, e) => s + e.amount, 0) * 100));
    });
  }

  it('a pseudonymised partner’s file has no payee_name, though its whitelist says name', async () => {
    const body = JSON.parse((await run(list.listId, 'g2p', 'fsp')).text);
    for (const d of body.message.disbursements) expect(d).not.toHaveProperty('payee_name');
  });
});

describe('geojson', () => {
  it('sums households and amounts per area of the list and suppresses areas under 5 households', async () => {
    const { text, summary } = await run(list.listId, 'geojson');
    expect(summary.rows).toBe(3);
    const doc = JSON.parse(text);
    expect(doc.type).toBe('FeatureCollection');
    expect(doc.list).toMatchObject({ id: list.listId, content_sha256: list.contentSha256, currency: 'KES' });
    // No totals beside the areas: a single suppressed area would follow by subtraction.
    expect(doc.list.households).toBeUndefined();
    expect(doc.list.total_amount).toBeUndefined();
    const byPcode = Object.fromEntries(doc.features.map((f: { id: string; properties: unknown }) => [f.id, f.properties]));
    const sum = (pcode: string) => entries.filter((e) => e.pcode === pcode).reduce((s, e) => s + e.amount, 0);
    expect(byPcode.XD01001).toMatchObject({ households: 7, amount: sum('XD01001'), currency: 'KES', suppressed: false });
    expect(byPcode.XD01002).toMatchObject({ households: null, amount: null, suppressed: true });
    expect(byPcode.XD02001).toMatchObject({ households: null, amount: null, suppressed: true });
    for (const f of doc.features) expect(['Polygon', 'MultiPolygon']).toContain(f.geometry.type);
    expect((await lastAudit(db.store)).details).toMatchObject({ format: 'geojson', rows: 3 });
  });

  it('suppresses more when the rule sets a higher threshold, never less than 5', async () => {
    const strict = await createList(db.store, entries, { suppressBelow: 8, cycle: '2027-03' });
    const lax = await createList(db.store, entries, { suppressBelow: 2, cycle: '2027-04' });
    const props = async (l: FixtureList) =>
      Object.fromEntries(JSON.parse((await run(l.listId, 'geojson')).text).features.map((f: { id: string; properties: unknown }) => [f.id, f.properties]));
    expect((await props(strict)).XD01001).toMatchObject({ households: null, suppressed: true });
    expect((await props(lax)).XD01002).toMatchObject({ households: null, suppressed: true });
  });

  it('is downloadable by a partner the list was released to', async () => {
    const doc = JSON.parse((await run(list.listId, 'geojson', 'maps')).text);
    expect(doc.features).toHaveLength(3);
    expect(doc.release).toMatchObject({ partner: 'maps', purpose: 'DSA with maps' });
    expect((await lastAudit(db.store)).action).toBe('list.downloaded');
  });
});

describe('a partner’s download', () => {
  const NGO_COLUMNS = ['pseudonymous_id', 'admin1_pcode', 'admin2_pcode', 'amount', 'currency'];

  for (const format of ['csv', 'hxl', 'json', 'g2p'] as const) {
    it(`${format}: the release's pseudonymous ids, different per partner, nothing outside the whitelist; audited as list.downloaded`, async () => {
      const ngoIds = await releaseIds(db.store, list.listId, 'ngo');
      const fspIds = await releaseIds(db.store, list.listId, 'fsp');
      const { text, summary } = await run(list.listId, format, 'ngo');
      expect(summary).toMatchObject({ partnerId: 'ngo', rows: 12 });
      expect(sorted(readBack(format, text))).toEqual(expected((e) => ngoIds.get(e.registryId)!));
      const fsp = readBack(format, (await run(list.listId, format, 'fsp')).text);
      expect(sorted(fsp)).toEqual(expected((e) => fspIds.get(e.registryId)!));
      expect(fsp.filter((r) => ngoIds.has(r.id) || [...ngoIds.values()].includes(r.id))).toEqual([]);

      // Nothing identifying the ngo was not given: no registry id, name, phone, account or household id.
      for (const e of entries) expect(text).not.toContain(e.registryId);
      expect(text).not.toMatch(/Amina|Zawadi|\+2547|mobile_money|household_id|registry_id/);
      for (let i = 0; i < entries.length; i++) expect(text).not.toContain(`0711${String(i).padStart(6, '0')}`);

      const audited = await lastAudit(db.store);
      expect(audited).toMatchObject({ action: 'list.downloaded', subject: `list:${list.listId}`, actor: 'dora' });
      expect(audited.details).toMatchObject({ format, partner: 'fsp', rows: 12 });
    });
  }

  it('csv and hxl have exactly the list identity and the whitelisted columns', async () => {
    const [csvHeader] = parse((await run(list.listId, 'csv', 'ngo')).text) as string[][];
    expect(csvHeader).toEqual(['list_id', 'content_sha256', ...NGO_COLUMNS]);
    const [hxlHeader, tags] = parse((await run(list.listId, 'hxl', 'ngo')).text) as string[][];
    expect(hxlHeader).toEqual(csvHeader);
    expect(tags).toEqual(['#activity+code', '#meta+code', '#beneficiary+code', '#adm1+code', '#adm2+code', '#value', '#currency+code']);
  });

  it('json entries have only the whitelisted keys, and the release says what they are for', async () => {
    const doc = JSON.parse((await run(list.listId, 'json', 'ngo')).text);
    for (const entry of doc.entries) expect(Object.keys(entry)).toEqual(NGO_COLUMNS);
    expect(doc.release).toMatchObject({ partner: 'ngo', purpose: 'DSA with ngo', expires_on: nextYear, pseudonymised: true, fields: NGO_COLUMNS });
  });

  it('a pseudonymised partner never receives names, birth dates or national ids, even when its whitelist names them', async () => {
    // fsp's whitelist says name; its release is pseudonymised.
    const [header] = parse((await run(list.listId, 'csv', 'fsp')).text) as string[][];
    expect(header).not.toContain('name');
    const json = JSON.parse((await run(list.listId, 'json', 'fsp')).text);
    expect(json.release).toMatchObject({ pseudonymised: true, withheld: ['name'] });
    expect(json.release.fields).not.toContain('name');
    const g2p = (await run(list.listId, 'g2p', 'fsp')).text;
    expect(g2p).not.toMatch(/payee_name|Amina|Zawadi|Otieno|Hassan/);
  });

  it('openimis is refused to a pseudonymised partner (openIMIS needs names), before anything is written or audited', async () => {
    for (const partnerId of ['ngo', 'fsp']) {
      const sink = collector();
      const error = await exportList(db.store, list.listId, 'openimis', sink.out, { partnerId }, 'dora').catch((e) => e);
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(new RegExp(`^the openimis format needs (name, )?birth_date, admin_pcode .*${partnerId} gets pseudonymous ids, and a pseudonymised partner never receives names or birth dates; use csv or json$`));
      expect(sink.text()).toBe('');
    }
  });

  it('openimis for a partner given registry ids, names, birth dates and areas', async () => {
    const rows = parse((await run(list.listId, 'openimis', 'imis')).text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual([
      'first_name', 'last_name', 'dob', 'id', 'group_code', 'recipient_info', 'individual_role', 'location_name', 'location_code',
      'amount', 'currency', 'scaleup_batch_id', 'shock_event_id', 'content_sha256',
    ]);
    expect(rows.find((r) => r.id === 'EXP-008')).toMatchObject({ first_name: 'Amina', last_name: 'Hassan7', dob: '1980-05-08', location_code: 'R1D1V2' });
  });

  it('g2p for a partner without accounts addresses payees by token of their pseudonymous id', async () => {
    const ngoIds = await releaseIds(db.store, list.listId, 'ngo');
    const doc = JSON.parse((await run(list.listId, 'g2p', 'ngo')).text);
    const d = doc.message.disbursements.find((x: { meta: { beneficiary_id: string } }) => x.meta.beneficiary_id === ngoIds.get('EXP-001'));
    expect(d.payee_fa).toBe(`token:${ngoIds.get('EXP-001')}@ngo`);
    expect(d.reference_id).toBe(g2pReferenceId(list.listId, list.contentSha256!, ngoIds.get('EXP-001')!));
    expect(d).not.toHaveProperty('payee_name');
    expect(d).not.toHaveProperty('scheduled_timestamp');
    expect(doc.header.receiver_id).toBe('ngo');
  });

  it('a partner given registry ids (not pseudonymised) gets them, and reconciliation can read them back', async () => {
    const rows = parse((await run(list.listId, 'csv', 'bank')).text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual(['list_id', 'content_sha256', 'registry_id', 'amount', 'currency']);
    expect(rows.map((r) => r.registry_id).sort()).toEqual(entries.map((e) => e.registryId).sort());
  });
});

it('an empty list exports as valid, empty documents in every format', async () => {
  const empty = await createList(db.store, [], { cycle: '2027-06' });
  for (const format of ['csv', 'hxl', 'openimis'] as const) {
    const rows = parse((await run(empty.listId, format)).text) as string[][];
    expect(rows).toHaveLength(format === 'hxl' ? 2 : 1);
  }
  expect(JSON.parse((await run(empty.listId, 'json')).text).entries).toEqual([]);
  expect(JSON.parse((await run(empty.listId, 'geojson')).text).features).toEqual([]);
  expect(JSON.parse((await run(empty.listId, 'g2p')).text).message.disbursements).toEqual([]);
});

describe('refusals', () => {
  const auditCount = () => db.store.transaction(async ({ raw }) => (await raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`)).rows[0].n);

  it('refuses a draft, an unreleased partner, an expired release, an unknown partner or list — before writing or auditing anything', async () => {
    const before = await auditCount();
    const attempt = async (listId: number, format: ExportFormat, partnerId?: string) => {
      const sink = collector();
      const error = await exportList(db.store, listId, format, sink.out, { partnerId }, 'dora').catch((e) => e);
      expect(sink.text()).toBe('');
      return error;
    };
    const isDraft = await attempt(draft.listId, 'csv');
    expect(isDraft).toBeInstanceOf(UserError);
    expect(isDraft.message).toBe(`payment list ${draft.listId} is draft: only approved, released or closed lists can be exported (approve it first)`);
    expect((await attempt(list.listId, 'csv', 'late')).message).toBe(
      `payment list ${list.listId} has not been released to late: release it first (asp lists release ${list.listId} --partner late …)`,
    );
    expect((await attempt(expired.listId, 'json', 'ngo')).message).toMatch(/^the release of payment list \d+ to ngo expired on \d{4}-\d{2}-\d{2}: it can no longer be downloaded$/);
    expect(await attempt(list.listId, 'csv', 'nobody')).toBeInstanceOf(NotFoundError);
    expect(await attempt(999_999, 'csv')).toBeInstanceOf(NotFoundError);
    expect((await attempt(list.listId, 'g2p', 'maps')).message).toBe('the g2p format needs amount among the fields released to maps; use csv or json');
    expect((await attempt(list.listId, 'xlsx' as ExportFormat)).message).toMatch(/--format xlsx: choose one of csv, hxl, json, geojson, openimis, openimis-schema, g2p/);
    expect(await auditCount()).toBe(before);
  });

  it('still exports the expired list for the programme itself', async () => {
    const { summary } = await run(expired.listId, 'csv');
    expect(summary.rows).toBe(3);
  });
});
