import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutServerPaths } from '../../src/api/app.ts';
import { createApiKey } from '../../src/api/keys.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { releaseList } from '../../src/lists/release.ts';
import { createList } from '../exports/list-fixture.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds } from '../support/households.ts';
import { serveApi } from '../support/http.ts';

/**
 * What the API says about an uploaded file (a rule, a reconciliation CSV) names the file as sent,
 * never the server's temporary folder, data folder or working folder.
 */

let t: TestDatabase;
let api: { base: string; close(): Promise<void> } | undefined;
let listId: number;
let key: string;
const SERVER_FOLDERS = [os.tmpdir(), process.cwd(), os.homedir()];

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  const ids = await insertHouseholds(t.store, [{ id: 'H1', pcode: 'XD01001', size: 2 }]);
  listId = (await createList(t.store, [{ householdId: ids.get('H1')!, registryId: 'H1', pcode: 'XD01001', amount: 100 }])).listId;
  await addPartner(t.store, { id: 'p1', name: 'P1', role: 'payment_provider', fields: ['registry_id', 'amount'], pseudonymise: false }, 'admin@test');
  await releaseList(t.store, listId, { partnerId: 'p1', purpose: 'test', expiresOn: '2099-12-31' }, 'checker@test');
  key = (await createApiKey(t.store, { role: 'admin', label: 'admin key' }, 'admin@test')).key;
  api = await serveApi(t.store);
}, 120_000);

afterAll(async () => {
  await api?.close();
  await t?.drop();
});

const post = (path: string, body: string, type: string) =>
  fetch(`${api!.base}/api${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': type }, body });

function expectNoServerPath(text: string) {
  for (const folder of SERVER_FOLDERS) expect(text, `the answer names ${folder}`).not.toContain(folder);
}

describe('answers about an uploaded file', () => {
  it('a reconciliation CSV with problems: 400, named status.csv', async () => {
    const response = await post(`/lists/${listId}/reconcile`, 'id,status,amount\nH1,maybe,100\nNOPE,paid,1\n', 'text/csv');
    expect(response.status).toBe(400);
    const text = await response.text();
    expectNoServerPath(text);
    const { error } = JSON.parse(text);
    expect(error.message).toBe('status.csv: 2 problem(s) in 2 row(s); nothing was recorded');
    expect(error.details[0].message).toBe('status.csv: line 2, column status: "maybe" is not a status: use paid or failed');
  });

  it('a reconciliation CSV without a usable header: 400, named status.csv', async () => {
    const response = await post(`/lists/${listId}/reconcile`, 'who,what\nx,y\n', 'text/csv');
    expect(response.status).toBe(400);
    const text = await response.text();
    expectNoServerPath(text);
    expect(JSON.parse(text).error.message).toMatch(/^status\.csv: the header is not usable/);
  });

  it('a rule checked or dry-run: the problems are named rule.yaml', async () => {
    const checked = await post('/rules/check', 'id: [unclosed\n', 'text/yaml');
    expect(checked.status).toBe(200);
    const checkedText = await checked.text();
    expectNoServerPath(checkedText);
    expect(JSON.parse(checkedText).problems[0]).toMatch(/^rule\.yaml:\d+:\d+: /);
    const dryRun = await post('/rules/dry-run', 'id: [unclosed\n', 'text/yaml');
    expect(dryRun.status).toBe(400);
    const dryRunText = await dryRun.text();
    expectNoServerPath(dryRunText);
    expect(JSON.parse(dryRunText).error.message).toBe('rule.yaml: the rule has problems');
  });
});

describe('withoutServerPaths', () => {
  it('keeps the file name of a path under a server folder, and leaves other text alone', () => {
    expect(withoutServerPaths(`${os.tmpdir()}/asp-api-x1/status.csv: line 3`)).toBe('status.csv: line 3');
    expect(withoutServerPaths(`file://${process.cwd()}/data/feeds.yaml: bad`)).toBe('feeds.yaml: bad');
    expect(withoutServerPaths('see /api/openapi.json and http://example.org/x/y')).toBe('see /api/openapi.json and http://example.org/x/y');
    expect(withoutServerPaths(`${process.cwd()}-other/x`)).toBe(`${process.cwd()}-other/x`);
  });
});
