import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { publicKeyFromPem, publicKeyPem, signText, verifyText, type AuditKey } from './signing-key.ts';
import { verifyAudit, type AuditVerification } from './verify.ts';

/**
 * A checkpoint: the audit log's head (last row id, its chain hash, the number of rows up to it)
 * at a time, signed with the deployment key. Kept away from the database (another machine, a
 * ticket, a printout), it lets `asp audit verify --checkpoint FILE` find what the chain alone
 * cannot: rows cut off the end, and a log rewritten with its chain recomputed.
 */

const FORMAT = 'asp-engine audit checkpoint v1';

const checkpointSchema = z.object({
  format: z.literal(FORMAT),
  /** 0 for an empty log. */
  lastId: z.number().int().min(0),
  lastHash: z.string().regex(/^[0-9a-f]{64}$/),
  rows: z.number().int().min(0),
  at: z.string().datetime(),
  publicKey: z.string().min(1),
  keyFingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  signature: z.string().min(1),
});

export type AuditCheckpoint = z.infer<typeof checkpointSchema>;

/** What the signature covers, one field a line: no JSON canonicalisation to get wrong. */
const signedText = (c: Omit<AuditCheckpoint, 'signature' | 'publicKey'>): string =>
  [c.format, `lastId=${c.lastId}`, `lastHash=${c.lastHash}`, `rows=${c.rows}`, `at=${c.at}`, `key=${c.keyFingerprint}`].join('\n');

/**
 * Verifies the log and, if it is intact, returns a checkpoint of its head signed with `key`; a log
 * that does not verify gets no checkpoint (it would anchor the tampering).
 *
 * ```ts
 * const { checkpoint } = await createCheckpoint(store, key)
 * if (checkpoint) await writeCheckpoint('audit-2026-12-07.json', checkpoint)
 * ```
 */
export async function createCheckpoint(store: Store, key: AuditKey): Promise<{ verification: AuditVerification; checkpoint: AuditCheckpoint | null }> {
  const verification = await verifyAudit(store, { key });
  if (!verification.ok) return { verification, checkpoint: null };
  const unsigned = {
    format: FORMAT,
    lastId: verification.lastId,
    lastHash: verification.lastHash,
    rows: verification.rows,
    at: new Date().toISOString(),
    keyFingerprint: key.fingerprint,
  } as const;
  const checkpoint = { ...unsigned, publicKey: publicKeyPem(key), signature: signText(key, signedText(unsigned)) };
  return { verification, checkpoint };
}

export async function writeCheckpoint(file: string, checkpoint: AuditCheckpoint): Promise<void> {
  await writeFile(file, JSON.stringify(checkpoint, null, 2) + '\n', { mode: 0o600 });
}

/**
 * Reads a checkpoint file and checks its own signature. Every problem with the file (missing, not
 * JSON, a field wrong, a signature that does not verify) is the caller's input: a UserError.
 */
export async function readCheckpoint(file: string): Promise<{ checkpoint: AuditCheckpoint; key: AuditKey }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UserError(`checkpoint ${file}: cannot be read`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`checkpoint ${file}: not JSON (write one with \`asp audit checkpoint\`)`);
  }
  const parsed = checkpointSchema.safeParse(json);
  if (!parsed.success) {
    throw new UserError(`checkpoint ${file}: not an audit checkpoint`, parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`));
  }
  const checkpoint = parsed.data;
  let key: AuditKey;
  try {
    key = publicKeyFromPem(checkpoint.publicKey);
  } catch {
    throw new UserError(`checkpoint ${file}: publicKey is not an ed25519 public key in PEM`);
  }
  if (key.fingerprint !== checkpoint.keyFingerprint || !verifyText(key, signedText(checkpoint), checkpoint.signature)) {
    throw new UserError(`checkpoint ${file}: its signature does not verify: the file was changed after it was written`);
  }
  return { checkpoint, key };
}
