import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEnvelope } from '../../src/interop/envelope-signature.ts';
import type { KeyRing } from '../../src/interop/signing-keys.ts';
import type { DciRegistry, DciSender } from '../../src/registry/dci/messages.ts';
import { pullDci } from '../../src/registry/dci/pull.ts';
import { subscribeDci, unsubscribeDci } from '../../src/registry/dci/subscriptions.ts';
import { startDciPeer, type DciPeer } from '../peers/dci-registry.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { serveApi } from '../support/http.ts';
import { contract } from '../support/specs.ts';
import { districtPcodes, peerAndRegistry, testSender } from './dci-support.ts';

// 10,000 pulled first on either back end: the notified changes (1,000) are what is measured.
const HOUSEHOLDS = 10_000;
const NEW = Array.from({ length: 100 }, (_, k) => HOUSEHOLDS + k);
const UPDATED = Array.from({ length: 800 }, (_, k) => k * 11);
const DEREGISTERED = Array.from({ length: 100 }, (_, k) => 9000 + k);

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
  ({ sender, ring } = await testSender());
  ({ peer, registry } = await peerAndRegistry(ring, { households: HOUSEHOLDS, pcodes: await districtPcodes(t.store) }, { name: 'sr-notify' }));
  await pullDci(t.store, registry, sender, { actor: 'test', programme: 'CT' });
});
afterAll(async () => {
  await peer?.close();
  await api?.close();
  await t?.drop();
});

const core = contract('registryCore');
const notifyUrl = () => `${api.base}/dci/registry/notify`;
const idOf = (i: number) => `HH-${String(i + 1).padStart(7, '0')}`;

/** Every household's registry id → its updated_at, score and CT enrolment: what a user would see change. */
async function snapshot(): Promise<Map<string, { updated: string; score: number; ct: string | null }>> {
  const { rows } = await t.store.transaction(({ raw }) =>
    raw.query<{ registry_id: string; updated: string; score: number; ct: string | null }>(`
      SELECT h.registry_id, h.updated_at::text AS updated, h.pmt_score::float8 AS score, e.status AS ct
        FROM households h LEFT JOIN enrolments e ON e.household_id = h.id AND e.programme_code = 'CT'`));
  return new Map(rows.map((r) => [r.registry_id, { updated: r.updated, score: r.score, ct: r.ct }]));
}
const notifyPulls = async () =>
  (await t.store.transaction(({ raw }) =>
    raw.query<{ status: string; counts: Record<string, number> }>(`SELECT status, counts FROM registry_pulls WHERE registry = 'sr-notify' AND cursor IS NULL ORDER BY id`))).rows;

describe('a DCI subscription', () => {
  it('is made for REGISTER, UPDATE and DEREGISTER, live once the signed on-subscribe gives the codes', async () => {
    const subscriptions = await subscribeDci(t.store, registry, sender, { programme: 'CT', actor: 'test', callbackBase: `${api.base}/dci/registry`, pollMs: 20, waitMs: 10_000 });
    expect(subscriptions.map((s) => s.eventType)).toEqual(['REGISTER', 'UPDATE', 'DEREGISTER']);
    expect(subscriptions.map((s) => s.code)).toEqual(peer.subscriptions.map((s) => s.code));
    expect(peer.subscriptions.every((s) => s.notifyUri === notifyUrl())).toBe(true);
    const subscribe = peer.received.find((r) => r.path === '/registry/subscribe')!;
    expect((subscribe.body.header as { sender_uri: string }).sender_uri).toBe(`${api.base}/dci/registry/on-subscribe`);
  });

  it('applies 1,000 notified changes: exactly the updated households change, new ones come in, deregistered ones are exited', async () => {
    const before = await snapshot();
    const sent = await peer.notify({ register: NEW, update: UPDATED, deregister: DEREGISTERED }, { perMessage: 500 });
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    expect(sent.every((s) => (s.answer?.message as { ack_status: string }).ack_status === 'ACK')).toBe(true);
    const after = await snapshot();

    expect(after.size).toBe(HOUSEHOLDS + NEW.length);
    const changed = [...after].filter(([id, h]) => before.get(id)?.updated !== h.updated).map(([id]) => id).sort();
    expect(changed).toEqual([...UPDATED, ...NEW].map(idOf).sort());
    // The scores now are the registry's own (its view of each household, compared independently).
    for (const i of [...UPDATED, ...NEW]) expect(after.get(idOf(i))!.score).toBe(peer.group(i).poverty_score);
    for (const i of NEW) expect(after.get(idOf(i))!.ct).toBe('active');
    // Deregistered: still there (payment lists reference them), their data untouched, exited from CT.
    for (const i of DEREGISTERED) expect(after.get(idOf(i))).toEqual({ ...before.get(idOf(i)), ct: 'exited' });
    const exited = [...after].filter(([, h]) => h.ct === 'exited').map(([id]) => id).sort();
    expect(exited).toEqual(DEREGISTERED.map(idOf).sort());

    const pulls = await notifyPulls();
    expect(pulls.map((p) => p.status)).toEqual(['success', 'success', 'success', 'success']);
    expect(pulls.reduce((n, p) => n + p.counts.events, 0)).toBe(1000);
    expect(pulls.reduce((n, p) => n + p.counts.exited, 0)).toBe(DEREGISTERED.length);
    const audits = (await t.store.transaction(({ raw }) =>
      raw.query<{ details: unknown }>(`SELECT details FROM audit_log WHERE action = 'registry.notified'`))).rows;
    expect(audits).toHaveLength(4);
    // Counts only: no name, national id or phone of any household in the audit trail.
    expect(JSON.stringify(audits)).not.toMatch(/NID|\+254|given_name|Amina|Achieng/);
  });

  it('applies a notification delivered twice once, and a repeated old one not at all', async () => {
    const pullsBefore = (await notifyPulls()).length;
    const sent = await peer.notify({ update: [5, 6, 7] }, { duplicate: true });
    expect(sent.map((s) => s.status)).toEqual([200, 200]);
    const pulls = await notifyPulls();
    expect(pulls).toHaveLength(pullsBefore + 1);
    expect(pulls.at(-1)!.counts).toMatchObject({ events: 3, updated: 3 });

    // Both copies at the same moment: one applies, the other waits for it and changes nothing.
    const together = await peer.notify({ update: [8, 9] }, { duplicate: 'at-once' });
    expect(together.map((s) => [s.status, (s.answer?.message as { ack_status: string }).ack_status])).toEqual([[200, 'ACK'], [200, 'ACK']]);
    expect(await notifyPulls()).toHaveLength(pullsBefore + 2);
    expect((await notifyPulls()).at(-1)!.counts).toMatchObject({ events: 2, updated: 2 });

    const before = await snapshot();
    const first = peer.callbacks.find((c) => c.url === notifyUrl())!;
    const again = await fetch(notifyUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(first.body) });
    expect(again.status).toBe(200);
    expect(await snapshot()).toEqual(before);
    expect(await notifyPulls()).toHaveLength(pullsBefore + 2);
  });

  it('applies nothing of a notification with one bad record, and names it; corrected, it is applied', async () => {
    const before = await snapshot();
    peer.override(42, (g) => ({ ...g, additional_attributes: [{ admin_pcode: 'XX99999' }] }));
    const [refused] = await peer.notify({ update: [40, 41, 42] });
    expect(refused.status).toBe(422);
    expect(refused.answer).toEqual({ errors: [{ code: 'err.request.bad', message: expect.stringContaining('event 3 (UPDATE), field admin_pcode: unknown P-code "XX99999"') }] });
    expect(core.response('/registry/notify', refused.answer)).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expect((await notifyPulls()).at(-1)!.status).toBe('failed');

    peer.override(42, (g) => g);
    const [fixed] = await peer.notify({ update: [40, 41, 42] });
    expect(fixed.status).toBe(200);
    expect((await notifyPulls()).at(-1)!.counts).toMatchObject({ events: 3, updated: 3 });
  });

  it('refuses an unsigned, a forged and a stranger registry\'s notification, changing nothing', async () => {
    const before = await snapshot();
    const pullsBefore = (await notifyPulls()).length;
    const header = { version: '1.0.0', message_id: 'forged-1', message_ts: new Date().toISOString(), action: 'notify', status: 'succ', sender_id: peer.senderId, total_count: 1, completed_count: 1 };
    const group = { ...peer.group(1), poverty_score: 0.5 };
    const message = { transaction_id: 'forged', notify_event: [{ reference_id: 'EVT-forged', timestamp: new Date().toISOString(), data: { reg_event_type: 'UPDATE', reg_record_type: 'spdci-social:Group', reg_records: group } }] };
    expect(core.request('/registry/notify', { header, message })).toEqual([]);
    const send = async (body: unknown) => {
      const response = await fetch(notifyUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as { errors: { code: string }[] } };
    };
    const unsigned = await send({ header, message });
    expect(unsigned).toEqual({ status: 401, body: { errors: [{ code: 'err.signature.missing', message: 'the message is not signed' }] } });
    const forger = { senderId: peer.senderId, keyId: 'sr-key-1', privateKey: generateKeyPairSync('ed25519').privateKey };
    const forged = await send({ signature: signEnvelope({ header, message }, forger, 'spdci'), header, message });
    expect(forged.status).toBe(401);
    expect(forged.body.errors[0].code).toBe('err.signature.invalid');
    for (const refused of [unsigned, forged]) expect(core.response('/registry/notify', refused.body)).toEqual([]);

    // A real registry, validly signed, that we never subscribed to.
    const stranger = await startDciPeer({ households: 10, pcodes: ['X'], senderId: 'other.sr' });
    try {
      stranger.subscriptions.push({ code: 'SUB-X', eventType: 'UPDATE', notifyUri: notifyUrl(), live: true });
      const [answer] = await stranger.notify({ update: [1] });
      expect(answer.status).toBe(401);
    } finally {
      await stranger.close();
    }
    expect(await snapshot()).toEqual(before);
    expect(await notifyPulls()).toHaveLength(pullsBefore);
  });

  it('sends and accepts only messages that validate against the DCI registry core API', () => {
    const sentByUs = peer.received.filter((r) => r.path === '/registry/subscribe' || r.path === '/registry/unsubscribe');
    expect(sentByUs.length).toBeGreaterThanOrEqual(1);
    for (const { path, body } of sentByUs) expect(core.request(path, body)).toEqual([]);
    const onSubscribe = peer.callbacks.filter((c) => c.url.endsWith('/on-subscribe'));
    const notified = peer.callbacks.filter((c) => c.url === notifyUrl());
    expect(onSubscribe).toHaveLength(1);
    expect(notified.length).toBeGreaterThanOrEqual(6);
    for (const c of onSubscribe) {
      expect(core.request('/registry/on-subscribe', c.body)).toEqual([]);
      expect(core.response('/registry/on-subscribe', c.answer)).toEqual([]);
    }
    for (const c of notified) {
      expect(core.request('/registry/notify', c.body)).toEqual([]);
      // The notify operation's only response is HttpErrorResponse (a spec slip); our Ack is checked as the spec's Response.
      expect(core.response('/registry/on-subscribe', c.answer)).toEqual([]);
    }
  });

  it('ends with unsubscribe: the registry\'s notifications are refused from then on', async () => {
    const codes = await unsubscribeDci(t.store, registry, sender, 'test');
    expect(codes.sort()).toEqual(peer.subscriptions.map((s) => s.code).sort());
    expect(peer.subscriptions.every((s) => !s.live)).toBe(true);
    const unsubscribe = peer.received.find((r) => r.path === '/registry/unsubscribe')!;
    expect(core.request('/registry/unsubscribe', unsubscribe.body)).toEqual([]);
    const before = await snapshot();
    const [late] = await peer.notify({ update: [3] }, { evenUnsubscribed: true });
    expect(late.status).toBe(401);
    expect(await snapshot()).toEqual(before);
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ status: string; ended: boolean; last: boolean }>(`SELECT status, ended_at IS NOT NULL AS ended, last_event_at IS NOT NULL AS last FROM dci_subscriptions ORDER BY id`));
    expect(rows).toEqual([
      { status: 'ended', ended: true, last: true },
      { status: 'ended', ended: true, last: true },
      { status: 'ended', ended: true, last: true },
    ]);
  });
});
