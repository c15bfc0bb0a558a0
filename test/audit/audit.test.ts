import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { audit, auditHash } from '../../src/audit/audit.ts';
import { listAudit, verifyAudit } from '../../src/audit/verify.ts';
import { runAsp } from '../support/cli.ts';
import { appendAuditEntries, auditEntry, behindTheBack as behindTheBackOf, emptyAuditLog } from '../support/audit-log.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The audit log: appended in the caller's transaction, refused edits, and `verifyAudit` finding
 * what a DBA changed behind the database's back (its trigger disabled). Each test starts with an
 * empty log whose ids start at 1.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());
beforeEach(() => emptyAuditLog(t.store));

const entry = auditEntry;
const appendEntries = (count: number) => appendAuditEntries(t.store, count);
const behindTheBack = (sql: string, params: unknown[] = []) => behindTheBackOf(t.store, sql, params);

describe('an intact log', () => {
  it('an empty log verifies', async () => {
    expect(await verifyAudit(t.store)).toEqual({
      rows: 0, ok: true, firstBroken: null, lastId: 0, lastHash: '0'.repeat(64), signatures: { key: null, signed: 0, unsigned: 0 }, checkpoint: null,
    });
  });

  it('entries appended in several transactions verify, read page by page', async () => {
    await appendEntries(3);
    // Two entries in one transaction, with details whose key order jsonb does not keep.
    await t.store.transaction(async ({ raw }) => {
      await audit(raw, entry(4, { zeta: 1, alpha: { b: [1, 'two', null], a: 'ü "quoted"' }, amount: 1234.5 }));
      await audit(raw, { actor: 'system', action: 'list.generated', subject: 'activation:3' });
    });
    const result = await verifyAudit(t.store);
    expect(result).toMatchObject({ rows: 5, ok: true, firstBroken: null });
    const last = await t.store.transaction(({ raw }) => raw.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1'));
    expect(result.lastHash).toBe(last.rows[0].hash);
    expect(await verifyAudit(t.store, { pageSize: 2 })).toEqual(result);
  });

  it('an entry rolled back with its transaction leaves no row, and the gap in ids is no break', async () => {
    await appendEntries(1);
    await expect(
      t.store.transaction(async ({ raw }) => {
        await audit(raw, entry(2));
        throw new Error('the act failed');
      }),
    ).rejects.toThrow('the act failed');
    await t.store.transaction(({ raw }) => audit(raw, entry(3)));
    const ids = await t.store.transaction(({ raw }) => raw.query<{ id: number }>('SELECT id FROM audit_log ORDER BY id'));
    expect(ids.rows.map((r) => Number(r.id))).toEqual([1, 3]);
    expect(await verifyAudit(t.store)).toMatchObject({ rows: 2, ok: true });
  });

  it('lists entries newest first, by subject, up to a limit', async () => {
    await appendEntries(3);
    await t.store.transaction(({ raw }) => audit(raw, entry(2, { again: true })));
    const all = await listAudit(t.store, { limit: 10 });
    expect(all.map((e) => [e.id, e.subject])).toEqual([[4, 'list:2'], [3, 'list:3'], [2, 'list:2'], [1, 'list:1']]);
    expect(all[0]).toMatchObject({ actor: 'user2@test', action: 'list.approved', details: { n: 2, again: true } });
    expect(all[0].at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(all[0].prevHash).toBe(all[1].hash);
    expect((await listAudit(t.store, { subject: 'list:2', limit: 10 })).map((e) => e.id)).toEqual([4, 2]);
    expect((await listAudit(t.store, { limit: 2 })).map((e) => e.id)).toEqual([4, 3]);
  });
});

describe('the database refuses edits', () => {
  it('UPDATE and DELETE through the normal path fail', async () => {
    await appendEntries(2);
    await expect(
      t.store.transaction(({ raw }) => raw.query(`UPDATE audit_log SET actor = 'someone else' WHERE id = 1`)),
    ).rejects.toThrow(/audit_log is append-only/);
    await expect(t.store.transaction(({ raw }) => raw.query('DELETE FROM audit_log WHERE id = 2'))).rejects.toThrow(/audit_log is append-only/);
    await expect(t.store.transaction(({ raw }) => raw.query('DELETE FROM audit_log'))).rejects.toThrow(/append-only/);
    expect(await verifyAudit(t.store)).toMatchObject({ rows: 2, ok: true });
  });
});

describe('edits behind the database’s back', () => {
  it('a changed row is found by its hash', async () => {
    await appendEntries(4);
    await behindTheBack(`UPDATE audit_log SET details = '{"n": 20}' WHERE id = 2`);
    expect(await verifyAudit(t.store)).toMatchObject({
      rows: 4,
      ok: false,
      firstBroken: { id: 2, reason: expect.stringMatching(/^hash mismatch: the content of the row/) },
      lastHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('a time moved by one millisecond is found', async () => {
    await appendEntries(3);
    await behindTheBack(`UPDATE audit_log SET at = at + interval '1 millisecond' WHERE id = 3`);
    expect((await verifyAudit(t.store)).firstBroken).toMatchObject({ id: 3, reason: expect.stringMatching(/^hash mismatch/) });
  });

  it('a deleted row is found as a broken link at the next row', async () => {
    await appendEntries(4);
    await behindTheBack('DELETE FROM audit_log WHERE id = 2');
    expect(await verifyAudit(t.store)).toMatchObject({
      rows: 3,
      ok: false,
      firstBroken: { id: 3, reason: 'prev_hash mismatch: it is not the hash of the row before it (1): a row was removed or inserted between them' },
    });
  });

  it('a deleted first row is found at the new first row', async () => {
    await appendEntries(2);
    await behindTheBack('DELETE FROM audit_log WHERE id = 1');
    expect((await verifyAudit(t.store)).firstBroken).toEqual({
      id: 2, reason: 'prev_hash mismatch: the first row does not start from the genesis hash: rows before it were removed',
    });
  });

  it('a row rewritten with a recomputed hash breaks the link to the next row', async () => {
    await appendEntries(3);
    const [row2] = await listAudit(t.store, { subject: 'list:2', limit: 1 });
    const forged = { at: row2.at, actor: 'forger', action: row2.action, subject: row2.subject, details: row2.details };
    await behindTheBack(`UPDATE audit_log SET actor = 'forger', hash = $1 WHERE id = 2`, [auditHash(row2.prevHash, forged)]);
    expect((await verifyAudit(t.store)).firstBroken).toMatchObject({ id: 3, reason: expect.stringMatching(/^prev_hash mismatch/) });
  });
});

describe('asp audit', () => {
  it('verify prints ok, or names the broken row with exit 1; list shows entries', async () => {
    await appendEntries(3);
    await t.store.close();
    try {
      const ok = await runAsp([...t.cliArgs, 'audit', 'verify']);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^audit log intact: 3 row\(s\), last hash [0-9a-f]{64}\n {2}signatures: not checked, no deployment key \(0 row\(s\) signed, 3 unsigned\)\n$/);
      const list = await runAsp([...t.cliArgs, 'audit', 'list', '--subject', 'list:2']);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/^#2 {2}\S+Z {2}user2@test {2}list\.approved {2}list:2 {2}\{"n":2\}\n$/);
      const badLimit = await runAsp([...t.cliArgs, 'audit', 'list', '--limit', 'many']);
      expect(badLimit.code).toBe(2);
    } finally {
      await t.reopen();
    }
    await behindTheBack(`UPDATE audit_log SET actor = 'someone else' WHERE id = 2`);
    await t.store.close();
    try {
      const broken = await runAsp([...t.cliArgs, 'audit', 'verify']);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toMatch(/^audit log BROKEN at row 2: hash mismatch: .* \(3 row\(s\) read\)\n {2}signatures: not checked/);
      const json = await runAsp([...t.cliArgs, '--json', 'audit', 'verify']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ rows: 3, ok: false, firstBroken: { id: 2 } });
    } finally {
      await t.reopen();
    }
  // Five CLI runs, each cold-starting the embedded database: minutes on a loaded machine.
  }, 900_000);
});
