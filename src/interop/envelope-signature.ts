import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';

/**
 * The `signature` of a DCI or G2P Connect message (MsgSignature in both specs): a string in the
 * HTTP-signature style over the message's `header` and `message`,
 *
 *   Signature: namespace="g2p", kidId="{sender_id}|{key_id}|ed25519", algorithm="ed25519",
 *   created="1606970629", expires="1606970929", headers="(created) (expires) digest",
 *   signature="<base64 ed25519 over the signing string>"
 *
 * where the signing string is the three lines `(created): C`, `(expires): E` and
 * `digest: SHA-256=<base64 sha256 of the canonical JSON of {header, message}>`. The specs name the
 * fields but not the digest; canonical JSON with sorted keys is what OpenSPP uses, so two
 * implementations agree without sharing a JSON writer. A signature is valid for five minutes and a
 * minute of clock skew either way is allowed.
 */

export const SIGNATURE_LIFETIME_SECONDS = 300;
export const CLOCK_SKEW_SECONDS = 60;

export interface SigningKey {
  senderId: string;
  keyId: string;
  privateKey: KeyObject;
}

export interface SignedParts {
  header: unknown;
  message: unknown;
}

export function signEnvelope(parts: SignedParts, key: SigningKey, namespace: 'g2p' | 'spdci', now = new Date()): string {
  const created = Math.floor(now.getTime() / 1000);
  const expires = created + SIGNATURE_LIFETIME_SECONDS;
  const signature = sign(null, Buffer.from(signingString(parts, created, expires)), key.privateKey).toString('base64');
  return `Signature: namespace="${namespace}", kidId="${key.senderId}|${key.keyId}|ed25519", algorithm="ed25519", created="${created}", expires="${expires}", headers="(created) (expires) digest", signature="${signature}"`;
}

export type Verification =
  | { ok: true; senderId: string; keyId: string }
  | { ok: false; reason: string };

/**
 * Checks a message's signature. `keyFor(senderId, keyId)` gives the sender's public key, or
 * undefined when the sender is not trusted or the key is unknown. The header's sender_id must be
 * the signer's: a trusted sender cannot sign for another.
 */
export async function verifyEnvelope(
  body: { signature?: unknown; header?: { sender_id?: unknown }; message?: unknown },
  keyFor: (senderId: string, keyId: string) => Promise<KeyObject | undefined> | KeyObject | undefined,
  now = new Date(),
): Promise<Verification> {
  if (typeof body.signature !== 'string' || body.signature === '') return { ok: false, reason: 'the message is not signed' };
  const params = parseSignature(body.signature);
  const kid = params.kidId?.split('|') ?? [];
  if (kid.length !== 3) return { ok: false, reason: 'the signature has no kidId "sender|key|algorithm"' };
  const [senderId, keyId, algorithm] = kid;
  if (algorithm !== 'ed25519' || (params.algorithm ?? 'ed25519') !== 'ed25519') return { ok: false, reason: `algorithm ${algorithm} is not accepted (ed25519)` };
  if (params.headers !== '(created) (expires) digest') return { ok: false, reason: 'the signature must cover "(created) (expires) digest"' };
  if (body.header?.sender_id !== senderId) return { ok: false, reason: `the header's sender_id is not the signer (${senderId})` };
  const created = Number(params.created);
  const expires = Number(params.expires);
  const seconds = now.getTime() / 1000;
  if (!Number.isInteger(created) || !Number.isInteger(expires) || expires <= created) return { ok: false, reason: 'created and expires are not a time span' };
  if (created > seconds + CLOCK_SKEW_SECONDS) return { ok: false, reason: 'the signature was created in the future' };
  if (expires < seconds - CLOCK_SKEW_SECONDS) return { ok: false, reason: 'the signature has expired' };
  if (expires - created > SIGNATURE_LIFETIME_SECONDS * 12) return { ok: false, reason: 'the signature is valid for too long' };
  const key = await keyFor(senderId, keyId);
  if (!key) return { ok: false, reason: `no trusted key ${keyId} of sender ${senderId}` };
  let valid = false;
  try {
    valid = verify(null, Buffer.from(signingString({ header: body.header, message: body.message }, created, expires)), key, Buffer.from(params.signature ?? '', 'base64'));
  } catch {
    valid = false;
  }
  return valid ? { ok: true, senderId, keyId } : { ok: false, reason: 'the signature does not match the message' };
}

function signingString(parts: SignedParts, created: number, expires: number): string {
  const digest = createHash('sha256').update(canonicalJson({ header: parts.header, message: parts.message })).digest('base64');
  return `(created): ${created}\n(expires): ${expires}\ndigest: SHA-256=${digest}`;
}

/** `name="value"` pairs after an optional `Signature:` prefix; values hold no quotes. */
function parseSignature(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of text.replace(/^\s*Signature:\s*/i, '').matchAll(/([A-Za-z]+)="([^"]*)"/g)) params[match[1]] = match[2];
  return params;
}
