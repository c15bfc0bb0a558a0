import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditHash, GENESIS_HASH } from '../../src/audit/audit.ts';
import { createCheckpoint, readCheckpoint, writeCheckpoint, type AuditCheckpoint } from '../../src/audit/checkpoint.ts';
import { generateAuditKey, loadAuditKey, rowSignedText, signText, useAuditKey, type AuditKey } from '../../src/audit/signing-key.ts';
import { listAudit, verifyAudit } from '../../src/audit/verify.ts';
import { appendAuditEntries, behindTheBack, emptyAuditLog } from '../support/audit-log.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * Audit you can anchor: rows signed with the deployment key as they are appended, and a signed
 * checkpoint of the log's head kept elsewhere. Each tamper is done as an attacker with database
 * access but without the key would do it: plain SQL as the table's owner, with the append-only
 * trigger disabled and the hash chain recomputed where that helps the attacker.
 */

let t: TestDatabase;
let keyDir: string;
let deploymentKey: AuditKey;
let otherKey: AuditKey;
beforeAll(async () => {
  t = await createTestDatabase();
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'asp-audit-key-'));
  deploymentKey = await generateAuditKey(path.join(keyDir, 'deployment.pem'));
  otherKey = await generateAuditKey(path.join(keyDir, 'other.pem'));
});
afterAll(() => t?.drop());
beforeEach(async () => {
  await emptyAuditLog(t.store);
  useAuditKey(deploymentKey);
});
afterEach(() => useAuditKey(null));

const append = (to: number, from = 1) => appendAuditEntries(t.store, to, from);
const checkpointNow = async (key = deploymentKey) => {
  const { checkpoint } = await createCheckpoint(t.store, key);
  if (!checkpoint) throw new Error('the log did not verify');
  return { checkpoint, key };
};

/** Every row in id order, as stored. */
const rowsInOrder = async () => (await listAudit(t.store, { limit: 1000 })).reverse();

/**
 * What an attacker without the key does after changing rows: recomputes every hash from the first
 * row on so that the chain links again, leaving the signatures as they were (they cannot make new).
 */
async function recomputeChain(): Promise<void> {
  let prevHash = GENESIS_HASH;
  for (const row of await rowsInOrder()) {
    const hash = auditHash(prevHash, row);
    await behindTheBack(t.store, 'UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3', [prevHash, hash, row.id]);
    prevHash = hash;
  }
}

/** Appends a row by plain SQL with a correctly computed chain hash, and the given signature. */
async function forgeAppend(signature: string | null): Promise<void> {
  const [last] = await listAudit(t.store, { limit: 1 });
  const row = { at: new Date().toISOString(), actor: 'forger@test', action: 'list.approved', subject: 'list:99', details: { n: 99 } };
  await t.store.transaction(({ raw }) =>
    raw.query(
      `INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash, signature) VALUES ($1::timestamptz, $2, $3, $4, $5::jsonb, $6, $7, $8)`,
      [row.at, row.actor, row.action, row.subject, JSON.stringify(row.details), last.hash, auditHash(last.hash, row), signature],
    ),
  );
}

describe('signed rows', () => {
  it('rows appended with the deployment key verify, each signature checked', async () => {
    await append(3);
    expect(await verifyAudit(t.store)).toMatchObject({
      rows: 3, ok: true, firstBroken: null, lastId: 3, signatures: { key: deploymentKey.fingerprint, signed: 3, unsigned: 0 },
    });
    // Another key finds every row unsigned by it.
    expect((await verifyAudit(t.store, { key: otherKey })).firstBroken).toEqual({
      id: 1, reason: `signature does not verify with key ${otherKey.fingerprint}: the row was written or rewritten without the deployment key`,
    });
  });

  it('rows written before the deployment had a key are reported as unsigned, and the log verifies', async () => {
    useAuditKey(null);
    await append(2);
    useAuditKey(deploymentKey);
    await append(4, 3);
    expect(await verifyAudit(t.store)).toMatchObject({ rows: 4, ok: true, signatures: { key: deploymentKey.fingerprint, signed: 2, unsigned: 2 } });
    // Rewriting an unsigned row and recomputing the chain changes the hashes the later rows signed.
    await behindTheBack(t.store, `UPDATE audit_log SET actor = 'forger@test' WHERE id = 1`);
    await recomputeChain();
    expect((await verifyAudit(t.store)).firstBroken).toMatchObject({ id: 3, reason: expect.stringMatching(/^signature does not verify/) });
  });

  it('a forged append with a correct chain hash but no signature is found', async () => {
    await append(3);
    await forgeAppend(null);
    expect(await verifyAudit(t.store)).toMatchObject({
      rows: 4,
      ok: false,
      firstBroken: { id: 4, reason: 'not signed, though rows before it are: written without the deployment key (a forged row, or a process not given the key file)' },
    });
  });

  it('a forged append signed with another key is found', async () => {
    await append(3);
    const [last] = await listAudit(t.store, { limit: 1 });
    // The signature the forger can make: over the right text, with the wrong key.
    const row = { at: new Date().toISOString(), actor: 'forger@test', action: 'list.approved', subject: 'list:99', details: { n: 99 } };
    await forgeAppend(signText(otherKey, rowSignedText(auditHash(last.hash, row))));
    expect((await verifyAudit(t.store)).firstBroken).toMatchObject({ id: 4, reason: expect.stringMatching(/^signature does not verify with key/) });
  });

  it('a process without the key appending after signed rows is found (a misconfigured server is not silent)', async () => {
    await append(2);
    useAuditKey(null);
    await append(3, 3);
    expect((await verifyAudit(t.store, { key: deploymentKey })).firstBroken).toMatchObject({ id: 3, reason: expect.stringMatching(/^not signed, though rows before it are/) });
  });

  it('without a key the signatures are counted, not checked', async () => {
    await append(2);
    expect(await verifyAudit(t.store, { key: null })).toMatchObject({ ok: true, signatures: { key: null, signed: 2, unsigned: 0 } });
  });
});

describe('tampering found against a checkpoint', () => {
  it('an untouched log matches its checkpoint, and rows appended after it verify', async () => {
    await append(3);
    const anchor = await checkpointNow();
    expect(anchor.checkpoint).toMatchObject({ lastId: 3, rows: 3, keyFingerprint: deploymentKey.fingerprint });
    await append(5, 4);
    expect(await verifyAudit(t.store, { checkpoint: anchor })).toMatchObject({
      rows: 5, ok: true, firstBroken: null, checkpoint: { lastId: 3, rows: 3, ok: true, problem: null },
    });
  });

  it('a truncated tail: the chain alone still links, the checkpoint finds it', async () => {
    await append(4);
    const anchor = await checkpointNow();
    await behindTheBack(t.store, 'DELETE FROM audit_log WHERE id > 2');
    // What the chain cannot see: the rows left are intact among themselves.
    expect(await verifyAudit(t.store)).toMatchObject({ rows: 2, ok: true });
    expect(await verifyAudit(t.store, { checkpoint: anchor })).toMatchObject({
      rows: 2,
      ok: false,
      firstBroken: null,
      checkpoint: { ok: false, problem: "row 4, the checkpoint's last, is missing: the log ends at row 2: rows were cut off its end" },
    });
  });

  it('a truncated tail with forged rows in its place', async () => {
    await append(4);
    const anchor = await checkpointNow();
    await behindTheBack(t.store, 'DELETE FROM audit_log WHERE id > 2');
    await forgeAppend(null);
    await forgeAppend(null);
    const result = await verifyAudit(t.store, { checkpoint: anchor });
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.reason).toMatch(/^not signed/);
    expect(result.checkpoint?.problem).toMatch(/^row 4, the checkpoint's last, is missing: it was removed/);
  });

  it('a row rewritten with the chain recomputed by plain SQL', async () => {
    await append(4);
    const anchor = await checkpointNow();
    await behindTheBack(t.store, `UPDATE audit_log SET details = '{"n": 2, "total": 1}' WHERE id = 2`);
    await recomputeChain();
    const result = await verifyAudit(t.store, { checkpoint: anchor });
    expect(result).toMatchObject({
      ok: false,
      firstBroken: { id: 2, reason: expect.stringMatching(/^signature does not verify/) },
      checkpoint: { ok: false, problem: "row 4's hash is not the checkpoint's: the log up to it was rewritten and its chain recomputed" },
    });
  });

  it('a rewritten, recomputed log of unsigned rows is found by the checkpoint alone', async () => {
    useAuditKey(null);
    await append(3);
    const anchor = await checkpointNow();
    await behindTheBack(t.store, `UPDATE audit_log SET actor = 'forger@test' WHERE id = 1`);
    await recomputeChain();
    expect(await verifyAudit(t.store)).toMatchObject({ ok: true });
    expect((await verifyAudit(t.store, { checkpoint: anchor })).checkpoint).toMatchObject({ ok: false, problem: expect.stringMatching(/^row 3's hash is not the checkpoint's/) });
  });

  it('unsigned rows after a checkpoint fail, even in a log that was unsigned before it', async () => {
    useAuditKey(null);
    await append(2);
    const anchor = await checkpointNow();
    await forgeAppend(null);
    expect((await verifyAudit(t.store, { checkpoint: anchor })).firstBroken).toEqual({
      id: 3, reason: 'not signed, though it comes after the checkpoint: written without the deployment key (a forged row, or a process not given the key file)',
    });
  });

  it('two rows swapped, with the chain recomputed', async () => {
    await append(4);
    const anchor = await checkpointNow();
    await behindTheBack(
      t.store,
      `UPDATE audit_log a SET actor = b.actor, subject = b.subject, details = b.details, signature = b.signature
         FROM audit_log b WHERE (a.id, b.id) IN ((2, 3), (3, 2))`,
    );
    expect((await verifyAudit(t.store)).firstBroken).toMatchObject({ id: 2, reason: expect.stringMatching(/^hash mismatch/) });
    await recomputeChain();
    expect(await verifyAudit(t.store, { checkpoint: anchor })).toMatchObject({
      ok: false,
      firstBroken: { id: 2, reason: expect.stringMatching(/^signature does not verify/) },
      checkpoint: { ok: false },
    });
  });

  it('a row deleted from the middle and the chain recomputed: the count and the signatures differ', async () => {
    await append(4);
    const anchor = await checkpointNow();
    await behindTheBack(t.store, 'DELETE FROM audit_log WHERE id = 2');
    await recomputeChain();
    expect(await verifyAudit(t.store, { checkpoint: anchor })).toMatchObject({
      ok: false,
      firstBroken: { id: 3, reason: expect.stringMatching(/^signature does not verify/) },
      checkpoint: { ok: false, problem: expect.stringMatching(/^row 4's hash is not the checkpoint's/) },
    });
  });

  it('a checkpoint of another key fails, naming both keys', async () => {
    // Unsigned rows, so that either key can checkpoint them.
    useAuditKey(null);
    await append(2);
    const foreign = await checkpointNow(otherKey);
    useAuditKey(deploymentKey);
    const result = await verifyAudit(t.store, { checkpoint: foreign });
    expect(result).toMatchObject({ ok: false, firstBroken: null });
    expect(result.checkpoint?.problem).toBe(
      `the checkpoint was signed with key ${otherKey.fingerprint}, this deployment signs with key ${deploymentKey.fingerprint}: the deployment's key was replaced, or the checkpoint is another deployment's`,
    );
    // The rows this deployment signs after it do not verify with the checkpoint's key either.
    await append(3, 3);
    expect((await verifyAudit(t.store, { checkpoint: foreign })).firstBroken).toMatchObject({ id: 3, reason: `signature does not verify with key ${otherKey.fingerprint}: the row was written or rewritten without the deployment key` });
  });

  it('a log that does not verify gets no checkpoint', async () => {
    await append(2);
    await behindTheBack(t.store, `UPDATE audit_log SET actor = 'forger@test' WHERE id = 2`);
    expect(await createCheckpoint(t.store, deploymentKey)).toMatchObject({ checkpoint: null, verification: { ok: false, firstBroken: { id: 2 } } });
  });
});

describe('checkpoint files', () => {
  it('round trip: written 0600, read back equal; an edited or foreign file is refused clearly', async () => {
    // Unsigned rows, so that either key can checkpoint them.
    useAuditKey(null);
    await append(2);
    const { checkpoint } = await checkpointNow();
    const file = path.join(keyDir, 'checkpoint.json');
    await writeCheckpoint(file, checkpoint);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const read = await readCheckpoint(file);
    expect(read.checkpoint).toEqual(checkpoint);
    expect(read.key.fingerprint).toBe(deploymentKey.fingerprint);

    const edited: AuditCheckpoint = { ...checkpoint, rows: 1 };
    await writeFile(file, JSON.stringify(edited));
    await expect(readCheckpoint(file)).rejects.toThrow(`checkpoint ${file}: its signature does not verify: the file was changed after it was written`);
    // A forger's own checkpoint with this deployment's fingerprint but their key.
    const { checkpoint: foreign } = await checkpointNow(otherKey);
    await writeFile(file, JSON.stringify({ ...foreign, keyFingerprint: deploymentKey.fingerprint }));
    await expect(readCheckpoint(file)).rejects.toThrow(/its signature does not verify/);
    await writeFile(file, '{"format": "asp-engine audit checkpoint v1", "lastId": -1}');
    await expect(readCheckpoint(file)).rejects.toMatchObject({ name: 'UserError', message: `checkpoint ${file}: not an audit checkpoint` });
    await writeFile(file, 'not json');
    await expect(readCheckpoint(file)).rejects.toThrow(/not JSON/);
    await expect(readCheckpoint(path.join(keyDir, 'missing.json'))).rejects.toThrow(/cannot be read/);
  });

  it('key files: created 0600, never replaced, read back as the same key', async () => {
    const file = path.join(keyDir, 'deployment.pem');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await expect(generateAuditKey(file)).rejects.toThrow(/exists: a deployment keeps its audit key/);
    expect((await loadAuditKey(file, { required: true }))?.fingerprint).toBe(deploymentKey.fingerprint);
    expect(await loadAuditKey(path.join(keyDir, 'none.pem'), { required: false })).toBeNull();
    await expect(loadAuditKey(path.join(keyDir, 'none.pem'), { required: true })).rejects.toThrow(/no such file \(create it with `asp audit keygen`\)/);
    const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await writeFile(path.join(keyDir, 'ec.pem'), ecKey);
    await expect(loadAuditKey(path.join(keyDir, 'ec.pem'), { required: false })).rejects.toThrow(/not an ed25519 private key in PEM/);
  });
});
