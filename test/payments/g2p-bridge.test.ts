import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/interop/canonical-json.ts';
import { adapterFor } from '../../src/payments/adapters.ts';
import { disburseList } from '../../src/payments/disburse.ts';
import { detachedJws } from '../../src/payments/g2p-bridge.ts';
import { getHub, loadHubs } from '../../src/payments/hubs.ts';
import { engineKeyRing } from '../../src/interop/engine-keys.ts';
import { releaseIds } from '../exports/list-fixture.ts';
import { testBackend } from '../support/backend.ts';
import { tempFile } from '../support/files.ts';
import { startG2pBridge, type BridgeOptions, type G2pBridge } from '../peers/g2p-bridge.ts';
import { releasedList, usePaymentWorld } from './payment-world.ts';

/**
 * OpenG2P's G2P Bridge as the second payment hub: a released list pushed as one disbursement
 * envelope (its control totals declared first) and chunks of disbursements, each request signed
 * as a detached JWS in the `signature` header, every status pulled (the Bridge calls nothing back).
 * 20,000 entries on the server back end; 4,000 on the embedded one (one PGlite connection, about
 * 3x slower). There is no published Bridge spec to validate against as test/support/specs.ts does
 * for G2P Connect: every request the Bridge accepted is checked against the fields of its pydantic
 * schemas (core/models/.../schemas/disbursement_envelope.py and disbursement.py) by bridgeShapes.
 */

const ENTRIES = testBackend() === 'server' ? 20_000 : 4_000;
const SLOW = 600_000;
const PROGRAM = 'ASP-CASH';
const cents = (amount: number | string) => Math.round(Number(amount) * 100);

const payments = usePaymentWorld(SLOW);
const { query } = payments;

/** A Bridge on 127.0.0.1 and a hubs file naming it (beside the world's own). */
async function bridgeHub(name: string, partner: string, options: Partial<BridgeOptions> = {}) {
  const bridge = await startG2pBridge({ senderJwks: `${payments.world.api.base}/.well-known/jwks.json`, benefitProgram: PROGRAM, ...options });
  const hubsFile = path.join(payments.world.folder, `${name}.yaml`);
  const hub = { name, adapter: 'g2p-bridge', url: bridge.url, partner, benefit_program_mnemonic: PROGRAM, benefit_program_id: 7, benefit_code_id: 2, target_registry: 'SOCIAL', chunk_size: 1000, status_after_seconds: 1, retry: { attempts: 3, base_ms: 20, max_ms: 200, timeout_ms: 30_000 } };
  await writeFile(hubsFile, `hubs:\n  - ${JSON.stringify(hub)}\n`);
  return { bridge, hubsFile, close: () => bridge.close() };
}

const ENVELOPE_FIELDS = new Set(['id', 'benefit_program_id', 'benefit_program_mnemonic', 'benefit_program_description', 'target_registry', 'benefit_code_id', 'benefit_code_mnemonic',
  'benefit_code_description', 'benefit_type', 'disbursement_cycle_id', 'disbursement_frequency', 'cycle_code_mnemonic', 'number_of_beneficiaries', 'number_of_disbursements',
  'total_disbursement_quantity', 'measurement_unit', 'disbursement_schedule_date', 'receipt_time_stamp', 'cancellation_status', 'cancellation_timestamp']);
const DISBURSEMENT_FIELDS = new Set(['disbursement_id', 'disbursement_envelope_id', 'beneficiary_id', 'beneficiary_name', 'disbursement_quantity', 'narrative', 'receipt_time_stamp',
  'cancellation_status', 'cancellation_time_stamp', 'disbursement_cycle_id', 'disbursement_batch_control_id', 'response_error_codes']);

/** Problems of the accepted requests against the Bridge's request models (G2PRequestHeader and the payloads). */
function bridgeShapes(bridge: G2pBridge): string[] {
  const problems: string[] = [];
  for (const { path: p, body } of bridge.requests) {
    const h = body.request_header ?? {};
    for (const f of ['sender_app_mnemonic', 'sender_app_url', 'request_id']) if (typeof h[f] !== 'string' || !h[f]) problems.push(`${p}: request_header.${f}`);
    if (Number.isNaN(Date.parse(h.request_timestamp))) problems.push(`${p}: request_header.request_timestamp`);
    const payload = body.request_body?.request_payload;
    const unknown = (o: Record<string, unknown>, fields: Set<string>) => Object.keys(o).filter((k) => !fields.has(k)).map((k) => `${p}: unknown field ${k}`);
    if (p === '/create_disbursement_envelopes') payload.forEach((e: Record<string, unknown>) => problems.push(...unknown(e, ENVELOPE_FIELDS)));
    if (p === '/create_disbursements') {
      for (const d of payload) {
        problems.push(...unknown(d, DISBURSEMENT_FIELDS));
        if (typeof d.disbursement_id !== 'string' || typeof d.disbursement_quantity !== 'number') problems.push(`${p}: disbursement_id and disbursement_quantity`);
      }
    }
    if (p === '/get_disbursement_status' && !payload.every((id: unknown) => typeof id === 'string')) problems.push(`${p}: request_payload is a list of ids`);
  }
  return problems;
}

describe(`a ${ENTRIES.toLocaleString('en-US')}-entry list pushed through a G2P Bridge`, () => {
  it('is declared in one envelope with its control totals, sent once, and reconciled entirely by status pulls', async () => {
    const fields = ['registry_id', 'name', 'amount', 'currency', 'payment_channel', 'payment_account'];
    const { listId, entries } = await releasedList(payments.db.store, ENTRIES, { id: 'bank-named', fields, pseudonymise: false });
    // The bank fails about one payee in sixteen (the reference's last hex digit).
    const { bridge, hubsFile, close } = await bridgeHub('bridge', 'bank-named', { reject: (d) => (String(d.disbursement_id).endsWith('f') ? 'INVALID_ACCOUNT_NUMBER' : null) });
    try {
      const started = Date.now();
      const report = await disburseList(payments.db.store, listId, 'bridge', 'payer', { hubsFile, waitMs: 300_000, pollEveryMs: 250 });
      const ms = Date.now() - started;
      console.info(`g2p-bridge push of ${ENTRIES} entries (${testBackend()}): ${ms} ms, ${Math.round(ENTRIES / (ms / 1000))} entries/s; ${report.polled} status answers applied`);

      // One envelope, its control totals those of the list by plain arithmetic over its entries.
      expect(bridge.envelopes.size).toBe(1);
      const [envelope] = bridge.envelopes.values();
      const [list] = await query<{ currency: string }>(`SELECT currency FROM payment_lists WHERE id = $1`, [listId]);
      const listCents = entries.reduce((sum, e) => sum + cents(e.amount), 0);
      expect(envelope.payload).toMatchObject({
        id: `asp-engine-test.bridge.list-${listId}`, benefit_program_mnemonic: PROGRAM, benefit_program_id: 7, benefit_code_id: 2, target_registry: 'SOCIAL',
        benefit_type: 'CASH_DIGITAL', disbursement_frequency: 'OnDemand', cycle_code_mnemonic: `list-${listId}`,
        number_of_beneficiaries: entries.length, number_of_disbursements: entries.length, measurement_unit: list.currency.trim(),
      });
      expect(cents(envelope.payload.total_disbursement_quantity)).toBe(listCents);
      expect({ count: envelope.receivedCount, cents: envelope.receivedCents }).toEqual({ count: entries.length, cents: listCents });
      const [kept] = await query<{ hub_batch_id: string }>(`SELECT hub_batch_id FROM disbursements WHERE hub = 'bridge' AND list_id = $1`, [listId]);
      expect(kept.hub_batch_id).toBe(envelope.id);

      // Every entry sent once, by its reference id, named and identified as the release allows.
      expect(bridge.disbursements.size).toBe(ENTRIES);
      expect(bridge.replayed).toBe(0);
      expect(bridge.errors.size).toBe(0);
      const sent = bridge.requests.filter((r) => r.path === '/create_disbursements').flatMap((r) => r.body.request_body.request_payload as Record<string, any>[]);
      expect(sent.length).toBe(ENTRIES);
      const items = await query<{ reference_id: string }>(`SELECT reference_id FROM disbursement_items WHERE list_id = $1`, [listId]);
      expect(new Set(sent.map((d) => d.disbursement_id))).toEqual(new Set(items.map((i) => i.reference_id)));
      expect(new Set(sent.map((d) => d.beneficiary_id))).toEqual(new Set(entries.map((e) => e.registryId)));
      expect(sent.every((d) => /^Person \d+$/.test(d.beneficiary_name) && d.disbursement_envelope_id === envelope.id && d.narrative)).toBe(true);
      expect(bridgeShapes(bridge)).toEqual([]);

      // Reconciled by pulls alone: the paid and the failed as the bank reported them.
      const failed = [...bridge.disbursements.values()].filter((d) => d.errorReason).length;
      expect(failed).toBeGreaterThan(ENTRIES / 32);
      expect(report.complete).toBe(true);
      expect(report.sent).toEqual({ acked: 0, nacked: ENTRIES / 1000, errors: [], waiting: 0 });
      expect(report.reconciled).toBe(ENTRIES);
      expect(report.items).toMatchObject({ succ: ENTRIES - failed, rjct: failed });
      expect(report.callbacks).toBe(0);
      expect(report.polled).toBeGreaterThanOrEqual(ENTRIES);
      const [statuses] = await query<{ n: number; paid: number; failed: number; codes: string[] }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'paid')::int AS paid, count(*) FILTER (WHERE status = 'failed')::int AS failed,
                array_agg(DISTINCT reason) FILTER (WHERE status = 'failed') AS codes
           FROM payment_statuses WHERE list_id = $1`,
        [listId],
      );
      expect(statuses).toEqual({ n: ENTRIES, paid: ENTRIES - failed, failed, codes: ['rjct.bridge.invalid_account_number'] });

      // Pushed again: no second envelope, nothing sent twice.
      const requests = bridge.requests.length;
      const again = await disburseList(payments.db.store, listId, 'bridge', 'payer', { hubsFile });
      expect(again.sent).toEqual({ acked: 0, nacked: 0, errors: [], waiting: 0 });
      expect(bridge.requests.length).toBe(requests);
      expect(bridge.envelopes.size).toBe(1);
      expect(bridge.disbursements.size).toBe(ENTRIES);
    } finally {
      await close();
    }
  }, SLOW);
});

describe('the G2P Bridge adapter and test Bridge', () => {
  it('a pseudonymised partner gets no beneficiary_name, only its pseudonymous ids', async () => {
    const { listId } = await releasedList(payments.db.store, 60, { id: 'bank-pseudo', fields: ['pseudonymous_id', 'name', 'amount', 'currency'] });
    const { bridge, hubsFile, close } = await bridgeHub('bridge-pseudo', 'bank-pseudo');
    try {
      const report = await disburseList(payments.db.store, listId, 'bridge-pseudo', 'payer', { hubsFile, waitMs: 60_000, pollEveryMs: 100 });
      expect(report.complete).toBe(true);
      const sent = bridge.requests.filter((r) => r.path === '/create_disbursements').flatMap((r) => r.body.request_body.request_payload as Record<string, any>[]);
      expect(sent.length).toBe(60);
      expect(sent.filter((d) => 'beneficiary_name' in d)).toEqual([]);
      const pseudonyms = await releaseIds(payments.db.store, listId, 'bank-pseudo');
      expect(new Set(sent.map((d) => d.beneficiary_id))).toEqual(new Set(pseudonyms.values()));
      expect(bridgeShapes(bridge)).toEqual([]);
    } finally {
      await close();
    }
  }, SLOW);

  it('whose answers to two chunks are lost after it kept them: sent again, kept and paid once, the envelope counted once', async () => {
    const { listId, entries } = await releasedList(payments.db.store, 3000, { id: 'bank-lossy', fields: ['pseudonymous_id', 'amount', 'currency'] });
    const { bridge, hubsFile, close } = await bridgeHub('bridge-lossy', 'bank-lossy', { loseAnswers: 2 });
    try {
      const report = await disburseList(payments.db.store, listId, 'bridge-lossy', 'payer', { hubsFile, waitMs: 120_000, pollEveryMs: 100 });
      expect(bridge.lostAnswers).toBe(2);
      expect(report.complete).toBe(true);
      expect(report.sent.errors).toEqual([]);
      expect(report.reconciled).toBe(3000);
      expect(bridge.disbursements.size).toBe(3000);
      const [envelope] = bridge.envelopes.values();
      expect({ count: envelope.receivedCount, cents: envelope.receivedCents }).toEqual({ count: 3000, cents: entries.reduce((sum, e) => sum + cents(e.amount), 0) });
      const [statuses] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM payment_statuses WHERE list_id = $1`, [listId]);
      expect(statuses.n).toBe(3000);
    } finally {
      await close();
    }
  }, SLOW);

  it('refuses a forged or missing signature with rjct.jwt.invalid, keeping nothing', async () => {
    const { bridge, hubsFile, close } = await bridgeHub('bridge-forged', 'nobody');
    try {
      const key = (await engineKeyRing()).active;
      const body = {
        request_header: { request_id: 'r-1', request_timestamp: new Date().toISOString(), sender_app_mnemonic: 'asp-engine-test', sender_app_url: payments.world.api.base },
        request_body: { request_payload: [{ id: 'forged-1', benefit_program_mnemonic: PROGRAM, benefit_program_id: 7, benefit_code_id: 2, target_registry: 'SOCIAL', disbursement_frequency: 'OnDemand', cycle_code_mnemonic: 'c', number_of_beneficiaries: 1, number_of_disbursements: 1, total_disbursement_quantity: 10, measurement_unit: 'KES', disbursement_schedule_date: new Date().toISOString().slice(0, 10) }] },
      };
      const post = async (signature: string | null, sent: unknown = body) => {
        const response = await fetch(`${bridge.url}/create_disbursement_envelopes`, {
          method: 'POST', headers: { 'content-type': 'application/json', ...(signature === null ? {} : { signature }) }, body: JSON.stringify(sent),
        });
        return ((await response.json()) as { response_header: { response_status: string; response_error_code: string | null } }).response_header;
      };
      const valid = await detachedJws(canonicalJson(body), key);
      // A signature over other content (the declared total changed after signing).
      const tampered = structuredClone(body);
      tampered.request_body.request_payload[0].total_disbursement_quantity = 1_000_000;
      // A key that is not the engine's, under the engine's key id.
      const stranger = { ...key, privateKey: generateKeyPairSync('ed25519').privateKey };
      const refused = { response_status: 'ERROR', response_error_code: 'rjct.jwt.invalid' };
      expect(await post(valid, tampered)).toMatchObject(refused);
      expect(await post(await detachedJws(canonicalJson(body), stranger))).toMatchObject(refused);
      expect(await post(null)).toMatchObject(refused);
      expect(await post(valid.replace('..', '.e30.'))).toMatchObject(refused);
      expect(bridge.refusedSignatures).toBe(4);
      expect(bridge.envelopes.size).toBe(0);
      // The same body with its own signature is taken: the refusals were the signatures'.
      expect(await post(valid)).toMatchObject({ response_status: 'SUCCESS', response_error_code: null });
      expect(bridge.envelopes.size).toBe(1);
      // The adapter reads a signature refusal as such (not retried, not an invalid message).
      const adapter = adapterFor(await getHub('bridge-forged', hubsFile));
      expect(await adapter.send({ header: body.request_header, message: { transaction_id: 't', disbursements: [] } }, stranger, 'any')).toEqual({ kind: 'refused', error: 'create_disbursements: rjct.jwt.invalid' });
    } finally {
      await close();
    }
  });

  it('opens an envelope once, and the test Bridge refuses disbursements beyond its declared count or total', async () => {
    const { bridge, hubsFile, close } = await bridgeHub('bridge-totals', 'nobody');
    try {
      const key = (await engineKeyRing()).active;
      const adapter = adapterFor(await getHub('bridge-totals', hubsFile));
      const totals = { listId: 1, entries: 2, totalAmount: '30.00', currency: 'KES' };
      const envelopeId = await adapter.openBatch!(totals, key);
      // Opened again (a run that died before keeping the id): the same envelope, found by its id.
      expect(await adapter.openBatch!(totals, key)).toBe(envelopeId);
      expect(bridge.envelopes.size).toBe(1);
      // But not when the list's totals are not the ones the envelope declares.
      await expect(adapter.openBatch!({ ...totals, totalAmount: '31.00' }, key)).rejects.toThrow(/exists in the Bridge with other control totals \(2 disbursements, 30\) than the list's \(2, 31.00\)/);
      const item = (n: number, amount: string) => ({ reference_id: `R-${n}`, amount, currency_code: 'KES', note: 'test', meta: { beneficiary_id: `B-${n}` } });
      const chunk = (id: string, disbursements: ReturnType<typeof item>[]) =>
        adapter.prepareChunk({ messageId: `m-${id}`, transactionId: id, disbursements, now: new Date() });
      expect(await adapter.send(chunk('t1', [item(1, '10.00'), item(2, '10.00'), item(3, '5.00')]), key, envelopeId))
        .toEqual({ kind: 'err', error: 'create_disbursements: NO_OF_DISBUESEMENTS_EXCEEDS_DECLARED' });
      expect(await adapter.send(chunk('t2', [item(1, '10.00'), item(2, '20.01')]), key, envelopeId))
        .toEqual({ kind: 'err', error: 'create_disbursements: TOTAL_DISBURSEMENT_QUANTITY_EXCEEDS_DECLARED' });
      expect(bridge.disbursements.size).toBe(0);
      expect(await adapter.send(chunk('t3', [item(1, '10.00'), item(2, '20.00')]), key, envelopeId)).toEqual({ kind: 'nack' });
      // Sent again (an answer lost): the Bridge keeps the two once.
      expect(await adapter.send(chunk('t3', [item(1, '10.00'), item(2, '20.00')]), key, envelopeId)).toEqual({ kind: 'nack' });
      expect(bridge.disbursements.size).toBe(2);
      expect(bridge.replayed).toBe(2);
      expect(bridgeShapes(bridge)).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe('a hubs file with a g2p-bridge hub', () => {
  it('validates, with the Bridge fields; a Bridge without its program and a G2P Connect hub without a JWKS are named', async () => {
    const file = await tempFile('bridge-hubs.yaml', `hubs:
  - name: bridge
    adapter: g2p-bridge
    url: https://bridge.example.org/api/g2p-bridge/
    partner: national-bank
    benefit_program_mnemonic: CASH-ASP
    sender_app_mnemonic: asp-engine
`);
    const [hub] = await loadHubs(file);
    expect(hub).toMatchObject({ name: 'bridge', adapter: 'g2p-bridge', url: 'https://bridge.example.org/api/g2p-bridge', partnerId: 'national-bank', bridge: { benefitProgram: 'CASH-ASP', senderApp: 'asp-engine' } });
    expect(hub.jwks).toBeUndefined();
    const pulled = await tempFile('async-bridge-hubs.yaml', 'hubs:\n  - { name: b, adapter: g2p-bridge, url: "http://127.0.0.1:1", partner: p, benefit_program_mnemonic: X, status: async, jwks: j.json }\n');
    const refused = await loadHubs(pulled).catch((e: Error & { details?: string[] }) => e);
    expect((refused as { details: string[] }).details).toEqual([
      expect.stringMatching(/hubs\.0\.jwks: a g2p-bridge hub signs nothing for us to verify: leave jwks out$/),
      expect.stringMatching(/hubs\.0\.status: a g2p-bridge hub answers status requests in the response: status must be sync$/),
    ]);
    const bad = await tempFile('bad-bridge-hubs.yaml', `hubs:
  - name: bridge
    adapter: g2p-bridge
    url: https://bridge.example.org
    partner: national-bank
  - name: connect
    adapter: g2p-connect
    url: https://hub.example.org
    partner: mpesa
`);
    const error = await loadHubs(bad).catch((e: Error & { details?: string[] }) => e);
    expect((error as { details: string[] }).details).toEqual([
      expect.stringMatching(/hubs\.0\.benefit_program_mnemonic: a g2p-bridge hub needs the benefit program its envelopes are for$/),
      expect.stringMatching(/hubs\.1\.jwks: a g2p-connect hub needs the JWKS its callbacks are signed with$/),
    ]);
  });
});
