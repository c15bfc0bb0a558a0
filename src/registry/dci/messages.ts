import { randomUUID, type KeyObject } from 'node:crypto';
import { signEnvelope, verifyEnvelope, type SigningKey } from '../../interop/envelope-signature.ts';
import { peerKeys, type PeerKeys } from '../../interop/jwks.ts';
import { readSecret, type SecretRef } from '../../interop/secrets.ts';
import { UserError } from '../../errors.ts';
import { log } from '../../log.ts';
import type { GroupMapping } from './group-record.ts';

/** A DCI social registry the engine pulls households from. */
export interface DciRegistry {
  /** Our name for it: pulls and their cursors are kept under this name. */
  name: string;
  /** Base URL; the API paths (/registry/sync/search, ...) are appended. */
  url: string;
  /** The registry's id, sent as header.receiver_id. */
  receiverId?: string;
  /** The registry's JWKS (URL or file): with it, responses and callbacks must carry its valid signature. */
  jwks?: string;
  /** An OAuth2 bearer token, by reference (never its value in configuration). */
  token?: SecretRef;
  pageSize: number;
  mapping: GroupMapping;
}

/** The engine as a DCI sender: its id and the key it signs with. */
export interface DciSender {
  key: SigningKey;
  /** Where the registry posts async results (`${ASP_PUBLIC_URL}/dci/registry/on-search`). */
  callbackUrl?: string;
}

export type Json = Record<string, unknown>;

/** `{signature, header, message}` for `action`, signed with the engine's key (namespace spdci). */
export function envelope(sender: DciSender, registry: DciRegistry, action: string, message: Json, extra: Json = {}): Json {
  const header = {
    version: '1.0.0',
    message_id: randomUUID(),
    message_ts: new Date().toISOString(),
    action,
    sender_id: sender.key.senderId,
    ...(registry.receiverId ? { receiver_id: registry.receiverId } : {}),
    total_count: 1,
    is_msg_encrypted: false,
    ...extra,
  };
  return { signature: signEnvelope({ header, message }, sender.key, 'spdci'), header, message };
}

/** The registry's keys, when its JWKS is configured; fetched once per process and on an unknown kid. */
export function registryKeys(registry: DciRegistry): PeerKeys | undefined {
  return registry.jwks ? peerKeys(registry.jwks) : undefined;
}

/** Checks a message from the registry; throws naming `what` when its signature is missing or wrong. */
export async function verifyFromRegistry(registry: DciRegistry, body: Json, what: string): Promise<void> {
  const keys = registryKeys(registry);
  if (!keys) return;
  const keyFor = (senderId: string, keyId: string): Promise<KeyObject | undefined> | undefined =>
    registry.receiverId && senderId !== registry.receiverId ? undefined : keys.keyFor(keyId);
  const verdict = await verifyEnvelope(body as Parameters<typeof verifyEnvelope>[0], keyFor);
  if (!verdict.ok) throw new UserError(`${what}: the registry's signature is not valid: ${verdict.reason}`);
}

const RETRY_DELAYS_MS = [500, 2000];

/**
 * POSTs a message and returns the JSON answer. A network error or a 5xx is retried twice (a
 * registry restarting); then, or on a 4xx, the error names the URL and status, never the body.
 */
export async function post(registry: DciRegistry, path: string, body: Json, what: string): Promise<Json> {
  const url = `${registry.url.replace(/\/+$/, '')}${path}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (registry.token) headers.authorization = `Bearer ${await readSecret(registry.token, `registry ${registry.name} token`)}`;
  for (let attempt = 0; ; attempt++) {
    let failure: string;
    try {
      const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
      if (response.ok) return (await response.json()) as Json;
      failure = `HTTP ${response.status}`;
      if (response.status < 500) throw new UserError(`${what}: ${url} answered ${failure}`);
    } catch (error) {
      if (error instanceof UserError) throw error;
      failure = (error as Error).message;
    }
    if (attempt >= RETRY_DELAYS_MS.length) throw new Error(`${what}: ${url} failed: ${failure}`);
    log.warn({ registry: registry.name, path, failure, attempt: attempt + 1 }, 'DCI registry request failed; retrying');
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
  }
}
