import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { signEnvelope } from '../../src/interop/envelope-signature.ts';
import { addSigningKey } from '../../src/interop/signing-keys.ts';
import { paymentTotals } from '../../src/lists/reconcile.ts';
import { disburseList } from '../../src/payments/disburse.ts';
import { contract } from '../support/specs.ts';
import { expectSpecCompliant, releasedList, usePaymentWorld } from './payment-world.ts';

/**
 * A hub's bad days, each against a real test hub: a 5xx on every message's first attempt, the
 * callback before the Ack, rejected payees, slow callbacks answered through the asynchronous
 * txn/status, and callbacks that are not the hub's.
 */

const FIELDS = ['pseudonymous_id', 'name', 'amount', 'currency', 'payment_channel', 'payment_account'];
const payments = usePaymentWorld();
const { query } = payments;

const wait = { waitMs: 60_000, pollEveryMs: 100 };

// Whatever the hub's mood, every message it accepted and every callback we acknowledged is the spec's.
afterEach(() => {
  for (const hub of payments.world.hubs.values()) expectSpecCompliant(hub);
});

describe('a hub that', () => {
  it('answers 503 to every first attempt: each message is sent again with the same message_id, and nothing is paid twice', async () => {
    const { listId } = await releasedList(payments.db.store, 300, { id: 'fsp-5xx', fields: FIELDS });
    const hub = await payments.world.addHub('flaky-hub', 'fsp-5xx', { failFirstAttempts: 1 }, { chunk_size: 100 });
    const report = await disburseList(payments.db.store, listId, 'flaky-hub', 'payer', wait);
    expect(report).toMatchObject({ complete: true, reconciled: 300, sent: { acked: 3, errors: [] } });
    const messages = await query<{ message_id: string; attempts: number }>(`SELECT message_id, attempts FROM disbursement_messages WHERE list_id = $1 ORDER BY chunk`, [listId]);
    expect(messages.map((m) => m.attempts)).toEqual([2, 2, 2]);
    expect(hub.requests.filter((r) => r.path === '/disburse').map((r) => r.body.header.message_id)).toEqual(messages.map((m) => m.message_id));
    expect(hub.duplicates).toBe(0);
    expect(hub.payments.size).toBe(300);
  });

  it('is down longer than one run retries: the messages wait, sending, and the next run delivers them once', async () => {
    const { listId } = await releasedList(payments.db.store, 100, { id: 'fsp-down', fields: FIELDS });
    const hub = await payments.world.addHub('down-hub', 'fsp-down', { failFirstAttempts: 3 }, { chunk_size: 50, retry: { attempts: 2, base_ms: 10, max_ms: 50, timeout_ms: 30_000 } });
    const first = await disburseList(payments.db.store, listId, 'down-hub', 'payer');
    expect(first.sent).toEqual({ acked: 0, nacked: 0, errors: [], waiting: 2 });
    expect(first.messages.sending).toBe(2);
    const second = await disburseList(payments.db.store, listId, 'down-hub', 'payer', wait);
    expect(second).toMatchObject({ complete: true, reconciled: 100, sent: { acked: 2, waiting: 0 } });
    expect(hub.duplicates).toBe(0);
    expect(hub.requests.filter((r) => r.path === '/disburse').length).toBe(2);
  });

  it('answers ERR (our message is invalid): not sent again, reported, and the wait does not wait for it', async () => {
    const { listId } = await releasedList(payments.db.store, 30, { id: 'fsp-err', fields: FIELDS });
    await payments.world.addHub('err-hub', 'fsp-err', { answerErr: { code: 'err.request.bad', message: 'total_count does not match' } });
    const started = Date.now();
    const report = await disburseList(payments.db.store, listId, 'err-hub', 'payer', wait);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(report).toMatchObject({ complete: false, open: 30, reconciled: 0, messages: { error: 1 }, errors: [{ chunk: 0, error: 'err.request.bad: total_count does not match' }] });
    expect(report.sent.errors).toEqual([{ chunk: 0, error: 'err.request.bad: total_count does not match' }]);
    const again = await disburseList(payments.db.store, listId, 'err-hub', 'payer');
    expect(again.sent).toEqual({ acked: 0, nacked: 0, errors: [], waiting: 0 });
    const [message] = await query<{ attempts: number }>(`SELECT attempts FROM disbursement_messages WHERE list_id = $1`, [listId]);
    expect(message.attempts).toBe(1);
  });

  it('calls back before it answers the request: the items found are moved, and the late ACK does not move them back', async () => {
    const { listId } = await releasedList(payments.db.store, 250, { id: 'fsp-early', fields: FIELDS });
    const hub = await payments.world.addHub('early-hub', 'fsp-early', { callbackBeforeAck: true }, { chunk_size: 100, status_after_seconds: 600 });
    const report = await disburseList(payments.db.store, listId, 'early-hub', 'payer', wait);
    expect(report).toMatchObject({ complete: true, reconciled: 250, polled: 0, callbacks: 250, items: { succ: 250, sent: 0 } });
    expect(report.messages.acked).toBe(3);
    expect(hub.callbacks.map((c) => c.status)).toEqual([200, 200, 200]);
  });

  it('rejects some payees: they are reconciled as failed with the reason code', async () => {
    const { listId } = await releasedList(payments.db.store, 200, { id: 'fsp-rjct', fields: FIELDS });
    const reject = (d: Record<string, unknown>) => (/[05]@/.test(String(d.payee_fa)) ? 'rjct.payee_fa.invalid' : null);
    const hub = await payments.world.addHub('strict-hub', 'fsp-rjct', { reject }, { chunk_size: 100 });
    const report = await disburseList(payments.db.store, listId, 'strict-hub', 'payer', wait);
    const rejected = hub.requests.flatMap((r) => r.body.message.disbursements as Record<string, unknown>[]).filter((d) => reject(d)).length;
    expect(rejected).toBeGreaterThan(0);
    expect(report).toMatchObject({ complete: true, reconciled: 200, items: { succ: 200 - rejected, rjct: rejected } });
    const totals = await paymentTotals(payments.db.store, listId);
    expect(totals.paid.households).toBe(200 - rejected);
    expect(Object.keys(totals.failed.byReason)).toEqual(['rjct.payee_fa.invalid']);
    expect(totals.failed.byReason['rjct.payee_fa.invalid'].households).toBe(rejected);
    for (const c of hub.callbacks) expect(contract('disburse').request('/on-disburse', c.body)).toEqual([]);
  });

  it('calls back slowly and answers txn/status by callback: the statuses come to /g2p/txn/on-status', async () => {
    const { listId } = await releasedList(payments.db.store, 150, { id: 'fsp-slow', fields: FIELDS });
    const hub = await payments.world.addHub('slow-hub', 'fsp-slow', { callbackDelayMs: 1500, dropShare: 0.3 }, { chunk_size: 50, status: 'async', status_after_seconds: 2 });
    const report = await disburseList(payments.db.store, listId, 'slow-hub', 'payer', wait);
    await hub.idle();
    expect(report).toMatchObject({ complete: true, reconciled: 150 });
    const onStatus = hub.callbacks.filter((c) => c.path === '/txn/on-status');
    expect(onStatus.length).toBeGreaterThan(0);
    expect(report.polled).toBeGreaterThan(0);
    const spec = contract('disburse');
    for (const r of hub.requests.filter((q) => q.path === '/disburse/txn/status')) expect(spec.request('/disburse/txn/status', r.body)).toEqual([]);
    for (const c of onStatus) {
      expect(c.status).toBe(200);
      expect(spec.request('/disburse/txn/on-status', c.body)).toEqual([]);
      expect(spec.response('/disburse/txn/on-status', c.answer)).toEqual([]);
    }
  });
});

describe('callbacks that are not a configured hub’s', () => {
  it('are refused with 401 (the spec’s errors shape) and change nothing; the hub’s own is accepted', async () => {
    const { listId } = await releasedList(payments.db.store, 20, { id: 'fsp-quiet', fields: FIELDS });
    // Every callback dropped and no polling: the items wait at `sent`.
    const hub = await payments.world.addHub('quiet-hub', 'fsp-quiet', { dropShare: 1 }, { status_after_seconds: 600 });
    await disburseList(payments.db.store, listId, 'quiet-hub', 'payer');
    const [item] = await query<{ reference_id: string }>(`SELECT reference_id FROM disbursement_items WHERE list_id = $1 ORDER BY reference_id LIMIT 1`, [listId]);
    const state = () => query(`SELECT state, callbacks FROM disbursement_items WHERE list_id = $1 ORDER BY reference_id`, [listId]);
    const statuses = () => query(`SELECT count(*)::int AS n FROM payment_statuses WHERE list_id = $1`, [listId]);
    const before = { items: await state(), statuses: await statuses() };

    const callback = (senderId: string) => {
      const header = { message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'on-disburse', status: 'succ', sender_id: senderId, total_count: 1, completed_count: 1 };
      const message = { transaction_id: 't', disbursements_status: [{ reference_id: item.reference_id, timestamp: new Date().toISOString(), status: 'rjct', status_reason_code: 'rjct.amount.invalid' }] };
      return { header, message };
    };
    const post = (body: unknown) => fetch(`${payments.world.api.base}/g2p/on-disburse`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const stranger = { senderId: 'quiet-hub.hub.test', keyId: 'k1', privateKey: generateKeyPairSync('ed25519').privateKey };
    const unknown = callback('not-a-hub.test');
    const attempts = {
      unsigned: callback('quiet-hub.hub.test'),
      forged: (() => { const c = callback('quiet-hub.hub.test'); return { signature: signEnvelope(c, stranger, 'g2p'), ...c }; })(),
      'unknown sender': { signature: signEnvelope(unknown, { ...stranger, senderId: 'not-a-hub.test' }, 'g2p'), ...unknown },
      tampered: (() => { const c = callback('quiet-hub.hub.test'); const signature = hub.sign(c); c.message.disbursements_status[0].status = 'succ'; return { signature, ...c }; })(),
    };
    for (const [what, body] of Object.entries(attempts)) {
      const response = await post(body);
      expect(response.status, what).toBe(401);
      const answer = (await response.json()) as { errors: { code: string; message: string }[] };
      expect(answer.errors[0].code, what).toMatch(/^err\.(signature|sender_id)\./);
    }
    expect({ items: await state(), statuses: await statuses() }).toEqual(before);

    const genuine = callback('quiet-hub.hub.test');
    const response = await post({ signature: hub.sign(genuine), ...genuine });
    expect(response.status).toBe(200);
    const answer = await response.json();
    expect(contract('disburse').response('/on-disburse', answer)).toEqual([]);
    const [moved] = await query<{ state: string; reason_code: string }>(`SELECT state, reason_code FROM disbursement_items WHERE reference_id = $1`, [item.reference_id]);
    expect(moved).toEqual({ state: 'rjct', reason_code: 'rjct.amount.invalid' });
  });

  it('our public keys are served at /.well-known/jwks.json as the DCI JWKS spec describes', async () => {
    const jwks = await (await fetch(`${payments.world.api.base}/.well-known/jwks.json`)).json();
    expect(contract('jwks').schema('JWKSResponse', jwks)).toEqual([]);
    expect((jwks as { keys: { kty: string; crv: string }[] }).keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', use: 'sig', alg: 'EdDSA' });
  });
});

describe('our signing key', () => {
  it('once rotated, signs the next push; the hub follows through our JWKS, which still publishes the old key', async () => {
    const { listId } = await releasedList(payments.db.store, 20, { id: 'fsp-rotate', fields: FIELDS });
    const hub = await payments.world.addHub('rotate-hub', 'fsp-rotate');
    const keyId = await addSigningKey(payments.world.env.ASP_SIGNING_KEY_DIR);
    const report = await disburseList(payments.db.store, listId, 'rotate-hub', 'payer', wait);
    expect(report).toMatchObject({ complete: true, reconciled: 20 });
    expect(hub.refused).toBe(0);
    expect(hub.requests[0].body.signature).toContain(`kidId="asp-engine-test|${keyId}|ed25519"`);
    const jwks = (await (await fetch(`${payments.world.api.base}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
    expect(jwks.keys[0].kid).toBe(keyId);
  });
});

describe('the release decides what a hub receives', () => {
  it('a partner given names and registry ids (not pseudonymised) gets payee_name; a list not released to the hub’s partner is refused', async () => {
    const { listId } = await releasedList(payments.db.store, 10, { id: 'fsp-named', fields: ['registry_id', 'name', 'amount', 'currency'], pseudonymise: false });
    const hub = await payments.world.addHub('named-hub', 'fsp-named');
    await disburseList(payments.db.store, listId, 'named-hub', 'payer', wait);
    const sent = hub.requests.flatMap((r) => (r.path === '/disburse' ? r.body.message.disbursements : [])) as Record<string, unknown>[];
    expect(sent.length).toBe(10);
    expect(sent.every((d) => typeof d.payee_name === 'string' && d.payee_name.startsWith('Person '))).toBe(true);

    const other = await releasedList(payments.db.store, 5, { id: 'fsp-other', fields: FIELDS });
    await expect(disburseList(payments.db.store, other.listId, 'named-hub', 'payer')).rejects.toThrow(/not released to fsp-named/);
    await expect(disburseList(payments.db.store, other.listId, 'no-such-hub', 'payer')).rejects.toThrow(/no payment hub no-such-hub \(configured: /);
  });
});
