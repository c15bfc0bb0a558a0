/**
 * A DCI Social Registry (SR API 1.0.0) on 127.0.0.1 for tests and the bench: a real HTTP server
 * holding N generated households, deterministic from a seed and generated from their index on
 * demand (100,000 or 1,000,000 cost nothing until asked for). It speaks:
 *
 * - POST /registry/sync/search: a `last_updated ge` predicate, sorted by group identifier,
 *   paginated (page_size, page_number; total_count in the answer), signed;
 * - POST /registry/search: ACK, then one signed on-search callback per search_request item to
 *   header.sender_uri (optionally slow, sent twice, or dropped);
 * - POST /registry/txn/status: ACK, then a signed txn-on-status to its sender_uri carrying the
 *   pages asked for;
 * - POST /registry/subscribe (registry core API): ACK, then a signed on-subscribe to its sender_uri
 *   with one subscription code per event type; POST /registry/unsubscribe ends them (ACK);
 *   `notify()` pushes signed REGISTER / UPDATE / DEREGISTER events of Groups to the subscriber's
 *   notify_uri;
 * - GET /.well-known/jwks.json: its public key.
 *
 * It shares no code with the engine (its own canonical JSON, signing and paging, on node:crypto),
 * so a test that passes shows two implementations agreeing, not one agreeing with itself.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DciPeerOptions {
  households: number;
  seed?: number;
  /** P-codes to spread households over (given as the additional attribute admin_pcode). */
  pcodes: string[];
  /** The engine's JWKS: with it, requests must carry its valid signature. */
  engineJwks?: () => Promise<{ keys: Record<string, string>[] }> | { keys: Record<string, string>[] };
  senderId?: string;
}

type Json = Record<string, unknown>;

/** When every household not changed since was last updated. */
export const BASE_UPDATED = '2026-01-15T08:00:00.000Z';

export interface DciPeer {
  url: string;
  senderId: string;
  /** Every message received: path and body, for contract checks. */
  received: { path: string; body: Json }[];
  /** Every callback sent: URL, body, our answer's status and body. */
  callbacks: { url: string; body: Json; status: number; answer?: Json }[];
  /** Marks households (by index) as changed now: a new poverty score, a new last_updated. */
  touch(indexes: number[]): void;
  /** Replaces what the registry says of one household (e.g. a birth date in the future). */
  override(index: number, change: (group: Json) => Json): void;
  /** Answers the next `times` searches of page `page` (or any page) with this status. */
  failPage(page: number | 'any', status: number, times?: number): void;
  /** How async callbacks behave. */
  callbackMode: { delayMs: number; duplicate: boolean; drop: (referenceId: string) => boolean };
  /** Resolves once every callback under way has been sent (duplicates included). */
  settled(): Promise<void>;
  /** The group of household `index` as the registry holds it now. */
  group(index: number): Json;
  /** The subscriptions the engine asked for, live or ended. */
  subscriptions: { code: string; eventType: string; notifyUri: string; live: boolean }[];
  /**
   * Registers households `register` (new indexes), changes `update` (as touch) and deregisters
   * `deregister`, and notifies each live subscription of its event type, `perMessage` events a
   * notification. `duplicate` sends each notification twice (`'at-once'`: both copies together); `evenUnsubscribed` notifies ended
   * subscriptions too (a registry that missed the unsubscribe). Resolves with what was sent.
   */
  notify(changes: { register?: number[]; update?: number[]; deregister?: number[] }, options?: { perMessage?: number; duplicate?: boolean | 'at-once'; evenUnsubscribed?: boolean }): Promise<DciPeer['callbacks']>;
  /** The household as canonical registry CSV values (for the bench's CSV twin). */
  csvRow(index: number): string[];
  close(): Promise<void>;
}

export const CSV_HEADER = ['registry_id', 'admin_pcode', 'lat', 'lon', 'size', 'pmt_score', 'head_first_name', 'head_last_name', 'head_birth_date', 'national_id', 'phone', 'village'];

const FIRST = ['Amina', 'Baraka', 'Chiku', 'Daudi', 'Esther', 'Faraji', 'Grace', 'Hassan', 'Imani', 'Juma'];
const LAST = ['Achieng', 'Barasa', 'Chebet', 'Dida', 'Ekai', 'Galgalo', 'Halake', 'Jillo', 'Kipkemoi', 'Lokol'];

export async function startDciPeer(options: DciPeerOptions): Promise<DciPeer> {
  const seed = options.seed ?? 7;
  const senderId = options.senderId ?? 'sr.test';
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyId = 'sr-key-1';
  const changed = new Map<number, { version: number; at: string }>();
  const overrides = new Map<number, (group: Json) => Json>();
  const failures: { page: number | 'any'; status: number; times: number }[] = [];
  const received: DciPeer['received'] = [];
  const callbacks: DciPeer['callbacks'] = [];
  const callbackMode: DciPeer['callbackMode'] = { delayMs: 0, duplicate: false, drop: () => false };

  const pad = (i: number) => String(i + 1).padStart(7, '0');
  const random = (i: number, salt: number) => {
    // splitmix-style integer hash of (seed, index, salt): the same household every time.
    let x = (Math.imul(seed + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35) ^ Math.imul(salt + 17, 0x27d4eb2f)) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
    return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
  };
  const household = (i: number) => {
    const version = changed.get(i)?.version ?? 0;
    const birth = new Date(Date.UTC(1950 + Math.floor(random(i, 1) * 55), Math.floor(random(i, 2) * 12), 1 + Math.floor(random(i, 3) * 28)));
    return {
      id: `HH-${pad(i)}`,
      pcode: options.pcodes[Math.floor(random(i, 4) * options.pcodes.length)],
      lat: (-4 + random(i, 5) * 8).toFixed(5),
      lon: (34 + random(i, 6) * 8).toFixed(5),
      size: 1 + Math.floor(random(i, 7) * 9),
      score: Math.round(random(i, 8) * 10000) / 100 + version,
      first: FIRST[Math.floor(random(i, 9) * FIRST.length)],
      last: LAST[Math.floor(random(i, 10) * LAST.length)],
      birth: birth.toISOString().slice(0, 10),
      nationalId: `NID${pad(i)}`,
      phone: `+2547${String(Math.floor(random(i, 11) * 1e8)).padStart(8, '0')}`,
      village: `Village ${1 + Math.floor(random(i, 12) * 500)}`,
      updated: changed.get(i)?.at ?? BASE_UPDATED,
    };
  };
  const group = (i: number): Json => {
    const h = household(i);
    const head = {
      '@type': 'spdci:Member',
      member_identifier: [{ '@type': 'Identifier', identifier_type: 'NationalID', identifier_value: h.nationalId }],
      demographic_info: {
        '@type': 'SRPerson',
        identifier: [{ '@type': 'Identifier', identifier_type: 'NationalID', identifier_value: h.nationalId }],
        name: { '@type': 'Name', surname: h.last, given_name: h.first },
        birth_date: `${h.birth}T00:00:00Z`,
        phone_number: h.phone,
      },
      relationship_head: 'self',
    };
    const g: Json = {
      '@type': 'spdci:Group',
      group_identifier: [{ '@type': 'Identifier', identifier_type: 'HouseholdID', identifier_value: h.id }],
      group_type: 'household',
      place: { '@type': 'Place', geo: { '@type': 'GeoCoordinates', latitude: h.lat, longitude: h.lon } },
      poverty_score: h.score,
      poverty_score_type: 'PMT',
      group_head_info: head,
      group_size: h.size,
      member_list: [head],
      additional_attributes: [{ admin_pcode: h.pcode }, { village: h.village }],
      registration_date: '2025-06-01T00:00:00Z',
      last_updated: h.updated,
    };
    const override = overrides.get(i);
    return override ? override(g) : g;
  };

  // --- its own signing: canonical JSON (sorted keys), sha256 digest, ed25519 ---
  // JSON.stringify with every object's keys re-inserted in sorted order: the same text as a
  // recursive writer, several times faster on pages of a thousand groups (object keys here are
  // never integer-like, which JavaScript would order first).
  const sortKeys = (_key: string, value: unknown) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
    const sorted: Json = {};
    for (const k of Object.keys(value).sort()) sorted[k] = (value as Json)[k];
    return sorted;
  };
  const canonical = (value: unknown): string => JSON.stringify(value, sortKeys) ?? 'null';
  const signingText = (header: unknown, message: unknown, created: number, expires: number) =>
    `(created): ${created}\n(expires): ${expires}\ndigest: SHA-256=${createHash('sha256').update(canonical({ header, message })).digest('base64')}`;
  const signed = (header: Json, message: Json): Json => {
    const created = Math.floor(Date.now() / 1000);
    const expires = created + 300;
    const signature = sign(null, Buffer.from(signingText(header, message, created, expires)), privateKey).toString('base64');
    return {
      signature: `Signature: namespace="spdci", kidId="${senderId}|${keyId}|ed25519", algorithm="ed25519", created="${created}", expires="${expires}", headers="(created) (expires) digest", signature="${signature}"`,
      header,
      message,
    };
  };
  const engineSignatureProblem = async (body: Json): Promise<string | undefined> => {
    if (!options.engineJwks) return undefined;
    const params = Object.fromEntries([...String(body.signature ?? '').matchAll(/([A-Za-z]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const [sender, kid] = (params.kidId ?? '').split('|');
    const jwk = (await options.engineJwks()).keys.find((k) => k.kid === kid);
    if (!jwk || sender !== (body.header as Json)?.sender_id) return 'err.signature.missing';
    const key: KeyObject = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    const ok = verify(null, Buffer.from(signingText(body.header, body.message, Number(params.created), Number(params.expires))), key, Buffer.from(params.signature ?? '', 'base64'));
    return ok ? undefined : 'err.signature.invalid';
  };

  // --- its own search: the predicate, the order, the pages ---
  const matching = (since: string): { count: number; at: (k: number) => number } => {
    if (since <= BASE_UPDATED) return { count: options.households, at: (k) => k };
    const hits = [...changed.entries()].filter(([, c]) => c.at >= since).map(([i]) => i).sort((a, b) => a - b);
    return { count: hits.length, at: (k) => hits[k] };
  };
  const searchAnswer = (item: Json): Json => {
    const criteria = (item.search_criteria ?? {}) as Json;
    const predicate = Array.isArray(criteria.query) ? ((criteria.query[0] as Json)?.expression1 as Json) : undefined;
    const base = { reference_id: item.reference_id, timestamp: new Date().toISOString() };
    if (criteria.query_type !== 'predicate' || predicate?.attribute_name !== 'last_updated' || predicate.operator !== 'ge') {
      return { ...base, status: 'rjct', status_reason_code: 'rjct.search_criteria.invalid', status_reason_message: 'only last_updated ge is supported' };
    }
    const since = new Date(String(predicate.attribute_value)).toISOString();
    const pagination = (criteria.pagination ?? {}) as Json;
    const size = Number(pagination.page_size);
    const page = Number(pagination.page_number ?? 1);
    const found = matching(since);
    const records: Json[] = [];
    for (let k = (page - 1) * size; k < Math.min(found.count, page * size); k++) records.push(group(found.at(k)));
    return { ...base, status: 'succ', data: { version: '1.0.0', reg_records: records }, pagination: { page_size: size, page_number: page, total_count: found.count } };
  };
  const callbackHeader = (action: string, count: number): Json => ({
    version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action, status: 'succ',
    total_count: count, completed_count: count, sender_id: senderId,
  });
  const ack = (res: ServerResponse, correlationId: string, error?: string) =>
    json(res, 200, { message: { ack_status: error ? 'ERR' : 'ACK', timestamp: new Date().toISOString(), correlation_id: correlationId, ...(error ? { error: { code: error, message: error } } : {}) } });
  const sending = new Set<Promise<void>>();
  const post = (url: string, body: Json, atOnce = false): Promise<void> => {
    const once = async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
      const answer = (await response?.json().catch(() => undefined)) as Json | undefined;
      callbacks.push({ url, body, status: response?.status ?? 0, answer });
    };
    const sent = (async () => {
      if (atOnce) return void (await Promise.all([once(), once()]));
      for (let n = callbackMode.duplicate ? 2 : 1; n > 0; n--) await once();
    })();
    sending.add(sent);
    return sent.finally(() => sending.delete(sent));
  };
  const sendCallback = async (url: string, transactionId: string, correlationId: string, item: Json) => {
    if (callbackMode.drop(String(item.reference_id))) return;
    await new Promise((resolve) => setTimeout(resolve, callbackMode.delayMs));
    await post(url, signed(callbackHeader('on-search', 1), { transaction_id: transactionId, correlation_id: correlationId, search_response: [searchAnswer(item)] }));
  };
  /** txn/status is answered at the asker's txn/on-status with the pages asked for (never dropped). */
  const sendStatus = async (url: string, transactionId: string, correlationId: string, items: Json[]) => {
    const search_response = items.map(searchAnswer);
    await post(url, signed(callbackHeader('txn-on-status', items.length), {
      transaction_id: transactionId,
      correlation_id: correlationId,
      txnstatus_response: { txn_type: 'search', txn_status: { transaction_id: transactionId, correlation_id: correlationId, search_response } },
    }));
  };
  const asked = new Map<string, { url: string; transactionId: string; correlationId: string; items: Map<string, Json> }>();
  const subscriptions: DciPeer['subscriptions'] = [];
  let events = 0;
  /** Answers a subscribe: a code per subscribe_request item, sent to the subscriber's sender_uri. */
  const onSubscribe = async (url: string, message: Json, correlationId: string) => {
    const subscribe_response = ((message.subscribe_request as Json[]) ?? []).map((item) => {
      const criteria = (item.subscribe_criteria ?? {}) as Json;
      const code = `SUB-${subscriptions.length + 1}`;
      const notifyUri = String(criteria.notify_uri ?? url.replace(/on-subscribe$/, 'notify'));
      subscriptions.push({ code, eventType: String(criteria.reg_event_type), notifyUri, live: true });
      const timestamp = new Date().toISOString();
      // SubscriptionInfo names the code `code`, and requires `subscription_code` and `subscribe_criteria`: both sent.
      const info = { version: '1.0.0', code, subscription_code: code, status: 'subscribe', timestamp, reg_event_type: criteria.reg_event_type, filter_type: criteria.filter_type, filter: criteria.filter, notify_record_type: criteria.notify_record_type, subscribe_criteria: criteria };
      return { reference_id: item.reference_id, timestamp, status: 'succ', subscriptions: [info] };
    });
    await post(url, signed(callbackHeader('on-subscribe', subscribe_response.length), { transaction_id: message.transaction_id, correlation_id: correlationId, subscribe_response }));
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/.well-known/jwks.json') {
      const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
      return json(res, 200, { keys: [{ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: keyId, use: 'sig', alg: 'EdDSA' }] });
    }
    let body: Json;
    try {
      body = JSON.parse(await readBody(req)) as Json;
    } catch {
      return json(res, 400, { errors: [{ code: 'err.request.bad', message: 'not JSON' }] });
    }
    received.push({ path, body });
    const message = (body.message ?? {}) as Json;
    const header = (body.header ?? {}) as Json;
    const signatureProblem = await engineSignatureProblem(body);
    if (path === '/registry/sync/search') {
      const item = ((message.search_request as Json[]) ?? [])[0] ?? {};
      const page = Number(((item.search_criteria as Json)?.pagination as Json)?.page_number ?? 1);
      const failure = failures.find((f) => (f.page === 'any' || f.page === page) && f.times > 0);
      if (failure) {
        failure.times--;
        return json(res, failure.status, { errors: [{ code: 'err.service.unavailable', message: 'try later' }] });
      }
      if (signatureProblem) return json(res, 401, { errors: [{ code: signatureProblem, message: 'bad signature' }] });
      const items = (message.search_request as Json[]).map(searchAnswer);
      return json(res, 200, signed(callbackHeader('on-search', items.length), { transaction_id: message.transaction_id, correlation_id: randomUUID(), search_response: items }));
    }
    if (path === '/registry/search') {
      const correlationId = randomUUID();
      if (signatureProblem) return ack(res, correlationId, signatureProblem);
      const items = new Map(((message.search_request as Json[]) ?? []).map((i) => [String(i.reference_id), i]));
      const transactionId = String(message.transaction_id);
      // Later batches of the same transaction add their pages to what txn/status can resend.
      const known = asked.get(transactionId);
      if (known) for (const [r, i] of items) known.items.set(r, i);
      else asked.set(transactionId, { url: String(header.sender_uri), transactionId, correlationId, items });
      ack(res, correlationId);
      for (const item of items.values()) void sendCallback(String(header.sender_uri), transactionId, correlationId, item);
      return;
    }
    if (path === '/registry/subscribe') {
      const correlationId = randomUUID();
      if (signatureProblem) return ack(res, correlationId, signatureProblem);
      ack(res, correlationId);
      void onSubscribe(String(header.sender_uri), message, correlationId);
      return;
    }
    if (path === '/registry/unsubscribe') {
      if (signatureProblem) return ack(res, randomUUID(), signatureProblem);
      const codes = new Set((message.subscription_codes as string[]) ?? []);
      for (const sub of subscriptions) if (codes.has(sub.code)) sub.live = false;
      return ack(res, String(message.transaction_id));
    }
    if (path === '/registry/txn/status') {
      const request = (message.txnstatus_request ?? {}) as Json;
      const known = asked.get(String(message.transaction_id));
      if (signatureProblem || !known) return ack(res, randomUUID(), signatureProblem ?? 'err.request.not_found');
      ack(res, known.correlationId);
      const wanted = request.attribute_type === 'reference_id_list' ? (request.attribute_value as string[]) : [...known.items.keys()];
      const items = wanted.map((r) => known.items.get(r)).filter((i): i is Json => Boolean(i));
      void sendStatus(String(header.sender_uri ?? known.url), known.transactionId, known.correlationId, items);
      return;
    }
    json(res, 404, { errors: [{ code: 'err.request.not_found', message: path }] });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    senderId,
    received,
    callbacks,
    callbackMode,
    touch(indexes) {
      const at = new Date().toISOString();
      for (const i of indexes) changed.set(i, { version: (changed.get(i)?.version ?? 0) + 1, at });
    },
    override: (index, change) => void overrides.set(index, change),
    failPage: (page, status, times = Number.POSITIVE_INFINITY) => void failures.push({ page, status, times }),
    async settled() {
      while (sending.size > 0) await Promise.all([...sending]);
    },
    group,
    subscriptions,
    async notify(changes, { perMessage = 500, duplicate = false, evenUnsubscribed = false } = {}) {
      for (const i of changes.register ?? []) options.households = Math.max(options.households, i + 1);
      const at = new Date().toISOString();
      for (const i of [...(changes.register ?? []), ...(changes.update ?? []), ...(changes.deregister ?? [])]) changed.set(i, { version: (changed.get(i)?.version ?? 0) + 1, at });
      const sent: DciPeer['callbacks'] = [];
      const wasDuplicate = callbackMode.duplicate;
      callbackMode.duplicate = duplicate === true;
      try {
        for (const [eventType, indexes] of [['REGISTER', changes.register], ['UPDATE', changes.update], ['DEREGISTER', changes.deregister]] as const) {
          const sub = subscriptions.findLast((s) => s.eventType === eventType && (s.live || evenUnsubscribed));
          if (!sub || !indexes?.length) continue;
          for (let from = 0; from < indexes.length; from += perMessage) {
            const timestamp = new Date().toISOString();
            const notify_event = indexes.slice(from, from + perMessage).map((i) => ({
              reference_id: `EVT-${++events}`,
              timestamp,
              data: { version: '1.0.0', reg_type: 'spdci-social:SocialRegistry', reg_event_type: eventType, reg_record_type: 'spdci-social:Group', reg_records: group(i) },
            }));
            const body = signed(callbackHeader('notify', notify_event.length), { transaction_id: randomUUID(), notify_event });
            const before = callbacks.length;
            await post(sub.notifyUri, body, duplicate === 'at-once');
            sent.push(...callbacks.slice(before).filter((c) => c.body === body));
          }
        }
      } finally {
        callbackMode.duplicate = wasDuplicate;
      }
      return sent;
    },
    csvRow(i) {
      const h = household(i);
      return [h.id, h.pcode, h.lat, h.lon, String(h.size), String(h.score), h.first, h.last, h.birth, h.nationalId, h.phone, h.village];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
