import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Store } from '../../src/db/store.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { releaseList } from '../../src/lists/release.ts';
import { bulkHouseholds, createList, type FixtureEntry } from '../exports/list-fixture.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { serveApi } from '../support/http.ts';
import { contract } from '../support/specs.ts';
import { startG2pHub, type G2pHub, type HubOptions } from '../peers/g2p-hub.ts';

/**
 * What the payment tests share: the engine's API on 127.0.0.1 (callbacks and its JWKS), a signing
 * key folder, test hubs (real servers) written into a hubs file, and released lists to push.
 * Environment variables are set for this process (the API and disburseList read them per call)
 * and returned for child `asp` processes.
 */
export interface PaymentWorld {
  api: { base: string; close(): Promise<void> };
  folder: string;
  env: Record<string, string>;
  hubs: Map<string, G2pHub>;
  addHub(name: string, partner: string, options?: Partial<HubOptions>, config?: Record<string, unknown>): Promise<G2pHub>;
  close(): Promise<void>;
}

export async function paymentWorld(store: Store | null, apiBase?: string): Promise<PaymentWorld> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'asp-pay-'));
  const api = store ? await serveApi(store) : { base: apiBase!, close: async () => {} };
  const env: Record<string, string> = {
    ASP_SIGNING_KEY_DIR: path.join(folder, 'signing-keys'),
    ASP_PUBLIC_URL: api.base,
    ASP_HUBS: path.join(folder, 'hubs.yaml'),
    ASP_SENDER_ID: 'asp-engine-test',
  };
  Object.assign(process.env, env);
  const hubs = new Map<string, G2pHub>();
  const configs: string[] = [];
  const world: PaymentWorld = {
    api, folder, env, hubs,
    async addHub(name, partner, options = {}, config = {}) {
      const hub = await startG2pHub({ hubId: `${name}.hub.test`, senderJwks: `${api.base}/.well-known/jwks.json`, ...options });
      hubs.set(name, hub);
      const extra = { chunk_size: 1000, status_after_seconds: 1, retry: { attempts: 5, base_ms: 20, max_ms: 200, timeout_ms: 30_000 }, ...config };
      configs.push(`  - ${JSON.stringify({ name, adapter: 'g2p-connect', url: hub.url, partner, jwks: hub.jwksUrl, hub_id: `${name}.hub.test`, ...extra })}`);
      await writeFile(env.ASP_HUBS, `hubs:\n${configs.join('\n')}\n`);
      return hub;
    },
    async close() {
      for (const hub of hubs.values()) await hub.close();
      await api.close();
      for (const key of Object.keys(env)) delete process.env[key];
      await rm(folder, { recursive: true, force: true });
    },
  };
  await writeFile(env.ASP_HUBS, 'hubs: []\n');
  return world;
}

let lists = 0;

/** A list of `count` households, approved and released to `partner` (added with `fields`). */
export async function releasedList(
  store: Store,
  count: number,
  partner: { id: string; fields: string[]; pseudonymise?: boolean },
): Promise<{ listId: number; entries: FixtureEntry[] }> {
  lists += 1;
  const entries = await bulkHouseholds(store, 'XD01001', count, `PAY${lists}-`);
  const list = await createList(store, entries);
  await addPartner(store, { id: partner.id, name: partner.id, role: 'payment_provider', fields: partner.fields, pseudonymise: partner.pseudonymise }, 'admin');
  await releaseList(store, list.listId, { partnerId: partner.id, purpose: 'payment test', expiresOn: '2099-12-31' }, 'releaser');
  return { listId: list.listId, entries };
}

/**
 * A test file's database (migrated, with Demoland's areas and programmes) and payment world,
 * opened before its tests and closed after; `query` reads the database.
 */
export function usePaymentWorld(timeoutMs = 180_000) {
  const context = {
    db: undefined as unknown as TestDatabase,
    world: undefined as unknown as PaymentWorld,
    query: async <R>(sql: string, params: unknown[] = []): Promise<R[]> =>
      (await context.db.store.transaction(({ raw }) => raw.query(sql, params))).rows as R[],
  };
  beforeAll(async () => {
    context.db = await createTestDatabase();
    await loadDemoAreas(context.db.store);
    context.world = await paymentWorld(context.db.store);
  }, timeoutMs);
  afterAll(async () => {
    await context.world?.close();
    await context.db?.drop();
  });
  return context;
}

/**
 * Every request the hub accepted and every callback our API acknowledged, checked against the
 * G2P Connect spec (test/support/specs.ts says the one patched `required` entry).
 */
export function expectSpecCompliant(hub: G2pHub): void {
  const spec = contract('disburse');
  for (const r of hub.requests) expect(spec.request(r.path, r.body), r.path).toEqual([]);
  for (const c of hub.callbacks.filter((k) => k.status === 200)) {
    const path = c.path === '/on-disburse' ? '/on-disburse' : '/disburse/txn/on-status';
    expect(spec.request(path, c.body), path).toEqual([]);
    expect(spec.response(path, c.answer), path).toEqual([]);
    expect((c.answer as { message: { ack_status: string } }).message.ack_status).toBe('ACK');
  }
}
