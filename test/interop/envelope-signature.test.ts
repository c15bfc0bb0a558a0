import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signEnvelope, verifyEnvelope } from '../../src/interop/envelope-signature.ts';
import { keysOf } from '../../src/interop/jwks.ts';
import { addSigningKey, jwksOf, loadKeyRing, retireSigningKey } from '../../src/interop/signing-keys.ts';

const header = { message_id: 'm-1', message_ts: '2026-12-07T04:00:00Z', action: 'disburse', sender_id: 'asp-engine', total_count: 1 };
const message = { transaction_id: 't-1', disbursements: [{ reference_id: 'r-1', amount: '10.00' }] };

async function ring() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-keys-'));
  return { dir, ring: await loadKeyRing(dir, 'asp-engine', { create: true }) };
}

describe('message signatures', () => {
  it('verify with the JWKS the engine publishes, and not after any change to the message', async () => {
    const { ring: keys } = await ring();
    const signature = signEnvelope({ header, message }, keys.active, 'g2p');
    const published = keysOf(jwksOf(keys));
    const keyFor = (_s: string, kid: string) => published.get(kid);
    expect(await verifyEnvelope({ signature, header, message }, keyFor)).toMatchObject({ ok: true, senderId: 'asp-engine', keyId: keys.active.keyId });
    // Key order does not matter (canonical JSON), content does.
    const reordered = { disbursements: message.disbursements, transaction_id: 't-1' };
    expect((await verifyEnvelope({ signature, header, message: reordered }, keyFor)).ok).toBe(true);
    const changed = { ...message, disbursements: [{ reference_id: 'r-1', amount: '1000.00' }] };
    expect(await verifyEnvelope({ signature, header, message: changed }, keyFor)).toEqual({ ok: false, reason: 'the signature does not match the message' });
    expect((await verifyEnvelope({ signature, header: { ...header, sender_id: 'someone-else' }, message }, keyFor)).ok).toBe(false);
    expect((await verifyEnvelope({ header, message }, keyFor)).ok).toBe(false);
  });

  it('refuses an expired signature and one from a key the sender does not publish', async () => {
    const { ring: keys } = await ring();
    const published = keysOf(jwksOf(keys));
    const old = signEnvelope({ header, message }, keys.active, 'g2p', new Date(Date.now() - 10 * 60_000));
    expect(await verifyEnvelope({ signature: old, header, message }, (_s, kid) => published.get(kid))).toEqual({ ok: false, reason: 'the signature has expired' });
    const stranger = { senderId: 'asp-engine', keyId: keys.active.keyId, privateKey: generateKeyPairSync('ed25519').privateKey };
    const forged = signEnvelope({ header, message }, stranger, 'g2p');
    expect((await verifyEnvelope({ signature: forged, header, message }, (_s, kid) => published.get(kid))).ok).toBe(false);
  });

  it('verifies a signature made by hand from the documented signing string', async () => {
    // An independent signer: the three lines of the signing string built here, not by the module.
    const { createHash } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const created = Math.floor(Date.now() / 1000);
    const sorted = `{"header":{"action":"disburse","message_id":"m-1","message_ts":"2026-12-07T04:00:00Z","sender_id":"asp-engine","total_count":1},"message":{"disbursements":[{"amount":"10.00","reference_id":"r-1"}],"transaction_id":"t-1"}}`;
    const digest = createHash('sha256').update(sorted).digest('base64');
    const text = `(created): ${created}\n(expires): ${created + 300}\ndigest: SHA-256=${digest}`;
    const value = sign(null, Buffer.from(text), privateKey).toString('base64');
    const signature = `Signature: namespace="g2p", kidId="asp-engine|k1|ed25519", algorithm="ed25519", created="${created}", expires="${created + 300}", headers="(created) (expires) digest", signature="${value}"`;
    expect(await verifyEnvelope({ signature, header, message }, () => publicKey)).toMatchObject({ ok: true });
  });

  it('rotates: the new key signs, the old one stays published until retired', async () => {
    const { dir, ring: first } = await ring();
    const newer = await addSigningKey(dir, new Date(Date.now() + 1000));
    const rotated = await loadKeyRing(dir, 'asp-engine', { create: false });
    expect(rotated.active.keyId).toBe(newer);
    expect(jwksOf(rotated).keys.map((k) => k.kid)).toEqual([newer, first.active.keyId]);
    await retireSigningKey(dir, first.active.keyId);
    expect(jwksOf(await loadKeyRing(dir, 'asp-engine', { create: false })).keys.map((k) => k.kid)).toEqual([newer]);
    const jwk = jwksOf(rotated).keys[0];
    expect(createPublicKey({ key: jwk, format: 'jwk' }).asymmetricKeyType).toBe('ed25519');
  });
});
