import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedRoutes } from '../../src/api/app.ts';
import { createApiKey } from '../../src/api/keys.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { reconcileList } from '../../src/lists/reconcile.ts';
import { releaseList } from '../../src/lists/release.ts';
import { createList, releaseIds, type FixtureList } from '../exports/list-fixture.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { insertHouseholds } from '../support/households.ts';
import { serveApi } from '../support/http.ts';

/**
 * A partner key sees only what a partner may: on every route it can reach, no staff identities
 * (who generated, approved, cancelled), no exclusion or cut details, no other partner's reports,
 * no household field outside its release. A reconciliation after the release expired is a 409.
 */

let t: TestDatabase;
let api: { base: string; close(): Promise<void> } | undefined;
let list: FixtureList;
let expiredList: FixtureList;
let partnerKey: string;
let coordinatorKey: string;
const nextYear = `${new Date().getUTCFullYear() + 1}-12-31`;

/** Values that only staff may see: if any appears in what a partner gets, it leaked. */
const STAFF_ONLY = ['maker@ministry', 'checker@ministry', 'second@ministry', 'already_enrolled_in_OPG', 'budget cut in XD01001', 'reported by p2: account closed'];
/** Household fields outside p1's release (it gets pseudonymous id, amount, currency). */
const OUTSIDE_RELEASE = ['Amina Secret', '+254700000999', 'ACC-SECRET', 'REG-'];

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  const ids = await insertHouseholds(
    t.store,
    [1, 2, 3].map((i) => ({
      id: `REG-${i}`, pcode: 'XD01001', size: 2, channel: 'mobile_money', account: 'ACC-SECRET',
      attributes: { name: 'Amina Secret', phone: '+254700000999' },
    })),
  );
  const entries = [1, 2, 3].map((i) => ({ householdId: ids.get(`REG-${i}`)!, registryId: `REG-${i}`, pcode: 'XD01001', amount: 100 * i }));
  list = await createList(t.store, entries, { approve: false });
  expiredList = await createList(t.store, entries, { approve: false, cycle: '2026-12' });
  // As generation and two approvals leave a list (the database refuses these edits once approved).
  await t.store.transaction(async ({ raw }) => {
    await raw.query(
      `UPDATE payment_lists SET generated_by = 'maker@ministry', excluded = '{"already_enrolled_in_OPG": 4}'::jsonb,
              cuts = '[{"pcode": "XD01001", "step": "budget", "households": 2, "amount": 200, "reason": "budget cut in XD01001"}]'::jsonb`,
    );
    await raw.query(
      `UPDATE payment_lists SET status = 'approved', approved_by = 'checker@ministry', second_approved_by = 'second@ministry',
              approved_at = now(), second_approved_at = now(), content_sha256 = payment_list_content_hash(id), second_approved_sha256 = payment_list_content_hash(id)`,
    );
  });
  const approved = await t.store.transaction(({ raw }) => raw.query<{ hash: string }>(`SELECT content_sha256 AS hash FROM payment_lists WHERE id = $1`, [list.listId]));
  list.contentSha256 = approved.rows[0].hash;
  for (const id of ['p1', 'p2']) {
    await addPartner(t.store, { id, name: `Partner ${id}`, role: 'payment_provider', fields: ['pseudonymous_id', 'amount', 'currency'] }, 'admin@test');
    await releaseList(t.store, list.listId, { partnerId: id, purpose: 'test payment', expiresOn: nextYear }, 'checker@ministry');
  }
  await releaseList(t.store, expiredList.listId, { partnerId: 'p1', purpose: 'old payment', expiresOn: nextYear }, 'checker@ministry');
  await t.store.transaction(({ raw }) => raw.query(`UPDATE list_releases SET expires_on = current_date - 1 WHERE list_id = $1`, [expiredList.listId]));
  // The other partner reports a failure for the first household.
  const p2Ids = await releaseIds(t.store, list.listId, 'p2');
  const report = `id,status,amount,reason\n${p2Ids.get('REG-1')},failed,100,reported by p2: account closed\n`;
  await reconcileList(t.store, list.listId, await tempFile('p2.csv', report), 'p2 clerk', { partnerId: 'p2' });

  partnerKey = (await createApiKey(t.store, { role: 'partner', partnerId: 'p1', label: 'p1 key' }, 'admin@test')).key;
  coordinatorKey = (await createApiKey(t.store, { role: 'coordinator', partnerId: null, label: 'coordinator key' }, 'admin@test')).key;
  api = await serveApi(t.store);
}, 120_000);

afterAll(async () => {
  await api?.close();
  await t?.drop();
});

const call = (method: string, path: string, key: string, body?: string) =>
  fetch(`${api!.base}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'text/csv' } : {}) },
    body,
  });

function expectNothingLeaked(text: string) {
  for (const value of [...STAFF_ONLY, ...OUTSIDE_RELEASE]) expect(text, `"${value}" reached the partner`).not.toContain(value);
}

/** Every route a partner key can reach, with a call that succeeds for p1. */
const PARTNER_CALLS: Record<string, () => Promise<Response>> = {
  'get /me': () => call('GET', '/me', partnerKey),
  'get /lists': () => call('GET', '/lists', partnerKey),
  'get /lists/:id': () => call('GET', `/lists/${list.listId}`, partnerKey),
  'get /lists/:id/export': () => call('GET', `/lists/${list.listId}/export?format=csv`, partnerKey),
  'post /lists/:id/reconcile': async () => {
    const p1Ids = await releaseIds(t.store, list.listId, 'p1');
    return call('POST', `/lists/${list.listId}/reconcile`, partnerKey, `id,status,amount\n${p1Ids.get('REG-2')},paid,200\n`);
  },
};

describe('a partner key', () => {
  it('reaches exactly the routes tested here (a new partner route must be added to this test)', () => {
    const reachable = servedRoutes().filter((r) => r.roles !== 'public' && r.roles.includes('partner')).map((r) => `${r.method} ${r.path}`);
    expect(reachable.sort()).toEqual(Object.keys(PARTNER_CALLS).sort());
  });

  for (const [route, request] of Object.entries(PARTNER_CALLS)) {
    it(`${route}: answers, with no staff identity, exclusion detail, other partner's report or field outside the release`, async () => {
      const response = await request();
      expect(response.status).toBe(200);
      expectNothingLeaked(await response.text());
    });
  }

  it('GET /lists/:id shows the list as a partner needs it, and payment totals of its own reports only', async () => {
    type ListAnswer = { list: Record<string, unknown>; totals: { failed: { households: number } } };
    const body = (await (await call('GET', `/lists/${list.listId}`, partnerKey)).json()) as ListAnswer;
    expect(Object.keys(body.list).sort()).toEqual(['contentSha256', 'currency', 'cycle', 'households', 'id', 'programme', 'ruleId', 'status', 'totalAmount']);
    expect(body.list).toMatchObject({ id: list.listId, households: 3, totalAmount: 600, contentSha256: list.contentSha256 });
    expect(body.totals.failed).toEqual({ households: 0, amount: 0, byReason: {} });
    // Staff still see everything.
    const staff = (await (await call('GET', `/lists/${list.listId}`, coordinatorKey)).json()) as ListAnswer;
    expect(staff.list).toMatchObject({ generatedBy: 'maker@ministry', approvedBy: 'checker@ministry', excluded: { already_enrolled_in_OPG: 4 } });
    expect(staff.totals.failed.households).toBe(1);
  });

  it('downloads its fields only: the list identity, pseudonymous ids, amounts and currency', async () => {
    const text = await (await call('GET', `/lists/${list.listId}/export?format=csv`, partnerKey)).text();
    const [header] = parse(text) as string[][];
    expect(header).toEqual(['list_id', 'content_sha256', 'pseudonymous_id', 'amount', 'currency']);
  });

  it('cannot reconcile a list whose release to it has expired: 409, and nothing is recorded', async () => {
    const p1Ids = await releaseIds(t.store, expiredList.listId, 'p1');
    const response = await call('POST', `/lists/${expiredList.listId}/reconcile`, partnerKey, `id,status,amount\n${p1Ids.get('REG-1')},paid,100\n`);
    expect(response.status).toBe(409);
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toMatch(new RegExp(`^the release of list ${expiredList.listId} to p1 expired on \\d{4}-\\d{2}-\\d{2}: it can no longer be reconciled$`));
    const { rows } = await t.store.transaction(({ raw }) => raw.query(`SELECT 1 FROM payment_statuses WHERE list_id = $1`, [expiredList.listId]));
    expect(rows).toHaveLength(0);
  });
});
