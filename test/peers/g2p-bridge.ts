import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OpenG2P G2P Bridge partner API on 127.0.0.1, standing in for a real one in tests, as read in
 * OpenG2P/g2p-bridge (core/partner-api controllers and services, core/models schemas). It shares
 * no code with the engine: its own sorted-key JSON and its own JWS check with node:crypto.
 *
 * - Every request carries a detached JWS (`header..signature`) in the `signature` header over the
 *   body's sorted-key compact JSON, checked against the sender's JWKS (fetched from the URL it was
 *   given, as the Bridge holds onboarded partners' keys); EdDSA only here. A bad or missing one is
 *   answered, as the Bridge does, with HTTP 200 and response_status ERROR, code `rjct.jwt.invalid`.
 * - `POST /create_disbursement_envelopes` declares envelopes (ids given by the partner) with their
 *   control totals, refusing one without the fields the Bridge requires; `POST /create_disbursements`
 *   refuses a batch that would take its envelope past them (number or total, in cents), keeps each
 *   disbursement_id once (a batch control id sent again with the same ids is answered SUCCESS and
 *   paid nothing more; another batch holding a kept id is refused), and settles each disbursement
 *   `settleAfterMs` later: a remittance record, or an error record when `reject` names a reason;
 *   `loseAnswers` answers 503 to the first batches it keeps (an answer lost after the Bridge kept them).
 * - `POST /get_disbursement_status` answers each id with the reconciliation records it holds
 *   (none yet, or none for an unknown id); `POST /get_disbursement_envelope_status` the envelope's
 *   declared and received totals.
 */

export interface BridgeOptions {
  /** The engine's JWKS (its API's /.well-known/jwks.json). */
  senderJwks: string;
  /** The benefit program configured in the Bridge; other mnemonics get INVALID_PROGRAM_ID. */
  benefitProgram: string;
  /** How long after its receipt a disbursement is reconciled by the bank (default 50 ms). */
  settleAfterMs?: number;
  /** An error reason (G2PBridgeErrorCodes, e.g. INVALID_ACCOUNT_NUMBER) for a disbursement, or null to pay it. */
  reject?: (disbursement: Body) => string | null;
  /** Answer 503 to the first N create_disbursements batches it keeps (the answer is lost, the batch is not). */
  loseAnswers?: number;
}

type Body = Record<string, any>;

export interface Envelope {
  id: string;
  payload: Body;
  declaredCount: number;
  declaredCents: number;
  receivedCount: number;
  receivedCents: number;
}

export interface BridgeDisbursement {
  payload: Body;
  batchControlId: string;
  settleAt: number;
  errorReason: string | null;
}

export interface G2pBridge {
  url: string;
  /** Every request it accepted (signature valid), by path. */
  requests: { path: string; body: Body }[];
  /** Requests refused for their signature. */
  refusedSignatures: number;
  envelopes: Map<string, Envelope>;
  /** Kept disbursements by disbursement_id: each paid once. */
  disbursements: Map<string, BridgeDisbursement>;
  /** Disbursement ids received again in a replayed batch (not paid again). */
  replayed: number;
  /** ERROR answers sent, by code. */
  errors: Map<string, number>;
  /** Kept batches answered 503 (loseAnswers). */
  lostAnswers: number;
  close(): Promise<void>;
}

const cents = (quantity: unknown) => Math.round(Number(quantity) * 100);

export async function startG2pBridge(options: BridgeOptions): Promise<G2pBridge> {
  const bridge: G2pBridge = {
    url: '', requests: [], refusedSignatures: 0, envelopes: new Map(), disbursements: new Map(), replayed: 0, errors: new Map(), lostAnswers: 0,
    close: async () => {},
  };
  const batches = new Map<string, string[]>();
  let senderKeys = new Map<string, KeyObject>();

  const keyFor = async (kid: string): Promise<KeyObject | undefined> => {
    if (!senderKeys.has(kid)) {
      const jwks = (await (await fetch(options.senderJwks)).json()) as { keys: Record<string, string>[] };
      senderKeys = new Map(jwks.keys.filter((k) => k.kty === 'OKP' && k.crv === 'Ed25519').map((k) => [k.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x }, format: 'jwk' })]));
    }
    return senderKeys.get(kid);
  };

  /** Whether `signature` is a valid detached EdDSA JWS over the body's sorted-key JSON. */
  const signatureValid = async (signature: string | undefined, body: unknown): Promise<boolean> => {
    const parts = (signature ?? '').split('.');
    if (parts.length !== 3 || parts[1] !== '') return false;
    let header: { alg?: string; kid?: string };
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    } catch {
      return false;
    }
    if (header.alg !== 'EdDSA' || typeof header.kid !== 'string') return false;
    const key = await keyFor(header.kid).catch(() => undefined);
    if (!key) return false;
    const signingInput = `${parts[0]}.${Buffer.from(sortedJson(body)).toString('base64url')}`;
    return verify(null, Buffer.from(signingInput), key, Buffer.from(parts[2], 'base64url'));
  };

  const answer = (res: ServerResponse, request: Body, payload: unknown, errorCode: string | null = null) => {
    if (errorCode) bridge.errors.set(errorCode, (bridge.errors.get(errorCode) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      response_header: {
        request_id: request?.request_header?.request_id ?? null,
        response_status: errorCode ? 'ERROR' : 'SUCCESS',
        response_error_code: errorCode,
        response_error_message: errorCode,
        response_timestamp: new Date().toISOString(),
      },
      response_body: { response_payload: payload },
    }));
  };

  /** The first problem of an envelope payload, as services/disbursement_envelope.py validates it, or null. */
  const envelopeProblem = (payload: Body): string | null => {
    if (!payload.id) return 'INVALID_DISBURSEMENT_ENVELOPE_ID';
    if (payload.benefit_program_id === undefined || payload.benefit_program_id === null || payload.benefit_program_mnemonic !== options.benefitProgram) return 'INVALID_PROGRAM_ID';
    if (!['Daily', 'Weekly', 'Fortnightly', 'Monthly', 'BiMonthly', 'Quarterly', 'SemiAnnually', 'Annually', 'OnDemand'].includes(payload.disbursement_frequency)) return 'INVALID_DISBURSEMENT_FREQUENCY';
    if (!payload.cycle_code_mnemonic) return 'INVALID_CYCLE_CODE_MNEMONIC';
    if (!(payload.number_of_beneficiaries >= 1)) return 'INVALID_NO_OF_BENEFICIARIES';
    if (!(payload.number_of_disbursements >= 1)) return 'INVALID_NO_OF_DISBURSEMENTS';
    if (!(payload.total_disbursement_quantity >= 0)) return 'INVALID_DISBURSEMENT_QUANTITY';
    if (payload.benefit_code_id === undefined || payload.benefit_code_id === null) return 'INVALID_BENEFIT_CODE_ID';
    if (!payload.target_registry) return 'INVALID_TARGET_REGISTRY';
    if (!/^[A-Z]{3}$/.test(payload.measurement_unit ?? '')) return 'INVALID_DISBURSEMENT_CURRENCY_CODE';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(payload.disbursement_schedule_date ?? '') || payload.disbursement_schedule_date < new Date().toISOString().slice(0, 10)) return 'INVALID_DISBURSEMENT_SCHEDULE_DATE';
    return null;
  };

  // Bulk; the partner names each envelope. An id it holds already is a primary key violation the
  // real service does not catch: HTTP 500.
  const createEnvelopes = (request: Body, res: ServerResponse) => {
    const payloads = (request.request_body?.request_payload ?? []) as Body[];
    if (payloads.length === 0) return answer(res, request, [], 'REQUEST_VALIDATION_ERROR');
    for (const payload of payloads) {
      const problem = envelopeProblem(payload);
      if (problem) return answer(res, request, [], problem);
    }
    if (payloads.some((p) => bridge.envelopes.has(String(p.id)))) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: 'duplicate key value violates unique constraint' }));
      return;
    }
    for (const payload of payloads) {
      bridge.envelopes.set(String(payload.id), {
        id: String(payload.id), payload, declaredCount: payload.number_of_disbursements, declaredCents: cents(payload.total_disbursement_quantity), receivedCount: 0, receivedCents: 0,
      });
    }
    answer(res, request, payloads);
  };

  const createDisbursements = (request: Body, res: ServerResponse) => {
    const batchControlId = String(request.request_body?.disbursement_batch_control_id ?? '');
    const payloads = (request.request_body?.request_payload ?? []) as Body[];
    if (payloads.length === 0) return answer(res, request, [], 'REQUEST_VALIDATION_ERROR');
    const envelopeId = payloads[0].disbursement_envelope_id;
    if (!payloads.every((p) => p.disbursement_envelope_id === envelopeId)) return answer(res, request, payloads, 'MULTIPLE_ENVELOPES_FOUND');
    const envelope = bridge.envelopes.get(String(envelopeId));
    if (!envelope) return answer(res, request, payloads, 'DISBURSEMENT_ENVELOPE_NOT_FOUND');
    const ids = payloads.map((p) => String(p.disbursement_id));
    // The same batch again (a retry whose answer was lost): kept already, paid once.
    const earlier = batches.get(batchControlId);
    if (earlier && earlier.length === ids.length && earlier.every((id, i) => id === ids[i])) {
      bridge.replayed += ids.length;
      return answer(res, request, payloads);
    }
    let valid = true;
    const checked = payloads.map((p) => {
      const codes: string[] = [];
      if (!p.disbursement_id || bridge.disbursements.has(String(p.disbursement_id))) codes.push('INVALID_DISBURSEMENT_ID');
      if (typeof p.disbursement_quantity !== 'number' || p.disbursement_quantity < 0) codes.push('INVALID_DISBURSEMENT_QUANTITY');
      if (!p.beneficiary_id) codes.push('INVALID_BENEFICIARY_ID');
      if (!p.narrative) codes.push('INVALID_NARRATIVE');
      if (codes.length > 0) valid = false;
      return { ...p, response_error_codes: codes };
    });
    if (!valid || new Set(ids).size !== ids.length) return answer(res, request, checked, 'INVALID_DISBURSEMENT_PAYLOAD');
    const batchCents = payloads.reduce((sum, p) => sum + cents(p.disbursement_quantity), 0);
    if (envelope.receivedCount + payloads.length > envelope.declaredCount) return answer(res, request, payloads, 'NO_OF_DISBUESEMENTS_EXCEEDS_DECLARED');
    if (envelope.receivedCents + batchCents > envelope.declaredCents) return answer(res, request, payloads, 'TOTAL_DISBURSEMENT_QUANTITY_EXCEEDS_DECLARED');
    envelope.receivedCount += payloads.length;
    envelope.receivedCents += batchCents;
    batches.set(batchControlId, ids);
    const settleAt = Date.now() + (options.settleAfterMs ?? 50);
    for (const p of payloads) bridge.disbursements.set(String(p.disbursement_id), { payload: p, batchControlId, settleAt, errorReason: options.reject?.(p) ?? null });
    if (bridge.lostAnswers < (options.loseAnswers ?? 0)) {
      bridge.lostAnswers += 1;
      res.writeHead(503).end();
      return;
    }
    answer(res, request, payloads.map((p) => ({ ...p, receipt_time_stamp: new Date().toISOString(), disbursement_batch_control_id: batchControlId })));
  };

  const disbursementStatus = (request: Body, res: ServerResponse) => {
    const ids = request.request_body?.request_payload;
    if (!Array.isArray(ids)) return answer(res, request, [], 'REQUEST_VALIDATION_ERROR');
    const now = Date.now();
    answer(res, request, ids.map((id: string) => {
      const d = bridge.disbursements.get(id);
      const settled = d && d.settleAt <= now;
      const at = d ? new Date(d.settleAt).toISOString() : null;
      return {
        reconciliation_id: id,
        disbursement_recon_records: {
          disbursement_recon_payloads: settled && !d.errorReason
            ? [{ disbursement_batch_control_id: d.batchControlId, disbursement_id: id, disbursement_envelope_id: d.payload.disbursement_envelope_id, remittance_reference_number: `RMT-${id.slice(-12)}`, remittance_entry_date: at, remittance_value_date: at, reversal_found: false }]
            : [],
          disbursement_error_recon_payloads: settled && d.errorReason ? [{ reconciliation_id: id, error_reason: d.errorReason, entry_date: at, value_date: at }] : [],
        },
      };
    }));
  };

  const envelopeStatus = (request: Body, res: ServerResponse) => {
    const envelope = bridge.envelopes.get(String(request.request_body?.request_payload ?? ''));
    if (!envelope) return answer(res, request, null, 'DISBURSEMENT_ENVELOPE_NOT_FOUND');
    const reconciled = [...bridge.disbursements.values()].filter((d) => d.payload.disbursement_envelope_id === envelope.id && d.settleAt <= Date.now()).length;
    answer(res, request, {
      disbursement_envelope_id: envelope.id,
      measurement_unit: envelope.payload.measurement_unit,
      number_of_beneficiaries_declared: envelope.payload.number_of_beneficiaries,
      number_of_disbursements_declared: envelope.declaredCount,
      number_of_disbursements_received: envelope.receivedCount,
      total_disbursement_quantity_declared: envelope.declaredCents / 100,
      total_disbursement_quantity_received: envelope.receivedCents / 100,
      funds_blocked_attempts: 0,
      number_of_disbursements_reconciled: reconciled,
    });
  };

  const routes: Record<string, (request: Body, res: ServerResponse) => void> = {
    '/create_disbursement_envelopes': createEnvelopes,
    '/create_disbursements': createDisbursements,
    '/get_disbursement_status': disbursementStatus,
    '/get_disbursement_envelope_status': envelopeStatus,
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const route = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
        if (!route) {
          res.writeHead(404).end();
          return;
        }
        let body: Body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: 'the body is not JSON' }));
          return;
        }
        if (!(await signatureValid(req.headers.signature as string | undefined, body))) {
          bridge.refusedSignatures += 1;
          return answer(res, body, [], 'rjct.jwt.invalid');
        }
        bridge.requests.push({ path: req.url!, body });
        route(body, res);
      } catch (error) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: (error as Error).message }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  bridge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  bridge.close = () => new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return bridge;
}

/** Compact JSON with object keys sorted at every level (orjson's OPT_SORT_KEYS form). */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => sortedJson(v)).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => (value as Body)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson((value as Body)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
