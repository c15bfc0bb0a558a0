import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * A peer's public keys, from its JWKS (a URL such as https://hub/.well-known/jwks.json, or a file
 * an operator was handed). Fetched once and again when a signature names a key not seen yet, so a
 * peer that rotates its key is followed without a restart; at most once a minute, so a stream of
 * forged key ids cannot make us hammer the peer. One per source for the process, whoever asks
 * (a registry's pulls and its callbacks, a hub's callbacks).
 */
export interface PeerKeys {
  keyFor(keyId: string): Promise<KeyObject | undefined>;
}

const REFRESH_MS = 60_000;

const bySource = new Map<string, PeerKeys>();

export function peerKeys(source: string): PeerKeys {
  let found = bySource.get(source);
  if (!found) bySource.set(source, (found = keysFrom(source)));
  return found;
}

function keysFrom(source: string): PeerKeys {
  let keys = new Map<string, KeyObject>();
  let fetchedAt = 0;
  const refresh = async () => {
    const jwks = /^https?:\/\//.test(source) ? await fetchJson(source) : JSON.parse(await readFile(source, 'utf8'));
    keys = keysOf(jwks);
    fetchedAt = Date.now();
  };
  return {
    async keyFor(keyId) {
      if (!keys.has(keyId) && Date.now() - fetchedAt > REFRESH_MS) await refresh();
      return keys.get(keyId);
    },
  };
}

/** The Ed25519 keys of a JWKS by kid; other key types are not accepted for signatures here. */
export function keysOf(jwks: unknown): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  const list = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new Error('not a JWKS: no "keys" array');
  for (const jwk of list as Record<string, string>[]) {
    if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.kid !== 'string') continue;
    out.set(jwk.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }));
  }
  return out;
}

async function fetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}
