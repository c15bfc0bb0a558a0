import type { Server } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, servedRoutes } from '../../src/api/app.ts';
import { createApiKey } from '../../src/api/keys.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { listenLocally } from '../support/http.ts';
import { yamlAliasBomb } from '../support/hostile-yaml.ts';
import { assertProperty, FC_SEED, fcRuns } from '../lists/oracle/property.ts';
import { Outcomes } from './mutate.ts';

/**
 * Issue 11, item 10: generated bodies on every route that takes one. Whatever the body: never a
 * 5xx, a refusal always says why (no stack trace), and a refused request changes no row of any
 * table. Seeded: FC_SEED / FC_RUNS.
 */

let t: TestDatabase;
let server: Server;
let base: string;
let admin: string;
let tables: string[];

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  admin = (await createApiKey(t.store, { role: 'admin', partnerId: null, label: 'fuzz admin' }, 'admin@test')).key;
  ({ server, base } = await listenLocally(createApp(t.store)));
  const { rows } = await t.store.transaction(({ raw }) =>
    raw.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`),
  );
  tables = rows.map((r) => r.name);
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.drop();
});

/** Rows per table: what a refused request must leave as it found it. */
async function rowCounts(): Promise<Record<string, number>> {
  const query = tables.map((name) => `SELECT '${name}' AS name, count(*)::int AS n FROM "${name}"`).join(' UNION ALL ');
  const { rows } = await t.store.transaction(({ raw }) => raw.query<{ name: string; n: number }>(query));
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

// The fields the routes read, so that generated bodies reach their checks and not only the parser.
const FIELDS = ['reason', 'activationId', 'cycle', 'name', 'source', 'registryIds', 'partnerId', 'purpose', 'expiresOn', 'id', 'kind', 'hazard',
  'issuer', 'date', 'role', 'fields', 'rule', 'from', 'to', 'areas', 'document', 'sha256', 'version', 'label', 'pcodes'];
const hostileText = fc.oneof(
  fc.string(),
  fc.string().map((s) => `${s}\u0000`),
  fc.constantFrom('\ud800', '=HYPERLINK("http://x")', '0x5', '1e308', '-0', '9999-99-99', '0000-01-01', '2026-02-30', ' ', 'XD01001', 'KES', 'a'.repeat(5000)),
);
const hostileNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1e20, 1e300, Number.MAX_SAFE_INTEGER + 2));
const leaf = fc.oneof(hostileText, hostileNumber, fc.boolean(), fc.constant(null));
const value = fc.oneof(leaf, fc.array(leaf, { maxLength: 4 }), fc.dictionary(fc.constantFrom(...FIELDS), leaf, { maxKeys: 3 }));
const jsonBody = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 8 }).map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.nat({ max: 20_000 }).map((depth) => `{"reason":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc.string().map((s) => `{"reason": ${s}`),
);
const textBody = fc.oneof(
  fc.string(),
  fc.string().map((s) => `id: ${s}\ntitle: t\n`),
  fc.constant(`id: bomb\n${yamlAliasBomb()}\n`),
  fc.nat({ max: 8000 }).map((depth) => `id: deep\nareas: ${'['.repeat(depth)}${']'.repeat(depth)}\n`),
  fc.array(fc.tuple(hostileText, fc.constantFrom('paid', 'failed', 'x', '')), { maxLength: 5 })
    .map((rows) => `id,status,amount,reason\n${rows.map(([id, status]) => `${id.replace(/[\n,"]/g, '')},${status},1,`).join('\n')}\n`),
);

describe('fuzz: generated bodies on every route that takes one', () => {
  it('never 5xx; a refusal says why and writes nothing', async () => {
    const routes = servedRoutes().filter((spec) => spec.body);
    expect(routes.length).toBeGreaterThan(8);
    const outcomes = new Outcomes();
    const runs = fcRuns(300, 120);
    const cases = fc.constantFrom(...routes).chain((spec) => (spec.textBody ? textBody : jsonBody).map((body) => ({ spec, body })));
    await assertProperty(fc.tuple(cases, fc.constantFrom('1', '2', '999999')), async ([{ spec, body }, id]) => {
      const before = await rowCounts();
      const path = `/api${spec.path.replace(':id', id).replace(':ruleId', 'fuzz-rule')}`;
      const response = await fetch(`${base}${path}`, {
        method: spec.method.toUpperCase(), body,
        headers: { authorization: `Bearer ${admin}`, 'content-type': spec.textBody ?? 'application/json' },
      });
      const answer = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      const where = `${spec.method.toUpperCase()} ${spec.path} (${body.length} bytes)`;
      expect(response.status, `${where}: ${JSON.stringify(answer)?.slice(0, 300)}`).toBeLessThan(500);
      if (response.status >= 400) {
        expect(answer?.error?.message, where).toBeTruthy();
        expect(answer!.error!.message, where).not.toMatch(/\n\s+at /);
        expect(await rowCounts(), `${where}: refused, yet rows changed`).toEqual(before);
      }
      outcomes.add(`${response.status}`);
    }, runs, 'fuzz api-bodies');
    console.info(`[fuzz api bodies] ${runs} cases over ${routes.length} routes (FC_SEED=${FC_SEED}), by status: ${outcomes}`);
    expect([...outcomes.counts.keys()].some((status) => status === '400')).toBe(true);
  }, 600_000);
});
