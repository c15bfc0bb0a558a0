import { createHash, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A G2P Connect disburse 1.0.0 payment hub on 127.0.0.1, standing in for a real one in tests. It
 * shares no code with the engine: its own canonical JSON, digest and ed25519 signatures.
 *
 * - `POST /disburse`: checks the sender's signature against the sender's JWKS (fetched from the
 *   URL it was given), records every disbursement, pays a reference_id once (a repeat is counted,
 *   not paid), answers the Ack, then POSTs a signed `on-disburse` to the header's sender_uri.
 * - `POST /disburse/sync/txn/status` answers the statuses it holds; `POST /disburse/txn/status`
 *   acknowledges and answers at sender_uri (`txn/on-status`).
 * - `GET /.well-known/jwks.json`: its own public key.
 *
 * Modes: drop a share of the statuses, send each callback twice, slow callbacks, the callback
 * before the Ack, 5xx on a message's first attempts, reject some payees, hold an answer.
 */

export interface HubOptions {
  /** The hub's sender_id in callbacks. */
  hubId: string;
  /** The engine's JWKS (its API's /.well-known/jwks.json). */
  senderJwks: string;
  /** Share of statuses never called back (deterministic per reference_id), e.g. 0.1. */
  dropShare?: number;
  /** Send every callback twice. */
  duplicateCallbacks?: boolean;
  /** Wait this long before a callback. */
  callbackDelayMs?: number;
  /** POST the callback (and wait for its answer) before answering the disburse request. */
  callbackBeforeAck?: boolean;
  /** Answer 503 to the first N attempts of each message, without keeping anything. */
  failFirstAttempts?: number;
  /** Rejection reason for a disbursement, or null to pay it. */
  reject?: (disbursement: Record<string, unknown>) => string | null;
  /** Answer every disburse request with this ERR (a message the hub finds invalid), keeping nothing. */
  answerErr?: { code: string; message: string };
  /** Called once a message is recorded, before it is answered (a test may hold the answer here). */
  beforeAnswer?: (messageId: string) => Promise<void>;
}

export interface Payment {
  referenceId: string;
  amount: string;
  status: 'rcvd' | 'succ' | 'rjct';
  reason: string | null;
  at: string;
  transactionId: string;
  /** Callback sent (or dropped) with the final status. */
  settled: boolean;
}

type Body = Record<string, any>;

export interface G2pHub {
  url: string;
  jwksUrl: string;
  /** Every request body it accepted, by path (validated against the spec by the tests). */
  requests: { path: string; body: Body }[];
  /** Every callback it sent, with our API's answer. */
  callbacks: { path: string; body: Body; status: number; answer: unknown }[];
  /** Each reference_id it holds, paid at most once. */
  payments: Map<string, Payment>;
  /** Deliveries of a reference_id it already held (not paid again). */
  duplicates: number;
  /** Requests refused for their signature. */
  refused: number;
  /** Resolves when every scheduled callback has been sent. */
  idle(): Promise<void>;
  close(): Promise<void>;
  /** Signs a body as this hub does (tests forge and replay with it). */
  sign(parts: { header: unknown; message: unknown }): string;
}

export async function startG2pHub(options: HubOptions): Promise<G2pHub> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyId = `hub-${randomUUID().slice(0, 8)}`;
  const attempts = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let senderKeys = new Map<string, KeyObject>();
  const hub: G2pHub = {
    url: '', jwksUrl: '', requests: [], callbacks: [], payments: new Map(), duplicates: 0, refused: 0,
    idle: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    close: async () => {},
    sign: (parts) => signature(parts, options.hubId, keyId, privateKey),
  };

  const senderKey = async (kid: string): Promise<KeyObject | undefined> => {
    if (!senderKeys.has(kid)) {
      const jwks = (await (await fetch(options.senderJwks)).json()) as { keys: Record<string, string>[] };
      senderKeys = new Map(jwks.keys.filter((k) => k.kty === 'OKP' && k.crv === 'Ed25519').map((k) => [k.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x }, format: 'jwk' })]));
    }
    return senderKeys.get(kid);
  };

  const callback = (uri: string, path: string, header: Body, message: Body) => {
    const callbackHeader = {
      version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'on-disburse', status: 'succ',
      total_count: header.total_count, completed_count: header.total_count, sender_id: options.hubId, receiver_id: header.sender_id, is_msg_encrypted: false,
    };
    const body = { signature: hub.sign({ header: callbackHeader, message }), header: callbackHeader, message };
    // Delivered as a hub does: tried again (up to three times) when the connection fails or the answer is a 5xx.
    const send = async () => {
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(uri, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => null);
        if ((response === null || response.status >= 500) && attempt < 3) {
          await response?.arrayBuffer();
          await new Promise((r) => setTimeout(r, 100 * attempt));
          continue;
        }
        hub.callbacks.push({ path, body, status: response?.status ?? 0, answer: await response?.json().catch(() => null) });
        return;
      }
    };
    const run = (async () => {
      await send();
      if (options.duplicateCallbacks) await send();
    })();
    return run;
  };

  const statusesOf = (referenceIds: string[]) =>
    referenceIds.flatMap((id) => {
      const p = hub.payments.get(id);
      return p ? [{ reference_id: id, timestamp: p.at, status: p.status, ...(p.reason ? { status_reason_code: p.reason } : {}), amount: p.amount }] : [];
    });

  const dropped = (referenceId: string) =>
    (createHash('sha256').update(referenceId).digest().readUInt32BE(0) / 2 ** 32) < (options.dropShare ?? 0);

  const disburse = async (body: Body, res: ServerResponse) => {
    const messageId = String(body.header.message_id);
    const attempt = (attempts.get(messageId) ?? 0) + 1;
    attempts.set(messageId, attempt);
    if (attempt <= (options.failFirstAttempts ?? 0)) return json(res, 503, { errors: [{ code: 'err.service.unavailable', message: 'try again' }] });
    if (options.answerErr) return ack(res, messageId, options.answerErr);
    hub.requests.push({ path: '/disburse', body });
    const fresh: Payment[] = [];
    for (const d of body.message.disbursements as Body[]) {
      if (hub.payments.has(d.reference_id)) {
        hub.duplicates += 1;
        continue;
      }
      const payment: Payment = { referenceId: d.reference_id, amount: d.amount, status: 'rcvd', reason: null, at: new Date().toISOString(), transactionId: body.message.transaction_id, settled: false };
      hub.payments.set(d.reference_id, payment);
      fresh.push(payment);
      const reason = options.reject?.(d) ?? null;
      Object.assign(payment, { next: reason ? { status: 'rjct', reason } : { status: 'succ', reason: null } });
    }
    const settle = async () => {
      if (options.callbackDelayMs) await new Promise((r) => setTimeout(r, options.callbackDelayMs));
      for (const p of fresh) Object.assign(p, (p as unknown as { next: object }).next, { at: new Date().toISOString(), settled: true });
      const reported = fresh.filter((p) => !dropped(p.referenceId)).map((p) => p.referenceId);
      if (reported.length === 0) return;
      await callback(String(body.header.sender_uri), '/on-disburse', body.header, { transaction_id: body.message.transaction_id, disbursements_status: statusesOf(reported) });
    };
    await options.beforeAnswer?.(messageId);
    if (options.callbackBeforeAck) await settle();
    else track(settle());
    ack(res, messageId);
  };

  const track = (work: Promise<void>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };

  const status = async (path: string, body: Body, res: ServerResponse) => {
    hub.requests.push({ path, body });
    const request = body.message.txnstatus_request as Body;
    const ids: string[] = request.attribute_type === 'reference_id_list'
      ? request.attribute_value
      : [...hub.payments.values()].filter((p) => p.transactionId === request.attribute_value).map((p) => p.referenceId);
    const message = {
      transaction_id: body.message.transaction_id, correlation_id: randomUUID(),
      txnstatus_response: { txn_type: 'on-disburse', txn_status: { transaction_id: body.message.transaction_id, disbursements_status: statusesOf(ids) } },
    };
    if (path === '/disburse/txn/status') {
      track(callback(String(body.header.sender_uri), '/txn/on-status', body.header, message));
      return ack(res, String(body.header.message_id));
    }
    const header = {
      version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'on-search', status: 'succ',
      total_count: ids.length, completed_count: message.txnstatus_response.txn_status.disbursements_status.length, sender_id: options.hubId, receiver_id: body.header.sender_id,
    };
    json(res, 200, { signature: hub.sign({ header, message }), header, message });
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((error) => json(res, 500, { errors: [{ code: 'err.service.unavailable', message: String(error) }] }));
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/.well-known/jwks.json') {
      const jwk = publicKey.export({ format: 'jwk' });
      return json(res, 200, { keys: [{ ...jwk, kid: keyId, use: 'sig', alg: 'EdDSA' }] });
    }
    if (req.method !== 'POST' || !['/disburse', '/disburse/sync/txn/status', '/disburse/txn/status'].includes(path)) return json(res, 404, { errors: [{ code: 'err.request.not_found', message: path }] });
    const text = await readBody(req);
    if (text === null) return; // the sender went away mid-request: nothing was received
    let body: Body;
    try {
      body = JSON.parse(text);
    } catch {
      return ack(res, '', { code: 'err.request.bad', message: 'not JSON' });
    }
    const problem = await checkSignature(body, senderKey);
    if (problem) {
      hub.refused += 1;
      return json(res, 401, { errors: [{ code: 'err.signature.invalid', message: problem }] });
    }
    if (path === '/disburse') return disburse(body, res);
    return status(path, body, res);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.jwksUrl = `${hub.url}/.well-known/jwks.json`;
  hub.close = async () => {
    await hub.idle();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return hub;
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('aborted', () => resolve(null));
    req.on('error', () => resolve(null));
  });
}

const json = (res: ServerResponse, status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const ack = (res: ServerResponse, correlationId: string, error?: { code: string; message: string }) =>
  json(res, 200, { message: { ack_status: error ? 'ERR' : 'ACK', timestamp: new Date().toISOString(), correlation_id: correlationId || randomUUID(), ...(error ? { error } : {}) } });

/** Sorted keys, no spaces: the JSON both sides hash. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Body)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Body)[k])}`).join(',')}}`;
}

function signingString(parts: { header: unknown; message: unknown }, created: number, expires: number): string {
  const digest = createHash('sha256').update(canonical({ header: parts.header, message: parts.message })).digest('base64');
  return `(created): ${created}\n(expires): ${expires}\ndigest: SHA-256=${digest}`;
}

function signature(parts: { header: unknown; message: unknown }, senderId: string, keyId: string, key: KeyObject): string {
  const created = Math.floor(Date.now() / 1000);
  const expires = created + 300;
  const value = sign(null, Buffer.from(signingString(parts, created, expires)), key).toString('base64');
  return `Signature: namespace="g2p", kidId="${senderId}|${keyId}|ed25519", algorithm="ed25519", created="${created}", expires="${expires}", headers="(created) (expires) digest", signature="${value}"`;
}

/** Why a request's signature is not good, or null. */
async function checkSignature(body: Body, keyFor: (kid: string) => Promise<KeyObject | undefined>): Promise<string | null> {
  if (typeof body.signature !== 'string') return 'not signed';
  const fields = Object.fromEntries([...body.signature.matchAll(/([A-Za-z]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const [sender, kid, algorithm] = String(fields.kidId ?? '').split('|');
  if (algorithm !== 'ed25519' || sender !== body.header?.sender_id) return 'kidId does not name the sender and ed25519';
  const now = Date.now() / 1000;
  if (!(Number(fields.created) <= now + 60 && Number(fields.expires) >= now - 60)) return 'expired';
  const key = await keyFor(kid);
  if (!key) return `unknown key ${kid}`;
  const ok = verify(null, Buffer.from(signingString(body as { header: unknown; message: unknown }, Number(fields.created), Number(fields.expires))), key, Buffer.from(fields.signature ?? '', 'base64'));
  return ok ? null : 'the signature does not match';
}
