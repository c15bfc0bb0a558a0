import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.ts';
import type { SigningKey } from './envelope-signature.ts';

/**
 * The engine's own ed25519 keys for signing the messages it sends to registries and payment
 * hubs. One PKCS#8 PEM file per key (mode 0600) in a folder, ASP_SIGNING_KEY_DIR, by default
 * `signing-keys` in the data folder; the file name is the key id, which starts with its creation
 * time, so the newest signs. Rotation adds a key (`asp keys signing rotate`); the previous keys stay
 * published at /.well-known/jwks.json until retired (moved into `retired/`), so messages in flight
 * still verify. The first key is generated when none exists and kept from then on.
 */

export interface KeyRing {
  /** The key that signs (the newest). */
  active: SigningKey;
  /** Every key still published, newest first. */
  published: SigningKey[];
}

const KEY_FILE = /^(\d{14}-[0-9a-f]{6})\.pem$/;

export async function loadKeyRing(dir: string, senderId: string, options: { create: boolean }): Promise<KeyRing> {
  let keys = await readKeys(dir, senderId);
  if (keys.length === 0) {
    if (!options.create) throw new UserError(`${dir}: no signing key (create one with \`asp keys signing rotate\`)`);
    await addSigningKey(dir);
    keys = await readKeys(dir, senderId);
  }
  return { active: keys[0], published: keys };
}

/** Generates a new key; it signs from now on. Returns its id. */
export async function addSigningKey(dir: string, now = new Date()): Promise<string> {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const keyId = `${stamp}-${randomBytes(3).toString('hex')}`;
  const { privateKey } = generateKeyPairSync('ed25519');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, `${keyId}.pem`), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600, flag: 'wx' });
  return keyId;
}

/** Stops publishing a key (it is kept in `retired/`, not deleted, so old signatures stay checkable by hand). */
export async function retireSigningKey(dir: string, keyId: string): Promise<void> {
  const keys = (await readdir(dir).catch(() => [] as string[])).filter((f) => KEY_FILE.test(f));
  if (!keys.includes(`${keyId}.pem`)) throw new UserError(`${dir}: no published signing key ${keyId}`);
  if (keys.length === 1) throw new UserError(`${keyId} is the only signing key: rotate first, then retire the old one`);
  await mkdir(path.join(dir, 'retired'), { recursive: true, mode: 0o700 });
  await rename(path.join(dir, `${keyId}.pem`), path.join(dir, 'retired', `${keyId}.pem`));
}

/** The published keys as a JSON Web Key Set (RFC 8037 OKP keys), for /.well-known/jwks.json. */
export function jwksOf(ring: KeyRing): { keys: Record<string, string>[] } {
  return { keys: ring.published.map((k) => publicJwk(createPublicKey(k.privateKey), k.keyId)) };
}

export function publicJwk(publicKey: KeyObject, keyId: string): Record<string, string> {
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: keyId, use: 'sig', alg: 'EdDSA' };
}

async function readKeys(dir: string, senderId: string): Promise<SigningKey[]> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const ids = files.map((f) => KEY_FILE.exec(f)?.[1]).filter((id): id is string => Boolean(id)).sort().reverse();
  const keys: SigningKey[] = [];
  for (const keyId of ids) {
    const file = path.join(dir, `${keyId}.pem`);
    try {
      const privateKey = createPrivateKey(await readFile(file, 'utf8'));
      if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
      keys.push({ senderId, keyId, privateKey });
    } catch {
      throw new UserError(`signing key ${file}: not an ed25519 private key in PEM`);
    }
  }
  return keys;
}
