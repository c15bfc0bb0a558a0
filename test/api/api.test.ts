import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, servedRoutes } from '../../src/api/app.ts';
import { createApiKey, ROLES, type Role } from '../../src/api/keys.ts';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { generateLists } from '../../src/engine/targeting/generate-lists.ts';
import { approveList, getList } from '../../src/lists/lifecycle.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { releaseList } from '../../src/lists/release.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds } from '../support/households.ts';
import { approveRuleText, publishMonth, vciTopUpRule } from '../support/rules.ts';

/**
 * The HTTP API over a real server: every route with every role (allowed, 403, or filtered for a
 * partner), the error shapes, and the OpenAPI document checked against the 3.1 schema.
 */

let t: TestDatabase;
let server: Server;
let base: string;
const keys = {} as Record<Role, string>;
let releasedList: number;
let otherList: number;

const RULE = (id: string, programme: string) => vciTopUpRule(id, { title: 'API test rule', programme, envelope: 100000 });

async function makeList(ruleId: string, programme: string): Promise<number> {
  await approveRuleText(t.store, RULE(ruleId, programme));
  await evaluateActivations(t.store, { ruleId, asOf: '2026-11-10T00:00:00Z' });
  const [activation] = await listActivations(t.store, { ruleId, status: 'open' });
  const [list] = await generateLists(t.store, activation.id, 'maker@test', { cycle: '2026-11' });
  await approveList(t.store, list.id, 'checker@test', list);
  return list.id;
}

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, [
    { id: 'H1', pcode: 'XD01001', size: 3, pmt: 10, location: [38.2, 3.5] },
    { id: 'H2', pcode: 'XD01001', size: 2, pmt: 20, location: [38.3, 3.5] },
  ]);
  await publishMonth(t.store, '2026-10', { XD01001: 12 });
  for (const id of ['p1', 'p2']) {
    await addPartner(t.store, { id, name: `Partner ${id}`, role: 'payment_provider', fields: ['pseudonymous_id', 'amount', 'currency'], pseudonymise: true }, 'admin@test');
  }
  releasedList = await makeList('api-released', 'CT');
  otherList = await makeList('api-other', 'OPG');
  await releaseList(t.store, releasedList, { partnerId: 'p1', purpose: 'test payment', expiresOn: '2099-12-31' }, 'checker@test');
  for (const role of ROLES) keys[role] = (await createApiKey(t.store, { role, partnerId: role === 'partner' ? 'p1' : null, label: `test ${role}` }, 'admin@test')).key;
  server = createApp(t.store).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.drop();
});

const call = (method: string, path: string, key?: string, body?: unknown, type = 'application/json') =>
  fetch(`${base}${path}`, {
    method: method.toUpperCase(),
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('roles', () => {
  it('every route with every role: 401 without a key, 403 for a role not allowed, otherwise served', async () => {
    const routes = servedRoutes();
    expect(routes.length).toBeGreaterThan(30);
    const mismatches: string[] = [];
    for (const spec of routes) {
      // A real list id where one fits, so that allowed calls reach the handler.
      const path = `/api${spec.path.replace(':id', String(spec.path.startsWith('/lists') ? releasedList : 999999)).replace(':ruleId', 'no-such-rule')}`;
      const body = spec.textBody ? 'x' : spec.method === 'post' ? {} : undefined;
      const type = spec.textBody ?? 'application/json';
      for (const role of [null, ...ROLES] as const) {
        const response = await call(spec.method, path, role ? keys[role] : undefined, body, type);
        const allowed = spec.roles === 'public' || (role !== null && (role === 'admin' || spec.roles.includes(role)));
        const expected = spec.roles === 'public' ? 'served' : role === null ? 401 : allowed ? 'served' : 403;
        const ok = expected === 'served' ? ![401, 403, 500].includes(response.status) : response.status === expected;
        if (!ok) mismatches.push(`${spec.method.toUpperCase()} ${path} as ${role ?? 'no key'}: ${response.status}, expected ${expected}`);
        await response.arrayBuffer();
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('a partner key sees only what was released to its partner', async () => {
    const lists = (await (await call('get', '/api/lists', keys.partner)).json()) as { lists: { id: number; generatedBy?: string }[] };
    expect(lists.lists.map((l) => l.id)).toEqual([releasedList]);
    expect(lists.lists[0].generatedBy).toBeUndefined();
    expect((await call('get', `/api/lists/${otherList}`, keys.partner)).status).toBe(404);
    expect((await call('get', `/api/lists/${otherList}/export?format=csv`, keys.partner)).status).toBe(404);
    const csv = await (await call('get', `/api/lists/${releasedList}/export?format=csv`, keys.partner)).text();
    const header = csv.split('\n').find((line) => line.includes('amount'))!;
    // The partner's whitelist, plus the list's own identity (its id and content hash) on every row.
    expect(header.split(',').sort()).toEqual(['amount', 'content_sha256', 'currency', 'list_id', 'pseudonymous_id'].sort());
    // No field is a registry id (a random pseudonymous id may happen to contain "H2").
    const cells = csv.trim().split(/[,\n]/);
    expect(cells).not.toContain('H1');
    expect(cells).not.toContain('H2');
    expect((await call('get', '/api/activations', keys.partner)).status).toBe(403);
    const staff = (await (await call('get', '/api/lists', keys.coordinator)).json()) as { lists: { id: number }[] };
    expect(staff.lists.map((l) => l.id).sort()).toEqual([releasedList, otherList].sort());
  });

  it('every write records its actor: the key label in the audit log', async () => {
    const response = await call('post', `/api/lists/${otherList}/cancel`, keys.approver, { reason: 'duplicate of another list' });
    expect(response.status).toBe(200);
    const audit = (await (await call('get', `/api/audit?subject=list:${otherList}`, keys.admin)).json()) as { audit: { actor: string; action: string }[] };
    expect(audit.audit[0]).toMatchObject({ action: 'list.cancelled', actor: expect.stringMatching(/^test approver \[key [a-z0-9]+\]$/) });
  });
});

describe('errors', () => {
  it('400 lists every field path and message; 401, 403, 404 and 409 have the same shape', async () => {
    const bad = await call('post', '/api/lists/abc/release', keys.approver, { partnerId: '', expiresOn: '31/12/2026' });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; details: { path: string; message: string }[] } };
    expect(body.error.code).toBe('bad_request');
    expect(body.error.details.map((d) => d.path).sort()).toEqual(['body.expiresOn', 'body.partnerId', 'body.purpose', 'params.id'].sort());
    expect(await (await call('get', '/api/lists')).json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect((await call('get', '/api/lists', 'asp_deadbeef00_wrongwrongwrongwrong')).status).toBe(401);
    expect(((await (await call('post', `/api/lists/${releasedList}/approve`, keys.coordinator)).json()) as { error: { code: string } }).error.code).toBe('forbidden');
    expect(((await (await call('get', '/api/activations/424242', keys.coordinator)).json()) as { error: { code: string } }).error.code).toBe('not_found');
    const again = await call('post', `/api/lists/${releasedList}/approve`, keys.approver, { sha256: (await getList(t.store, releasedList)).contentSha256 });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('conflict');
    expect((await call('get', '/api/no-such-thing', keys.admin)).status).toBe(404);
  });

  it('security headers are set and a body over the limit is refused', async () => {
    const response = await call('get', '/api/health');
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const huge = await call('post', '/api/lists', keys.coordinator, { activationId: 1, padding: 'x'.repeat(2_000_000) });
    expect(huge.status).toBe(413);
  });
});

describe('OpenAPI', () => {
  it('/api/openapi.json is valid OpenAPI 3.1 and documents every route the app serves', async () => {
    const document = (await (await call('get', '/api/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`)).sort();
    const served = servedRoutes().map((r) => `${r.method} /api${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`).sort();
    expect(documented).toEqual(served);
    const docs = await (await call('get', '/api/docs')).text();
    for (const r of servedRoutes()) expect(docs).toContain(`/api${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`);
  });
});

describe('keys', () => {
  it('a key revoked by another process stops working at the next request, even right after it was verified', async () => {
    const { key, caller } = await createApiKey(t.store, { role: 'partner', partnerId: 'p1', label: 'revoked elsewhere' }, 'admin@test');
    expect((await call('get', `/api/lists/${releasedList}/export?format=csv`, key)).status).toBe(200); // verified, remembered
    // Another process (a second server, or asp keys revoke) writes the revocation; this process's memory is not told.
    await t.store.transaction(({ raw }) => raw.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [caller.keyId]));
    const refused = await call('get', `/api/lists/${releasedList}/export?format=csv`, key);
    expect(refused.status).toBe(401);
  });

  it('a key can carry an expiry; past it the key is refused, and a past expiry is refused at creation', async () => {
    const { key, caller } = await createApiKey(t.store, { role: 'coordinator', label: 'for the week', expiresAt: new Date(Date.now() + 3_600_000) }, 'admin@test');
    expect((await call('get', '/api/lists', key)).status).toBe(200);
    await t.store.transaction(({ raw }) => raw.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [caller.keyId]));
    expect((await call('get', '/api/lists', key)).status).toBe(401);
    await expect(createApiKey(t.store, { role: 'coordinator', expiresAt: new Date(Date.now() - 1000) }, 'admin@test')).rejects.toThrow(/give a time in the future/);
  });
});
