import { CompactSign } from 'jose';
import { randomUUID } from 'node:crypto';
import { UserError } from '../errors.ts';
import { canonicalJson } from '../interop/canonical-json.ts';
import type { SigningKey } from '../interop/envelope-signature.ts';
import { readSecret } from '../interop/secrets.ts';
import type { AdapterFactory, Disbursement, ItemStatus, SendOutcome } from './adapter.ts';
import type { Hub } from './hubs.ts';

/**
 * OpenG2P's G2P Bridge partner API (OpenG2P/g2p-bridge, core/partner-api: controllers/
 * disbursement_envelope.py, controllers/disbursement.py, services/disbursement_status.py; shapes in
 * core/models/src/openg2p_g2p_bridge_models/schemas/disbursement_envelope.py):
 *
 * - every request is `{request_header: {request_id, request_timestamp, sender_app_mnemonic,
 *   sender_app_url}, request_body: {request_payload}}`, every answer `{response_header:
 *   {request_id, response_status: SUCCESS|ERROR, response_error_code, …}, response_body:
 *   {response_payload}}`, both with HTTP 200: an error is the header's status, not the HTTP code;
 * - a list is declared first as a disbursement envelope with its control totals
 *   (`/create_disbursement_envelopes`, bulk; `/create_disbursement_envelope` in the older
 *   openg2p-g2p-bridge-api), under an id the partner gives; the Bridge refuses disbursements that would take the
 *   envelope past them (NO_OF_DISBURSEMENTS_EXCEEDS_DECLARED, TOTAL_DISBURSEMENT_QUANTITY_EXCEEDS_DECLARED);
 * - chunks go to `/create_disbursements`, `disbursement_id` being our reference_id (the Bridge's
 *   key for the disbursement) and `disbursement_batch_control_id` our chunk's transaction id;
 *   the amount is `disbursement_quantity` in the current schema (older OpenAPI: disbursement_amount);
 * - the body is signed as a detached JWS (`header..signature`) over its sorted-key compact JSON,
 *   in an HTTP header `signature` (core/partner-api/tests/test_signature_validation.py); the Bridge
 *   finds our public keys by sender_app_mnemonic and accepts ES256, EdDSA, PS256 and RS256
 *   (core/models/.../crypto/constants.py), so the engine's own ed25519 key signs, as EdDSA;
 * - nothing is called back: statuses are pulled with `/get_disbursement_status`, which answers each
 *   id with the bank reconciliation records it holds (a remittance, a reversal or an error).
 */
export const g2pBridgeAdapter: AdapterFactory = (hub, { senderId, publicUrl }) => {
  const bridge = hub.bridge;
  if (!bridge) throw new UserError(`hub ${hub.name}: a g2p-bridge hub needs benefit_program_mnemonic`);
  const requestHeader = (requestId: string, now: Date) => ({
    request_id: requestId,
    request_timestamp: now.toISOString(),
    sender_app_mnemonic: bridge.senderApp ?? senderId,
    sender_app_url: publicUrl,
  });
  const call = (path: string, body: Record<string, unknown>, key: SigningKey) => post(hub, path, body, key);

  return {
    // Kept as the export wrote the items (reference_id, amount…): they become the Bridge's
    // payloads at each send, with the envelope id, which exists only once the outbox is filled.
    prepareChunk: ({ messageId, transactionId, disbursements, now }) => ({
      header: requestHeader(messageId, now),
      message: { transaction_id: transactionId, disbursements },
    }),

    async openBatch({ listId, entries, totalAmount, currency }, key) {
      // The partner names the envelope (services/disbursement_envelope.py takes the payload's id):
      // one id per engine, hub and list, so a push that died before keeping the id finds it again.
      const id = `${bridge.senderApp ?? senderId}.${hub.name}.list-${listId}`;
      const envelope = {
        id,
        benefit_program_mnemonic: bridge.benefitProgram,
        ...(bridge.programId === undefined ? {} : { benefit_program_id: bridge.programId }),
        ...(bridge.benefitCodeId === undefined ? {} : { benefit_code_id: bridge.benefitCodeId }),
        ...(bridge.targetRegistry === undefined ? {} : { target_registry: bridge.targetRegistry }),
        benefit_type: 'CASH_DIGITAL',
        disbursement_frequency: 'OnDemand',
        cycle_code_mnemonic: `list-${listId}`,
        number_of_beneficiaries: entries,
        number_of_disbursements: entries,
        total_disbursement_quantity: Number(totalAmount),
        measurement_unit: currency,
        disbursement_schedule_date: new Date().toISOString().slice(0, 10),
      };
      const answer = await call('/create_disbursement_envelopes', { request_header: requestHeader(randomUUID(), new Date()), request_body: { request_payload: [envelope] } }, key);
      if (answer.kind === 'answered' && answer.status === 'SUCCESS') return id;
      // Refused, or no answer: the envelope may exist from an earlier run. It is used only if it declares these totals.
      const status = await call('/get_disbursement_envelope_status', { request_header: requestHeader(randomUUID(), new Date()), request_body: { request_payload: id } }, key);
      const held = status.kind === 'answered' && status.status === 'SUCCESS' ? (status.payload as Record<string, unknown> | null) : null;
      if (held && held.number_of_disbursements_declared === entries && Math.round(Number(held.total_disbursement_quantity_declared) * 100) === Math.round(Number(totalAmount) * 100)) return id;
      const why = answer.kind === 'answered' ? answer.errorCode : answer.error;
      throw new Error(held
        ? `create_disbursement_envelopes: envelope ${id} exists in the Bridge with other control totals (${held.number_of_disbursements_declared} disbursements, ${held.total_disbursement_quantity_declared}) than the list's (${entries}, ${totalAmount})`
        : `create_disbursement_envelopes: the Bridge did not create envelope ${id}: ${why}`);
    },

    async send(envelope, key, batchId) {
      if (!batchId) return { kind: 'refused', error: 'no disbursement envelope was opened with the Bridge' };
      const { transaction_id: batchControlId, disbursements } = envelope.message as { transaction_id: string; disbursements: Disbursement[] };
      const body = {
        request_header: envelope.header,
        request_body: { disbursement_batch_control_id: batchControlId, request_payload: disbursements.map((d) => bridgeDisbursement(d, batchId, batchControlId)) },
      };
      const answer = await call('/create_disbursements', body, key);
      if (answer.kind !== 'answered') return answer;
      // Accepted; nothing is called back, so the statuses are asked for at once (poll.ts asks a NACKed message's items).
      if (answer.status === 'SUCCESS') return { kind: 'nack' };
      if (/^rjct\.jwt\./.test(answer.errorCode)) return { kind: 'refused', error: `create_disbursements: ${answer.errorCode}` };
      return { kind: 'err', error: `create_disbursements: ${answer.errorCode}` };
    },

    async queryStatus(_transactionId, referenceIds, key) {
      const answer = await call('/get_disbursement_status', { request_header: requestHeader(randomUUID(), new Date()), request_body: { request_payload: referenceIds } }, key);
      if (answer.kind !== 'answered') throw new Error(`get_disbursement_status: ${answer.error}`);
      if (answer.status !== 'SUCCESS') throw new Error(`get_disbursement_status: ${answer.errorCode}`);
      if (!Array.isArray(answer.payload)) throw new Error('get_disbursement_status: response_payload is not a list');
      const asked = new Set(referenceIds);
      return answer.payload.map(statusOf).filter((s): s is ItemStatus => s !== null && asked.has(s.referenceId));
    },

    parseCallback: () => ({ ok: false, problem: 'the G2P Bridge does not call back: its statuses are pulled' }),
  };
};

/** One of our items as a Bridge DisbursementPayload: a name only when the release gave one. */
function bridgeDisbursement(d: Disbursement, envelopeId: string, batchControlId: string): Record<string, unknown> {
  return {
    disbursement_id: d.reference_id,
    disbursement_envelope_id: envelopeId,
    beneficiary_id: String((d.meta as { beneficiary_id?: unknown } | undefined)?.beneficiary_id ?? ''),
    ...(typeof d.payee_name === 'string' ? { beneficiary_name: d.payee_name } : {}),
    disbursement_quantity: Number(d.amount),
    // The Bridge refuses an empty narrative (INVALID_NARRATIVE).
    narrative: typeof d.note === 'string' && d.note ? d.note : batchControlId,
  };
}

/**
 * A DisbursementStatusPayload as one of our statuses: an error reconciliation or a reversal is a
 * rejection, a remittance a payment; no record yet says nothing (the Bridge answers an id it does
 * not know the same way), so the item is left as it is. The id is `reconciliation_id` in the
 * current schema, `disbursement_id` in older ones.
 */
function statusOf(entry: any): ItemStatus | null {
  const referenceId = entry?.reconciliation_id ?? entry?.disbursement_id;
  if (typeof referenceId !== 'string') return null;
  const records = entry.disbursement_recon_records ?? {};
  const errors: any[] = Array.isArray(records.disbursement_error_recon_payloads) ? records.disbursement_error_recon_payloads : [];
  const remittances: any[] = Array.isArray(records.disbursement_recon_payloads) ? records.disbursement_recon_payloads : [];
  const dated = (...values: unknown[]) => (values.find((v) => typeof v === 'string' && !Number.isNaN(Date.parse(v))) as string | undefined) ?? null;
  const reversal = remittances.find((r) => r?.reversal_found === true);
  if (errors.length > 0) {
    const code = typeof errors[0]?.error_reason === 'string' ? errors[0].error_reason : 'error';
    return { referenceId, status: 'rjct', reasonCode: `rjct.bridge.${code.toLowerCase()}`.slice(0, 60), at: dated(errors[0]?.value_date, errors[0]?.entry_date) };
  }
  if (reversal) return { referenceId, status: 'rjct', reasonCode: 'rjct.bridge.reversed', at: dated(reversal.reversal_value_date, reversal.reversal_entry_date) };
  if (remittances.length > 0) return { referenceId, status: 'succ', reasonCode: null, at: dated(remittances[0]?.remittance_value_date, remittances[0]?.remittance_entry_date) };
  return null;
}

/** A detached compact JWS (`header..signature`) over the body's sorted-key compact JSON, with our EdDSA key. */
export async function detachedJws(bodyJson: string, key: SigningKey): Promise<string> {
  const jws = await new CompactSign(new TextEncoder().encode(bodyJson)).setProtectedHeader({ alg: 'EdDSA', kid: key.keyId }).sign(key.privateKey);
  const [protectedHeader, , signature] = jws.split('.');
  return `${protectedHeader}..${signature}`;
}

type BridgeExchange =
  | { kind: 'answered'; status: string; errorCode: string; payload: unknown }
  | Extract<SendOutcome, { kind: 'retry' | 'refused' }>;

async function post(hub: Hub, path: string, body: Record<string, unknown>, key: SigningKey): Promise<BridgeExchange> {
  const text = canonicalJson(body);
  const headers: Record<string, string> = { 'content-type': 'application/json', signature: await detachedJws(text, key) };
  if (hub.token) headers.authorization = `Bearer ${await readSecret(hub.token, `the token of hub ${hub.name}`)}`;
  let response: Response;
  try {
    response = await fetch(`${hub.url}${path}`, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(hub.retry.timeoutMs) });
  } catch (error) {
    return { kind: 'retry', error: `${path}: ${(error as Error).name === 'TimeoutError' ? 'no answer in time' : (error as Error).message}`, unknown: true };
  }
  const answer = await response.text().catch(() => '');
  if (response.status >= 500 || response.status === 429) return { kind: 'retry', error: `${path}: HTTP ${response.status}`, unknown: false };
  if (response.status >= 400) return { kind: 'refused', error: `${path}: HTTP ${response.status}` };
  let parsed: { response_header?: { response_status?: unknown; response_error_code?: unknown }; response_body?: { response_payload?: unknown } };
  try {
    parsed = JSON.parse(answer);
  } catch {
    return { kind: 'retry', error: `${path}: the answer is not JSON`, unknown: true };
  }
  const code = parsed.response_header?.response_error_code;
  return {
    kind: 'answered',
    status: String(parsed.response_header?.response_status ?? ''),
    // Only a code-like value: an error message may quote the request.
    errorCode: typeof code === 'string' && /^[A-Za-z0-9_.]{1,80}$/.test(code) ? code : 'no error code',
    payload: parsed.response_body?.response_payload,
  };
}
