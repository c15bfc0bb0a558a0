import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.ts';

/**
 * The deployment's audit key: an ed25519 key pair whose private half signs every audit row as it
 * is appended and every checkpoint, and whose public half verifies them. The private key lives in
 * a file (PKCS#8 PEM, mode 0600) named by ASP_AUDIT_KEY_FILE, by default `audit-key.pem` in the
 * data folder; without the file, rows are appended unsigned.
 */

export interface AuditKey {
  /** Absent when only the public key is known (verifying on another machine). */
  privateKey?: KeyObject;
  publicKey: KeyObject;
  /** Short, stable name of the public key: the first 16 hex digits of sha256 over its DER. */
  fingerprint: string;
}

/** The key file: ASP_AUDIT_KEY_FILE, else `audit-key.pem` in the data folder. */
export function auditKeyFile(config: { ASP_AUDIT_KEY_FILE?: string; ASP_DATA_DIR: string }, dataDir?: string): string {
  return config.ASP_AUDIT_KEY_FILE ?? path.join(dataDir ?? config.ASP_DATA_DIR, 'audit-key.pem');
}

/**
 * Creates a new key file (0600); refuses to replace one, since rows signed with the old key would
 * no longer verify.
 *
 * ```ts
 * const key = await generateAuditKey('/etc/asp/audit-key.pem')
 * console.log(publicKeyPem(key))
 * ```
 */
export async function generateAuditKey(file: string): Promise<AuditKey> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UserError(`${file} exists: a deployment keeps its audit key (rows signed with it would no longer verify with a new one)`);
    }
    throw error;
  }
  return keyFromPrivate(privateKey);
}

/**
 * Reads the key file. A missing file is no key (null) unless `required` (the operator named the
 * file); a file that is not an ed25519 private key is an error.
 */
export async function loadAuditKey(file: string, options: { required: boolean }): Promise<AuditKey | null> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !options.required) return null;
    throw new UserError(`audit key ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (create it with `asp audit keygen`)' : 'cannot be read'}`);
  }
  try {
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return keyFromPrivate(privateKey);
  } catch {
    throw new UserError(`audit key ${file}: not an ed25519 private key in PEM (create one with \`asp audit keygen\`)`);
  }
}

/** A public key in PEM (SPKI), as `asp audit public-key` prints it and a checkpoint carries it. */
export function publicKeyFromPem(pem: string): AuditKey {
  const publicKey = createPublicKey(pem);
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error('not an ed25519 public key');
  return { publicKey, fingerprint: fingerprintOf(publicKey) };
}

export const publicKeyPem = (key: AuditKey): string => key.publicKey.export({ type: 'spki', format: 'pem' }) as string;

/** Signs a message (domain-separated by its first line); base64. */
export function signText(key: AuditKey, text: string): string {
  if (!key.privateKey) throw new Error('signing needs the private key');
  return sign(null, Buffer.from(text), key.privateKey).toString('base64');
}

export function verifyText(key: AuditKey, text: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(text), key.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** What a row's signature covers: its chain hash, which covers its content and everything before it. */
export const rowSignedText = (hash: string): string => `asp-engine audit row v1\n${hash}`;

function keyFromPrivate(privateKey: KeyObject): AuditKey {
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, fingerprint: fingerprintOf(publicKey) };
}

function fingerprintOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

// The key this process signs with, set once where the process opens its database (the CLI's
// context, which `asp serve` and `npm start` share): audit() is called deep inside the domain's
// transactions, which should not each carry it.
let activeKey: AuditKey | null = null;

/** Sets the key audit() signs with and verifyAudit() checks against by default (null: none). */
export function useAuditKey(key: AuditKey | null): void {
  activeKey = key;
}

export const activeAuditKey = (): AuditKey | null => activeKey;
