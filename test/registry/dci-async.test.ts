import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEnvelope } from '../../src/interop/envelope-signature.ts';
import type { KeyRing } from '../../src/interop/signing-keys.ts';
import { asyncSearch } from '../../src/registry/dci/async-search.ts';
import { openSearch } from '../../src/registry/dci/inbox.ts';
import type { DciRegistry, DciSender } from '../../src/registry/dci/messages.ts';
import { pullDci } from '../../src/registry/dci/pull.ts';
import type { DciPeer } from '../peers/dci-registry.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { serveApi } from '../support/http.ts';
import { contract } from '../support/specs.ts';
import { districtPcodes, peerAndRegistry, testSender } from './dci-support.ts';

const HOUSEHOLDS = 10_000;

let t: TestDatabase;
let api: { base: string; close(): Promise<void> };
let ring: KeyRing;
let sender: DciSender;
let peer: DciPeer;
let registry: DciRegistry;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  api = await serveApi(t.store);
  ({ sender, ring } = await testSender(`${api.base}/dci/registry/on-search`));
  ({ peer, registry } = await peerAndRegistry(ring, { households: HOUSEHOLDS, pcodes: await districtPcodes(t.store) }, { name: 'sr-async' }));
});
afterAll(async () => {
  await peer?.close();
  await api?.close();
  await t?.drop();
});

const inboxRows = async () => Number((await t.store.transaction(({ raw }) => raw.query<{ n: number }>('SELECT count(*)::int AS n FROM dci_inbox'))).rows[0].n);
const social = contract('social');

describe('an async DCI pull', () => {
  it('loads every page from signed on-search callbacks, recovering a dropped one with txn/status and storing a duplicate once', async () => {
    const dropped = new Set<string>();
    peer.callbackMode.duplicate = true;
    peer.callbackMode.delayMs = 20;
    // Page 3's callback is lost the first time: only txn/status brings it.
    peer.callbackMode.drop = (reference) => reference.endsWith('-p3') && !dropped.has(reference) && Boolean(dropped.add(reference));
    const report = await pullDci(t.store, registry, sender, { actor: 'test', source: asyncSearch(t.store, { waitMs: 4000, pollMs: 50 }) });
    expect(report).toMatchObject({ rows: HOUSEHOLDS, inserted: HOUSEHOLDS, rejected: 0 });
    await peer.settled();
    const paths = peer.received.map((r) => r.path);
    expect(paths.filter((p) => p === '/registry/search')).toHaveLength(2);
    // The first status request asks for page 3 (on a slow machine it may ask for more, and again).
    const statusRequests = peer.received.filter((r) => r.path === '/registry/txn/status');
    expect(statusRequests.length).toBeGreaterThanOrEqual(1);
    const asked = (statusRequests[0].body.message as { txnstatus_request: { attribute_value: string[] } }).txnstatus_request.attribute_value;
    expect(asked.some((r) => r.endsWith('-p3'))).toBe(true);
    expect(peer.callbacks.filter((c) => c.url.endsWith('/txn/on-status') && c.status === 200).length).toBeGreaterThanOrEqual(1);
    // Every on-search callback was sent twice; rows = HOUSEHOLDS shows each page was imported once.
    // (A copy that arrives after the pull closed its search is refused: no search, no trusted key.)
    const onSearch = peer.callbacks.filter((c) => c.url.endsWith('/on-search'));
    expect(onSearch).toHaveLength(2 * (HOUSEHOLDS / 1000 - 1));
    const accepted = new Set(onSearch.filter((c) => c.status === 200).map((c) => JSON.stringify((c.body.message as { search_response: { reference_id: string }[] }).search_response[0].reference_id)));
    expect(accepted.size).toBe(HOUSEHOLDS / 1000 - 1);
    expect(await inboxRows()).toBe(0);
  });

  it('sends and accepts only messages that validate against the DCI Social Registry API', () => {
    for (const { path, body } of peer.received) expect(social.request(path, body)).toEqual([]);
    for (const { url, body } of peer.callbacks) {
      const operation = url.endsWith('/txn/on-status') ? '/registry/txn/on-status' : '/registry/on-search';
      expect(social.request(operation, body)).toEqual([]);
    }
    const search = peer.received.find((r) => r.path === '/registry/search')!.body.header as Record<string, unknown>;
    expect(search.sender_uri).toBe(`${api.base}/dci/registry/on-search`);
  });

  it('refuses a callback that is unsigned, signed by another key, or for a search it never started', async () => {
    const transactionId = 'txn-refusal-test';
    await openSearch(t.store, { transactionId, registry: 'sr-async', registryUrl: peer.url, jwks: registry.jwks!, receiverId: peer.senderId });
    const header = { version: '1.0.0', message_id: 'm1', message_ts: new Date().toISOString(), action: 'on-search', status: 'succ', sender_id: peer.senderId, total_count: 1, completed_count: 1 };
    const message = { transaction_id: transactionId, correlation_id: 'c1', search_response: [{ reference_id: `${transactionId}-p1`, timestamp: new Date().toISOString(), status: 'succ', data: { reg_records: [] }, pagination: { page_size: 1, page_number: 1, total_count: 0 } }] };
    const forger = { senderId: peer.senderId, keyId: 'sr-key-1', privateKey: generateKeyPairSync('ed25519').privateKey };
    const send = (body: unknown) => fetch(`${api.base}/dci/registry/on-search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const unsigned = await send({ header, message });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ errors: [{ code: 'err.signature.missing', message: 'the message is not signed' }] });
    const forged = await send({ signature: signEnvelope({ header, message }, forger, 'spdci'), header, message });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { errors: { code: string }[] }).errors[0].code).toBe('err.signature.invalid');
    const unknown = { ...message, transaction_id: 'never-started' };
    const stranger = await send({ signature: signEnvelope({ header, message: unknown }, forger, 'spdci'), header, message: unknown });
    expect(stranger.status).toBe(401);
    expect(await inboxRows()).toBe(0);
  });
});
