import { afterAll, beforeAll, expect, it } from 'vitest';
import { jwksOf } from '../../src/interop/signing-keys.ts';
import { engineKeyRing } from '../../src/interop/engine-keys.ts';
import { serverAdminUrl, testBackend } from '../support/backend.ts';
import { runAsp } from '../support/cli.ts';
import { killAspWhen, serverSessions } from '../support/crash.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { serveRoutes } from '../support/http.ts';
import type { G2pHub } from '../peers/g2p-hub.ts';
import { expectSpecCompliant, paymentWorld, releasedList, type PaymentWorld } from '../payments/payment-world.ts';

/**
 * `asp lists disburse` SIGKILLed in the middle of a push, at several points, then run again: the
 * hub (a real server) must have received every reference_id exactly once, and every entry must end
 * reconciled once. On the server back end our API runs in this process and takes the hub's
 * callbacks while the CLI pushes; on the embedded one the database admits one process, so no API
 * runs (only our JWKS is served): every callback is lost and the statuses come by txn/status. A
 * tenth of the callbacks are dropped on the server too.
 */

const server = testBackend() === 'server';
const ENTRIES = server ? 20_000 : 3_000;
const CHUNK = server ? 1000 : 250;
const SLOW = 900_000;

let db: TestDatabase;
let world: PaymentWorld;
let hub: G2pHub;
let listId: number;
let closeJwks = async () => {};
/** The hub's hook: the test decides, per message received, whether to hold its answer. */
let onMessage: (n: number) => Promise<void> = async () => {};
let received = 0;
const kills: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  ({ listId } = await releasedList(db.store, ENTRIES, { id: 'crash-fsp', fields: ['pseudonymous_id', 'amount', 'currency', 'payment_channel', 'payment_account'] }));
  if (server) world = await paymentWorld(db.store);
  else {
    // Our public keys only, read from the folder the CLI signs with.
    const jwks = await serveRoutes({ '/.well-known/jwks.json': (_req, res) => void engineKeyRing().then((ring) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwksOf(ring)))) });
    closeJwks = jwks.close;
    world = await paymentWorld(null, jwks.url);
    await db.store.close();
  }
  await engineKeyRing();
  hub = await world.addHub('crash-hub', 'crash-fsp', { dropShare: 0.1, beforeAnswer: () => onMessage(++received) }, { chunk_size: CHUNK, status_after_seconds: 1 });
}, SLOW);

afterAll(async () => {
  await world?.close();
  await closeJwks();
  await db?.drop();
  console.info(`disburse crash test (${testBackend()}): ${kills.length} SIGKILLs\n${kills.map((k) => `  ${k}`).join('\n')}`);
});

const disburse = (wait: boolean) => [...db.cliArgs, 'lists', 'disburse', String(listId), '--hub', 'crash-hub', '--by', 'payer', ...(wait ? ['--wait', '120'] : [])];

async function inspect<T>(read: (query: <R>(sql: string) => Promise<R[]>) => Promise<T>): Promise<T> {
  const store = server ? db.store : await db.reopen();
  try {
    return await read(async <R>(sql: string) => (await store.transaction(({ raw }) => raw.query(sql))).rows as R[]);
  } finally {
    if (!server) await store.close();
  }
}

/** How often the hub was sent each reference_id (a repeat is counted by the hub and must never happen). */
const deliveries = () => {
  const counts = new Map<string, number>();
  for (const r of hub.requests.filter((q) => q.path === '/disburse')) {
    for (const d of r.body.message.disbursements as { reference_id: string }[]) counts.set(d.reference_id, (counts.get(d.reference_id) ?? 0) + 1);
  }
  return counts;
};

/** After any kill: what is written is whole (every message with all its items), and nothing was delivered twice. */
async function expectConsistent(label: string): Promise<void> {
  const outbox = await inspect((query) => query<{ messages: number; short: number; doubled: number }>(
    `SELECT (SELECT count(*)::int FROM disbursement_messages) AS messages,
            (SELECT count(*)::int FROM disbursement_messages m WHERE m.items <> (SELECT count(*) FROM disbursement_items i WHERE i.hub = m.hub AND i.list_id = m.list_id AND i.chunk = m.chunk)) AS short,
            (SELECT count(*)::int FROM (SELECT household_id FROM payment_statuses GROUP BY list_id, household_id HAVING count(*) > 1) x) AS doubled`,
  ));
  expect(outbox[0], label).toMatchObject({ short: 0, doubled: 0 });
  expect(hub.duplicates, label).toBe(0);
  expect([...deliveries().values()].filter((n) => n > 1), label).toEqual([]);
}

/** Kills `asp lists disburse` once the hub holds message `n` (its answer held until the process is dead). */
async function killHolding(n: number, label: string): Promise<void> {
  let reached = false;
  let release!: () => void;
  const killed = new Promise<void>((resolve) => (release = resolve));
  onMessage = async (count) => {
    if (count !== n) return;
    reached = true;
    await killed;
  };
  const outcome = await killAspWhen(disburse(false), world.env, () => reached);
  release();
  onMessage = async () => {};
  expect(outcome.killed, label).toBe(true);
  kills.push(`${label} at ${outcome.atMs} ms`);
  await expectConsistent(label);
}

it(`a push of ${ENTRIES.toLocaleString('en-US')} entries killed while the hub holds a message before its Ack and while statuses are asked (on the server also while the outbox is filled): the re-run sends nothing twice and reconciles every entry once`, async () => {
  if (server) {
    const sessions = serverSessions(serverAdminUrl(), new URL(db.env.DATABASE_URL).pathname.slice(1));
    try {
      const outcome = await killAspWhen(disburse(false), world.env, () => sessions.writing(/INSERT INTO disbursement_(messages|items)/), 100);
      expect(outcome.killed).toBe(true);
      kills.push(`while the outbox is filled at ${outcome.atMs} ms`);
      await sessions.drained();
    } finally {
      await sessions.close();
    }
    await expectConsistent('killed while filling the outbox');
    expect(received).toBe(0);
  }
  await killHolding(1, 'the hub holds message 1, before its Ack');
  await killHolding(3, 'the hub holds message 3, before its Ack');
  const chunks = Math.ceil(ENTRIES / CHUNK);
  // Messages answered so far are never sent again, whatever the rest does.
  const before = deliveries().size;
  expect(before).toBeGreaterThanOrEqual(3 * CHUNK);

  // Everything delivered, then killed while asking about the statuses that did not come back.
  let asked = false;
  const statusRequests = () => hub.requests.filter((r) => r.path !== '/disburse').length;
  const askedBefore = statusRequests();
  const outcome = await killAspWhen(disburse(true), world.env, () => (asked ||= statusRequests() > askedBefore && received >= chunks), 0, 'report');
  kills.push(`while statuses are asked at ${outcome.atMs} ms (${outcome.killed ? 'killed' : 'had finished'})`);
  await expectConsistent('killed while statuses are asked');

  const rerun = await runAsp([...disburse(true), '--json'], world.env);
  expect(rerun.code, rerun.stderr).toBe(0);
  await hub.idle();
  const report = JSON.parse(rerun.stdout) as { complete: boolean; reconciled: number; entries: number; open: number };
  expect(report).toMatchObject({ complete: true, entries: ENTRIES, reconciled: ENTRIES, open: 0 });
  await expectConsistent('after the re-run');

  // The hub received every reference_id exactly once and paid each once.
  const counts = deliveries();
  expect(counts.size).toBe(ENTRIES);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  expect(hub.payments.size).toBe(ENTRIES);
  expectSpecCompliant(hub);
  const [rows] = await inspect((query) => query<{ statuses: number; items: number; final: number; reconciled: number }>(
    `SELECT (SELECT count(*)::int FROM payment_statuses) AS statuses, (SELECT count(*)::int FROM disbursement_items) AS items,
            (SELECT count(*)::int FROM disbursement_items WHERE state = 'succ') AS final,
            (SELECT count(*)::int FROM disbursements WHERE reconciled_at IS NOT NULL) AS reconciled`,
  ));
  expect(rows).toEqual({ statuses: ENTRIES, items: ENTRIES, final: ENTRIES, reconciled: 1 });
}, SLOW);
