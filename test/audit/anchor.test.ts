import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { grantAppRole } from '../../src/audit/app-role.ts';
import { auditHash, GENESIS_HASH } from '../../src/audit/audit.ts';
import { createCheckpoint, readCheckpoint, writeCheckpoint, type AuditCheckpoint } from '../../src/audit/checkpoint.ts';
import { generateAuditKey, loadAuditKey, rowSignedText, signText, useAuditKey, type AuditKey } from '../../src/audit/signing-key.ts';
import { listAudit, verifyAudit } from '../../src/audit/verify.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openStore } from '../../src/db/store.ts';
import { approveList } from '../../src/lists/lifecycle.ts';
import { appendAuditEntries, behindTheBack, emptyAuditLog } from '../support/audit-log.ts';
import { serverAdminUrl, testBackend } from '../support/backend.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { droughtRule, ingestDroughtEpisode } from '../support/drought-event.ts';
import { adminQuery } from '../support/global-setup.ts';
import { insertHouseholds } from '../support/households.ts';
import { generateCycle } from '../support/list-cycle.ts';
import { projectRoot } from '../support/paths.ts';
import { approveRuleText } from '../support/rules.ts';

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

/**
 * Appends a row by plain SQL with a correctly computed chain hash, unsigned or signed by a key
 * that is not the deployment's (the best a forger can do).
 */
async function forgeAppend(signWith: AuditKey | null): Promise<void> {
  const [last] = await listAudit(t.store, { limit: 1 });
  const row = { at: new Date().toISOString(), actor: 'forger@test', action: 'list.approved', subject: 'list:99', details: { n: 99 } };
  const hash = auditHash(last.hash, row);
  await t.store.transaction(({ raw }) =>
    raw.query(
      `INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash, signature) VALUES ($1::timestamptz, $2, $3, $4, $5::jsonb, $6, $7, $8)`,
      [row.at, row.actor, row.action, row.subject, JSON.stringify(row.details), last.hash, hash, signWith && signText(signWith, rowSignedText(hash))],
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
    // The signature the forger can make: over the right text, with the wrong key.
    await forgeAppend(otherKey);
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

describe('any tamper, against a checkpoint (property)', () => {
  type Tamper =
    | { kind: 'none' }
    | { kind: 'cut'; keep: number }
    | { kind: 'rewrite'; at: number }
    | { kind: 'swap'; at: number }
    | { kind: 'delete'; at: number }
    | { kind: 'forge'; signedBy: 'nobody' | 'other key' };
  const tampers: fc.Arbitrary<Tamper> = fc.oneof(
    fc.constant({ kind: 'none' as const }),
    fc.record({ kind: fc.constant('cut' as const), keep: fc.nat({ max: 7 }) }),
    fc.record({ kind: fc.constant('rewrite' as const), at: fc.nat({ max: 7 }) }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat({ max: 7 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat({ max: 7 }) }),
    fc.record({ kind: fc.constant('forge' as const), signedBy: fc.constantFrom('nobody' as const, 'other key' as const) }),
  );

  /** Applies the tamper (ids 1..total) as an attacker without the key; returns whether it changed anything. */
  async function applyTamper(tamper: Tamper, total: number): Promise<boolean> {
    const id = (at: number) => (at % total) + 1;
    switch (tamper.kind) {
      case 'none':
        return false;
      case 'cut': {
        const keep = tamper.keep % total;
        await behindTheBack(t.store, 'DELETE FROM audit_log WHERE id > $1', [keep]);
        return true;
      }
      case 'rewrite':
        await behindTheBack(t.store, `UPDATE audit_log SET details = details || '{"rewritten": true}' WHERE id = $1`, [id(tamper.at)]);
        break;
      case 'swap': {
        if (total < 2) return false;
        const a = Math.min(id(tamper.at), total - 1);
        await behindTheBack(
          t.store,
          `UPDATE audit_log x SET actor = y.actor, subject = y.subject, details = y.details, signature = y.signature
             FROM audit_log y WHERE (x.id, y.id) IN (($1::bigint, $2::bigint), ($2::bigint, $1::bigint))`,
          [a, a + 1],
        );
        break;
      }
      case 'delete':
        await behindTheBack(t.store, 'DELETE FROM audit_log WHERE id = $1', [id(tamper.at)]);
        break;
      case 'forge':
        await forgeAppend(tamper.signedBy === 'nobody' ? null : otherKey);
        return true;
    }
    // The attacker makes the chain link again.
    await recomputeChain();
    return true;
  }

  /**
   * What no checkpoint can see: rows cut from after it (a cut tail, or the last row deleted) are
   * indistinguishable from rows never written.
   */
  function undetectable(tamper: Tamper, checkpointed: number, total: number): boolean {
    if (tamper.kind === 'cut') return tamper.keep % total >= checkpointed;
    if (tamper.kind === 'delete') return (tamper.at % total) + 1 === total && total > checkpointed;
    return false;
  }

  it('verify finds every tamper that reaches the checkpointed rows or adds a row, and passes an untouched log', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 }), tampers, async (checkpointed, after, tamper) => {
        await emptyAuditLog(t.store);
        await append(checkpointed);
        const anchor = await checkpointNow();
        await append(checkpointed + after, checkpointed + 1);
        const total = checkpointed + after;
        const changed = await applyTamper(tamper, total);
        const result = await verifyAudit(t.store, { checkpoint: anchor });
        expect(result.ok).toBe(!changed || undetectable(tamper, checkpointed, total));
      }),
      { seed: Number(process.env.FC_SEED ?? 20261207), numRuns: 40 },
    );
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

describe('asp audit keygen, checkpoint and verify', () => {
  it('make a key, sign rows, checkpoint them, and find a cut tail: exit 0 intact, 1 tampered, 2 a bad file', async () => {
    const keyFile = path.join(keyDir, 'cli.pem');
    const env = { ASP_AUDIT_KEY_FILE: keyFile };
    const missing = await runAsp([...t.cliArgs, 'audit', 'public-key'], env);
    expect(missing).toMatchObject({ code: 2, stderr: `error: audit key ${keyFile}: no such file (create it with \`asp audit keygen\`)\n` });
    const keygen = await runAsp([...t.cliArgs, '--json', 'audit', 'keygen'], env);
    expect(keygen.code).toBe(0);
    const made = JSON.parse(keygen.stdout) as { file: string; key: string; publicKey: string };
    expect(made).toMatchObject({ file: keyFile, key: expect.stringMatching(/^[0-9a-f]{16}$/), publicKey: expect.stringMatching(/^-----BEGIN PUBLIC KEY-----/) });
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await runAsp([...t.cliArgs, 'audit', 'keygen'], env)).code).toBe(2);

    // The process that acts (e.g. the server) signs with the same key file.
    useAuditKey(await loadAuditKey(keyFile, { required: true }));
    await append(3);
    const checkpointFile = path.join(keyDir, 'cli-checkpoint.json');
    const notJson = path.join(keyDir, 'not-a-checkpoint.json');
    await writeFile(notJson, 'lastId=3');
    await t.store.close();
    try {
      const written = await runAsp([...t.cliArgs, 'audit', 'checkpoint', '--out', checkpointFile], env);
      expect(written.code).toBe(0);
      expect(written.stdout).toMatch(new RegExp(`^checkpoint written to ${checkpointFile}: 3 row\\(s\\) up to row 3, signed with key ${made.key}`));
      const { checkpoint } = await readCheckpoint(checkpointFile);
      const intact = await runAsp([...t.cliArgs, 'audit', 'verify', '--checkpoint', checkpointFile], env);
      expect(intact).toEqual({
        code: 0,
        stderr: '',
        stdout:
          `audit log intact: 3 row(s), last hash ${checkpoint.lastHash}\n` +
          `  signatures: 3 row(s) signed, checked with key ${made.key}\n` +
          `  checkpoint of ${checkpoint.at} (key ${made.key}): row 3 and the 3 row(s) up to it match\n`,
      });
      const bad = await runAsp([...t.cliArgs, 'audit', 'verify', '--checkpoint', notJson], env);
      expect(bad).toMatchObject({ code: 2, stderr: `error: checkpoint ${notJson}: not JSON (write one with \`asp audit checkpoint\`)\n` });
    } finally {
      await t.reopen();
    }
    await behindTheBack(t.store, 'DELETE FROM audit_log WHERE id > 1');
    await t.store.close();
    try {
      const cut = await runAsp([...t.cliArgs, 'audit', 'verify', '--checkpoint', checkpointFile], env);
      expect(cut.code).toBe(1);
      expect(cut.stdout).toMatch(/^audit log BROKEN against the checkpoint: row 3, the checkpoint's last, is missing: the log ends at row 1: rows were cut off its end \(1 row\(s\) read\)\n/);
      expect(cut.stdout).toMatch(/\n {2}checkpoint of .*: DOES NOT MATCH: row 3, the checkpoint's last, is missing/);
    } finally {
      await t.reopen();
    }
  }, 900_000);
});

describe('the app role', () => {
  if (testBackend() === 'server') {
    const role = `asp_app_${process.pid}_${Date.now()}`;
    afterAll(async () => {
      await t.drop();
      await adminQuery(serverAdminUrl(), `DROP ROLE IF EXISTS ${role}`);
    });

    it('runs the engine and appends to the audit log, but may not UPDATE, DELETE or TRUNCATE it, nor disable its trigger', async () => {
      await t.store.transaction(({ raw }) => raw.query(`CREATE ROLE ${role} LOGIN`));
      await expect(grantAppRole(t.store, 'postgres')).rejects.toThrow(/is the role running this command, which owns the tables/);
      await expect(grantAppRole(t.store, 'app; DROP TABLE audit_log')).rejects.toThrow(/give a plain PostgreSQL role name/);
      await expect(grantAppRole(t.store, 'asp_no_such_role')).rejects.toThrow(/role asp_no_such_role does not exist: create it first/);
      const granted = await runAsp([...t.cliArgs, 'db', 'grant-app-role', role]);
      expect(granted.code).toBe(0);
      expect(granted.stdout).toMatch(new RegExp(`^${role} may read and write the engine's tables, and only read and append to: .*\\baudit_log\\b`));

      const appUrl = new URL(t.env.DATABASE_URL);
      appUrl.username = role;
      const app = await openStore({ url: appUrl.toString() });
      try {
        // What every command does first, as the app: nothing is pending, so it needs no DDL.
        await migrate(app);
        // The engine's normal flow, audited at each step: an event, a rule, a list, its approval.
        await loadDemoAreas(t.store);
        await insertHouseholds(t.store, [
          { id: 'APP-1', pcode: 'XD02001', pmt: 10, location: [40.2, 3.3] },
          { id: 'APP-2', pcode: 'XD02001', pmt: 20, location: [40.3, 3.4] },
        ]);
        await ingestDroughtEpisode(app, { eventId: 9901401, episode: 1, box: [40.05, 3.05, 40.6, 3.95], fetchedAt: '2026-11-20T09:00:00Z' });
        const ruleId = await approveRuleText(app, droughtRule('test-app-role', 'XD02', appRoleResponse, appRoleBudget));
        const list = await generateCycle(app, ruleId, '2026-11-21T00:00:00Z', '2026-11');
        expect(list.ids).toEqual(['APP-1', 'APP-2']);
        await approveList(app, list.id, 'checker@test', list);
        const actions = (await listAudit(app, { limit: 10 })).map((e) => e.action);
        expect(actions).toEqual(expect.arrayContaining(['list.generated', 'list.approved']));
        expect(await verifyAudit(app)).toMatchObject({ ok: true, signatures: { key: deploymentKey.fingerprint, unsigned: 0 } });

        for (const sql of [`UPDATE audit_log SET actor = 'forger@test'`, 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
          await expect(app.transaction(({ raw }) => raw.query(sql)), sql).rejects.toThrow('permission denied for table audit_log');
        }
        await expect(app.transaction(({ raw }) => raw.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only'))).rejects.toThrow(
          'must be owner of table audit_log',
        );
        await expect(app.transaction(({ raw }) => raw.query('DELETE FROM activation_changes'))).rejects.toThrow('permission denied for table activation_changes');
      } finally {
        await app.close();
      }
    });

    it('a command killed (SIGKILL) while it appends to the log leaves neither its act nor a row, and the signed chain goes on', async () => {
      await emptyAuditLog(t.store);
      await append(2);
      const anchor = await checkpointNow();
      const countPartners = async () =>
        (await t.store.transaction(({ raw }) => raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM partners WHERE id = 'crash-partner'`))).rows[0].n;
      const activity = async (sql: string) => (await t.store.transaction(({ raw }) => raw.query<{ n: number }>(sql))).rows[0].n;
      // Holding the audit log's lock stops the command inside its transaction: its partner row
      // written, its audit row waiting for the lock. Then it is killed there.
      const holder = await t.store.connect();
      let child: ChildProcess | undefined;
      try {
        await holder.query(`SELECT pg_advisory_lock(hashtext('asp-engine:audit'))`);
        child = spawn(
          process.execPath,
          [path.join(projectRoot, 'bin/asp.js'), ...t.cliArgs, 'partners', 'add', 'crash-partner', '--name', 'Crash test', '--role', 'coordination', '--fields', 'pseudonymous_id,amount', '--by', 'admin@test'],
          { cwd: projectRoot, env: { ...process.env, LOG_LEVEL: 'warn', ASP_AUDIT_KEY_FILE: path.join(keyDir, 'deployment.pem') }, stdio: 'ignore' },
        );
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child!.once('exit', (_code, signal) => resolve(signal)));
        await waitUntil(async () => (await activity(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)) === 1);
        child.kill('SIGKILL');
        expect(await exited).toBe('SIGKILL');
      } finally {
        child?.kill('SIGKILL');
        await holder.query(`SELECT pg_advisory_unlock(hashtext('asp-engine:audit'))`);
        holder.release();
      }
      // Its server backend finds the client gone once it gets the lock, and rolls back.
      await waitUntil(async () => (await activity(`SELECT count(*)::int AS n FROM pg_stat_activity
                              WHERE datname = current_database() AND query LIKE '%pg_advisory_xact_lock%' AND pid <> pg_backend_pid()`)) === 0);
      expect(await countPartners()).toBe(0);
      expect(await verifyAudit(t.store, { checkpoint: anchor })).toMatchObject({ rows: 2, ok: true, lastId: 2 });
      await append(3, 3);
      expect(await verifyAudit(t.store, { checkpoint: anchor })).toMatchObject({ rows: 3, ok: true, signatures: { signed: 3, unsigned: 0 } });
    });
  } else {
    it('the embedded database has one user: no app role to grant, said plainly', async () => {
      await expect(grantAppRole(t.store, 'asp_app')).rejects.toMatchObject({
        name: 'UserError',
        message: 'the embedded database has a single user: an app role needs the PostgreSQL server (--db URL)',
      });
    });
  }
});

/** Polls until `condition` holds (a minute at most). */
async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 100) {
    if (waited > 60_000) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const appRoleResponse = `  - mode: horizontal
    households:
      priority: [{ field: pmt_score, order: ascending }]
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 500, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 3 } }`;

const appRoleBudget = `budget:
  envelope: { amount: 100000, currency: KES, per: shock }
  over_budget: [stop_when_exhausted]`;
