import type { KeyObject } from 'node:crypto';
import { verifyEnvelope } from '../../interop/envelope-signature.ts';
import { peerKeys } from '../../interop/jwks.ts';
import type { Store } from '../../db/store.ts';

/**
 * The engine's side of async DCI searches: a search is recorded before it is sent
 * (`openSearch`), and callbacks (`on-search`, `txn/on-status`) are accepted into `dci_inbox` only
 * for a recorded search and only when signed by that registry's key (`acceptCallback`).
 */
export interface InboxSearch {
  transactionId: string;
  registry: string;
  registryUrl: string;
  jwks: string;
  receiverId?: string;
}

export async function openSearch(store: Store, search: InboxSearch): Promise<void> {
  await store.transaction(({ raw }) =>
    raw.query(
      `INSERT INTO dci_searches (transaction_id, registry, registry_url, jwks, receiver_id) VALUES ($1, $2, $3, $4, $5)`,
      [search.transactionId, search.registry, search.registryUrl, search.jwks, search.receiverId ?? null],
    ));
}

/** Forgets a search and every page it received (they hold personal data). */
export async function closeSearch(store: Store, transactionId: string): Promise<void> {
  await store.transaction(({ raw }) => raw.query(`DELETE FROM dci_searches WHERE transaction_id = $1`, [transactionId]));
}

/** The reference ids of the pages received so far. */
export async function receivedPages(store: Store, transactionId: string): Promise<Set<string>> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ reference_id: string }>(`SELECT reference_id FROM dci_inbox WHERE transaction_id = $1`, [transactionId]));
  return new Set(rows.map((r) => r.reference_id));
}

export type CallbackVerdict =
  | { ok: true; stored: number; correlationId: string }
  | { ok: false; status: 400 | 401 | 404 | 422; code: string; message: string };

type Json = Record<string, unknown>;

/**
 * Checks that a callback is signed by the registry we trust for it (`trusted`: its JWKS and, when
 * known, its sender id); none trusted (no such search or subscription) is a refusal like a bad
 * signature, so that an unsigned caller learns nothing. Shared by every callback we host.
 */
export async function verifyCallback(
  body: Json,
  trusted: { jwks: string; receiver_id: string | null } | undefined,
): Promise<{ ok: true; senderId: string } | { ok: false; status: 401; code: string; message: string }> {
  const keyFor = (senderId: string, keyId: string): Promise<KeyObject | undefined> | undefined =>
    !trusted || (trusted.receiver_id && senderId !== trusted.receiver_id) ? undefined : peerKeys(trusted.jwks).keyFor(keyId);
  const verdict = await verifyEnvelope(body as Parameters<typeof verifyEnvelope>[0], keyFor);
  if (!verdict.ok) {
    return { ok: false, status: 401, code: body.signature ? 'err.signature.invalid' : 'err.signature.missing', message: verdict.reason };
  }
  return { ok: true, senderId: verdict.senderId };
}

/**
 * Stores the search_response items of a callback body. `items` picks them out of the message
 * (on-search: message.search_response; txn-on-status: message.txnstatus_response.txn_status.search_response).
 * A page already received is kept as first received: a duplicate callback changes nothing.
 */
export async function acceptCallback(store: Store, body: Json, items: (message: Json) => unknown): Promise<CallbackVerdict> {
  const message = (body.message ?? {}) as Json;
  const header = (body.header ?? {}) as Json;
  const transactionId = String(message.transaction_id ?? '');
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ jwks: string; receiver_id: string | null }>(`SELECT jwks, receiver_id FROM dci_searches WHERE transaction_id = $1`, [transactionId]));
  // Verified before anything else is said: an unsigned caller learns nothing of our searches.
  const verdict = await verifyCallback(body, rows[0]);
  if (!verdict.ok) return verdict;
  const list = items(message);
  if (!Array.isArray(list)) return { ok: false, status: 400, code: 'err.request.bad', message: 'the message holds no search_response' };
  let stored = 0;
  await store.transaction(async ({ raw }) => {
    for (const item of list as Json[]) {
      if (typeof item?.reference_id !== 'string') continue;
      const result = await raw.query(
        `INSERT INTO dci_inbox (transaction_id, reference_id, message_id, sender_id, response) VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT (transaction_id, reference_id) DO NOTHING`,
        [transactionId, item.reference_id, String(header.message_id ?? ''), verdict.senderId, JSON.stringify(item)],
      );
      stored += result.rowCount;
    }
  });
  return { ok: true, stored, correlationId: String(message.correlation_id ?? transactionId) };
}
