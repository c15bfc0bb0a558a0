import { verifyEnvelope, type Verification } from '../interop/envelope-signature.ts';
import { peerKeys, type PeerKeys } from '../interop/jwks.ts';
import type { Hub } from './hubs.ts';

/** Keys of each hub's JWKS, kept between messages (refetched when a new key id appears). */
const hubKeys = new Map<string, PeerKeys>();

/** Whether a message is signed by the hub: its hub_id as sender_id and a key of its JWKS. */
export function verifyFromHub(hub: Hub, body: { signature?: unknown; header?: { sender_id?: unknown }; message?: unknown }): Promise<Verification> {
  const jwks = hub.jwks;
  if (!jwks) return Promise.resolve({ ok: false, reason: `hub ${hub.name} has no jwks configured` } as Verification);
  const id = `${hub.name} ${jwks}`;
  let keys = hubKeys.get(id);
  if (!keys) hubKeys.set(id, (keys = peerKeys(jwks)));
  const found = keys;
  return verifyEnvelope(body, (signer, keyId) => (signer === hub.hubId ? found.keyFor(keyId).catch(() => undefined) : undefined));
}
