import { verifyEnvelope, type Verification } from '../interop/envelope-signature.ts';
import { peerKeys } from '../interop/jwks.ts';
import type { Hub } from './hubs.ts';

/** Whether a message is signed by the hub: its hub_id as sender_id and a key of its JWKS. */
export function verifyFromHub(hub: Hub, body: { signature?: unknown; header?: { sender_id?: unknown }; message?: unknown }): Promise<Verification> {
  const jwks = hub.jwks;
  if (!jwks) return Promise.resolve({ ok: false, reason: `hub ${hub.name} has no jwks configured` } as Verification);
  const found = peerKeys(jwks);
  return verifyEnvelope(body, (signer, keyId) => (signer === hub.hubId ? found.keyFor(keyId).catch(() => undefined) : undefined));
}
