import { randomUUID } from 'node:crypto';
import { signEnvelope, type SigningKey } from '../interop/envelope-signature.ts';
import { readSecret } from '../interop/secrets.ts';
import { ITEM_STATUSES, type AdapterFactory, type Envelope, type ItemStatus, type ParsedCallback, type SendOutcome } from './adapter.ts';
import { verifyFromHub } from './hub-keys.ts';
import type { Hub } from './hubs.ts';

/**
 * G2P Connect disburse 1.0.0 (specs/g2pconnect-disburse_core_api_v1.0.0.yaml): `POST /disburse`
 * with the signed envelope, answered by an Ack; statuses come to `/g2p/on-disburse`, and are asked
 * for with txn/status (`/disburse/sync/txn/status` answered in the response, or `/disburse/txn/status`
 * answered at `/g2p/txn/on-status`). The header `action` of the two status requests is the value the
 * spec's enum allows for each (`search`, `on-disburse`), odd as they read.
 */
export const g2pConnectAdapter: AdapterFactory = (hub, { senderId, publicUrl }) => {
  const header = (action: string, messageId: string, totalCount: number, now: Date, callback: string) => ({
    version: '1.0.0',
    message_id: messageId,
    message_ts: now.toISOString(),
    action,
    sender_id: senderId,
    sender_uri: `${publicUrl}${callback}`,
    receiver_id: hub.hubId,
    total_count: totalCount,
    is_msg_encrypted: false,
  });

  const statusRequest = (transactionId: string, referenceIds: string[], action: string, key: SigningKey): Envelope & { signature: string } => {
    const envelope = {
      header: header(action, randomUUID(), referenceIds.length, new Date(), '/g2p/txn/on-status'),
      message: {
        transaction_id: transactionId,
        txnstatus_request: { reference_id: randomUUID(), txn_type: 'disburse', attribute_type: 'reference_id_list', attribute_value: referenceIds },
      },
    };
    return { signature: signEnvelope(envelope, key, 'g2p'), ...envelope };
  };

  return {
    prepareChunk: ({ messageId, transactionId, disbursements, now }) => ({
      header: header('disburse', messageId, disbursements.length, now, '/g2p/on-disburse'),
      message: { transaction_id: transactionId, disbursements },
    }),

    async send(envelope, key) {
      const answer = await post(hub, '/disburse', { signature: signEnvelope(envelope, key, 'g2p'), ...envelope });
      if (answer.kind !== 'answered') return answer;
      const ack = (answer.body as { message?: { ack_status?: unknown; error?: { code?: unknown; message?: unknown } } })?.message;
      if (ack?.ack_status === 'ACK') return { kind: 'ack' };
      if (ack?.ack_status === 'NACK') return { kind: 'nack' };
      if (ack?.ack_status === 'ERR') return { kind: 'err', error: `${ack.error?.code ?? 'err'}: ${ack.error?.message ?? 'no message'}` };
      return { kind: 'retry', error: 'the hub answered without an ack_status', unknown: true };
    },

    async queryStatus(transactionId, referenceIds, key) {
      if (hub.status === 'async') {
        const answer = await post(hub, '/disburse/txn/status', statusRequest(transactionId, referenceIds, 'on-disburse', key));
        if (answer.kind !== 'answered') throw new Error(`txn/status: ${answer.error}`);
        return null;
      }
      const answer = await post(hub, '/disburse/sync/txn/status', statusRequest(transactionId, referenceIds, 'search', key));
      if (answer.kind !== 'answered') throw new Error(`sync txn/status: ${answer.error}`);
      // The answer decides payments as a callback does: it must be the hub's, signed.
      const verified = await verifyFromHub(hub, answer.body as { signature?: unknown });
      if (!verified.ok) throw new Error(`sync txn/status: the answer is not signed by the hub: ${verified.reason}`);
      const parsed = readStatuses((answer.body as { message?: unknown })?.message, 'on-status');
      if (!parsed.ok) throw new Error(`sync txn/status: ${parsed.problem}`);
      return parsed.statuses;
    },

    parseCallback: (path, body) => readStatuses((body as { message?: unknown })?.message, path),
  };
};

/** An answer with a JSON body, or how the exchange failed. */
type Exchange = { kind: 'answered'; body: unknown } | Extract<SendOutcome, { kind: 'retry' | 'refused' }>;

async function post(hub: Hub, path: string, body: unknown): Promise<Exchange> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (hub.token) headers.authorization = `Bearer ${await readSecret(hub.token, `the token of hub ${hub.name}`)}`;
  let response: Response;
  try {
    response = await fetch(`${hub.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(hub.retry.timeoutMs) });
  } catch (error) {
    // Sent or not, we cannot tell: the hub may hold the message.
    return { kind: 'retry', error: `${path}: ${(error as Error).name === 'TimeoutError' ? 'no answer in time' : (error as Error).message}`, unknown: true };
  }
  const text = await response.text().catch(() => '');
  if (response.status >= 500) return { kind: 'retry', error: `${path}: HTTP ${response.status}`, unknown: false };
  if (response.status === 429) return { kind: 'retry', error: `${path}: HTTP 429`, unknown: false };
  // Only the spec's error code: a hub's message may quote the request (a payee's address).
  if (response.status >= 400) return { kind: 'refused', error: `${path}: HTTP ${response.status}${errorCode(text)}` };
  try {
    return { kind: 'answered', body: JSON.parse(text) };
  } catch {
    return { kind: 'retry', error: `${path}: the answer is not JSON`, unknown: true };
  }
}

/** The statuses of an on-disburse message (DisburseResponse) or a txn status answer (TxnStatusResponse). */
function readStatuses(message: unknown, path: 'on-disburse' | 'on-status'): ParsedCallback {
  const m = message as Record<string, any> | undefined;
  const response = path === 'on-disburse' ? m : m?.txnstatus_response?.txn_status;
  if (typeof m?.transaction_id !== 'string') return { ok: false, problem: 'message.transaction_id is missing' };
  const list = response?.disbursements_status;
  if (!Array.isArray(list)) return { ok: false, problem: `${path === 'on-disburse' ? 'message' : 'message.txnstatus_response.txn_status'}.disbursements_status is not a list` };
  const statuses: ItemStatus[] = [];
  for (const [i, s] of list.entries()) {
    if (typeof s?.reference_id !== 'string' || !(ITEM_STATUSES as readonly string[]).includes(s?.status)) {
      return { ok: false, problem: `disbursements_status[${i}]: needs a reference_id and a status of ${ITEM_STATUSES.join('|')}` };
    }
    statuses.push({
      referenceId: s.reference_id, status: s.status,
      reasonCode: typeof s.status_reason_code === 'string' ? s.status_reason_code : null,
      at: typeof s.timestamp === 'string' && !Number.isNaN(Date.parse(s.timestamp)) ? s.timestamp : null,
    });
  }
  return { ok: true, transactionId: m.transaction_id, statuses };
}

/** ` err.…` from an HttpErrorResponse or an Ack's error, or nothing. */
function errorCode(text: string): string {
  try {
    const body = JSON.parse(text) as { errors?: { code?: unknown }[]; message?: { error?: { code?: unknown } } };
    const code = body.errors?.[0]?.code ?? body.message?.error?.code;
    return typeof code === 'string' && /^[a-z_.]{1,60}$/.test(code) ? ` ${code}` : '';
  } catch {
    return '';
  }
}
