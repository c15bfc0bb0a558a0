import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, servedRoutes } from '../../src/api/app.ts';
import { createApiKey } from '../../src/api/keys.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { listenLocally } from '../support/http.ts';
import { yamlAliasBomb } from '../support/hostile-yaml.ts';

// Issue 11, item 6: every route that takes a body answers 400 (or the 4xx of the state it finds),
// never 500, to a body a careless or hostile client sends.

let t: TestDatabase;
let server: Server;
let base: string;
let admin: string;

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  admin = (await createApiKey(t.store, { role: 'admin', partnerId: null, label: 'test admin' }, 'admin@test')).key;
  ({ server, base } = await listenLocally(createApp(t.store)));
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.drop();
});

const send = (method: string, path: string, body: string | Buffer | undefined, type: string) =>
  fetch(`${base}${path}`, { method: method.toUpperCase(), headers: { authorization: `Bearer ${admin}`, 'content-type': type }, body });

/** Every string of a sample body with a NUL inside, and every number made huge. */
const sampleJson = {
  reason: 'r', activationId: 1, cycle: '2026-11', name: 'n', source: 's', registryIds: ['H1'], partnerId: 'p1', purpose: 'p',
  expiresOn: '2099-12-31', id: 'x', kind: 'state_of_calamity', hazard: 'flood', issuer: 'i', date: '2026-11-01', role: 'payment_provider',
  fields: ['amount'], rule: 'r', from: '2026-01-01', to: '2026-02-01', areas: { pcodes: ['XD01001'] }, document: { reference: 'd' },
};
const withEveryString = (value: unknown, text: (s: string) => string): unknown =>
  typeof value === 'string' ? text(value)
    : Array.isArray(value) ? value.map((v) => withEveryString(v, text))
      : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withEveryString(v, text)])) : value;

const JSON_BODIES: [string, string][] = [
  ['malformed JSON', '{"reason": "unfinished'],
  ['NUL in every string', JSON.stringify(withEveryString(sampleJson, (s) => `${s}\u0000x`))],
  ['a lone surrogate in every string', JSON.stringify(withEveryString(sampleJson, (s) => `${s}\ud800`))],
  ['nesting 10,000 deep', `{"reason":"r","x":${'['.repeat(10000)}${']'.repeat(10000)}}`],
  ['huge numbers', JSON.stringify({ ...sampleJson, activationId: 1e300 }).replace('1e+300', '1e999')],
  ['numbers past bigint', JSON.stringify({ ...sampleJson, activationId: 1e20 })],
  ['a JSON string, not an object', '"just a string"'],
  ['null', 'null'],
];
const TEXT_BODIES: [string, string][] = [
  ['a YAML alias bomb', `id: bomb\n${yamlAliasBomb()}\n`],
  ['a NUL in the text', 'id: x\u0000y\ntitle: t\n'],
  ['YAML nested 5,000 deep', `id: deep\nareas: ${'['.repeat(5000)}${']'.repeat(5000)}\n`],
  ['CSV with a NUL', 'registry_id,status\nH\u00001,paid\n'],
];

const bodyRoutes = () => servedRoutes().filter((spec) => spec.body);
const pathOf = (path: string, id = '1') => `/api${path.replace(':id', id).replace(':ruleId', 'no-such-rule')}`;

describe('bad bodies on every route that takes one', () => {
  it('answer 4xx with a message, never 500', async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const spec of bodyRoutes()) {
      const bodies = spec.textBody ? TEXT_BODIES.map(([n, b]) => [n, b, spec.textBody!]) : JSON_BODIES.map(([n, b]) => [n, b, 'application/json']);
      for (const [name, body, type] of bodies) {
        const response = await send(spec.method, pathOf(spec.path), body, type);
        calls++;
        const answer = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        if (response.status >= 500 || response.status < 400 && response.status !== 200 || (response.status >= 400 && !answer?.error?.message)) {
          failures.push(`${spec.method.toUpperCase()} ${spec.path} with ${name}: ${response.status} ${JSON.stringify(answer)?.slice(0, 200)}`);
        }
      }
    }
    expect(calls).toBeGreaterThan(50);
    expect(failures).toEqual([]);
  });

  it('a valid body with one NUL reaches no database error: 400 naming the field', async () => {
    const cases: [string, string, unknown][] = [
      ['post', '/partners', { id: 'px', name: 'Partner\u0000X', role: 'payment_provider', fields: ['amount'] }],
      ['post', '/declarations', {
        id: 'XD-FLOOD-NUL', kind: 'state_of_calamity', hazard: 'flood', issuer: 'Ministry\u0000', date: '2026-11-01',
        document: { reference: 'gazette 1' }, areas: { pcodes: ['XD01001'] },
      }],
      ['post', '/named-lists', { name: 'n\u0000', source: 's', registryIds: ['H1'] }],
    ];
    const answers = [];
    for (const [method, path, body] of cases) {
      const response = await send(method, `/api${path}`, JSON.stringify(body), 'application/json');
      answers.push([path, response.status, ((await response.json()) as { error?: { details?: unknown } }).error?.details]);
    }
    expect(answers).toEqual([
      ['/partners', 400, [{ path: 'body.name', message: expect.stringMatching(/contains a NUL character/) }]],
      ['/declarations', 400, [{ path: 'body.issuer', message: expect.stringMatching(/contains a NUL character/) }]],
      ['/named-lists', 400, [{ path: 'body.name', message: expect.stringMatching(/contains a NUL character/) }]],
    ]);
  });

  it('an id past bigint in the path is 400 (or 404), never 500', async () => {
    const failures: string[] = [];
    for (const spec of servedRoutes().filter((s) => s.path.includes(':id'))) {
      const response = await send(spec.method, pathOf(spec.path, '99999999999999999999'), spec.method === 'get' ? undefined : spec.textBody ? 'x' : '{}', spec.textBody ?? 'application/json');
      if (response.status >= 500) failures.push(`${spec.method.toUpperCase()} ${spec.path}: ${response.status} ${(await response.text()).slice(0, 200)}`);
      else await response.arrayBuffer();
    }
    expect(failures).toEqual([]);
  });
});
