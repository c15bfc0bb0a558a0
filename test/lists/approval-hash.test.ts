import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { createApiKey } from '../../src/api/keys.ts';
import type { GeneratedList } from '../../src/engine/targeting/generate-lists.ts';
import { ConflictError, UserError } from '../../src/errors.ts';
import { approveList, cancelList, getList, listContentHash, listLists } from '../../src/lists/lifecycle.ts';
import { approvalWorld, APPROVAL_RULE, moveAccount, regenerate, storedList } from '../support/approval-world.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * Approve what you saw (issue 11, item 1): an approval names the content hash (and version) the
 * approver was shown; a list regenerated since refuses it, in the library, the CLI and the API,
 * and the database refuses it at commit whoever writes it. A regeneration voids a first approval,
 * so a stale one never blocks the list.
 */

let t: TestDatabase;
let activationId: number;
let accounts = 0;

beforeAll(async () => {
  t = await createTestDatabase();
  ({ activationId } = await approvalWorld(t.store, 30));
}, 120_000);
afterAll(async () => {
  delete process.env.ASP_SECOND_APPROVAL_ABOVE;
  await t?.drop();
});

/** A fresh draft (any live list of the rule cancelled first) whose next regeneration gives other content. */
async function freshDraft(): Promise<GeneratedList> {
  for (const live of await listLists(t.store, { ruleId: APPROVAL_RULE })) {
    if (live.status !== 'cancelled') await cancelList(t.store, live.id, 'maker@test', 'a fresh draft for the next test');
  }
  const draft = await regenerate(t.store, activationId);
  await moveAccount(t.store, `07-moved-${++accounts}`);
  return draft;
}

async function auditOf(listId: number): Promise<{ action: string; actor: string; details: Record<string, unknown> }[]> {
  const { rows } = await t.store.transaction(({ raw }) =>
    raw.query<{ action: string; actor: string; details: Record<string, unknown> }>(
      `SELECT action, actor, details FROM audit_log WHERE subject = $1 ORDER BY id`, [`list:${listId}`],
    ),
  );
  return rows;
}

beforeEach(() => {
  delete process.env.ASP_SECOND_APPROVAL_ABOVE;
});

describe('approving the content reviewed', () => {
  it('a list regenerated since it was reviewed is refused (conflict); the content shown now is approved', async () => {
    const reviewed = await freshDraft();
    const shown = await getList(t.store, reviewed.id);
    expect(shown).toMatchObject({ version: reviewed.version, entriesSha256: reviewed.sha256, contentSha256: null });
    expect(reviewed.sha256).toBe(await t.store.transaction(({ raw }) => listContentHash(raw, reviewed.id)));

    const now = await regenerate(t.store, activationId);
    expect(now).toMatchObject({ id: reviewed.id, replaced: true, version: reviewed.version + 1 });
    expect(now.sha256).not.toBe(reviewed.sha256);

    const stale = approveList(t.store, reviewed.id, 'checker@test', { sha256: reviewed.sha256 });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    await expect(stale).rejects.toThrow(`list ${reviewed.id} (version ${now.version}) is not the content you reviewed: you named sha256 ${reviewed.sha256}, its entries hash to ${now.sha256}; review it again`);
    await expect(approveList(t.store, reviewed.id, 'checker@test', { sha256: now.sha256, version: reviewed.version }))
      .rejects.toThrow(`list ${reviewed.id} was regenerated since you reviewed it: you reviewed version ${reviewed.version}, it is version ${now.version} now; review it again`);
    const unnamed = approveList(t.store, reviewed.id, 'checker@test', {});
    await expect(unnamed).rejects.toThrow(`name the content you reviewed: --sha256 HASH (asp lists show ${reviewed.id} prints it)`);
    await expect(unnamed).rejects.not.toBeInstanceOf(ConflictError);
    await expect(approveList(t.store, reviewed.id, 'checker@test', { sha256: 'abc' })).rejects.toBeInstanceOf(UserError);
    expect(await storedList(t.store, reviewed.id)).toMatchObject({ status: 'draft', approvedBy: null, contentSha256: null });

    const approved = await approveList(t.store, reviewed.id, 'checker@test', now);
    expect(approved).toMatchObject({ status: 'approved', approvedBy: 'checker@test', contentSha256: now.sha256, version: now.version, needsSecondApproval: false });
    expect(await storedList(t.store, reviewed.id)).toMatchObject({ status: 'approved', contentSha256: now.sha256, entriesHashNow: now.sha256 });
    expect((await auditOf(reviewed.id)).at(-1)).toMatchObject({ action: 'list.approved', actor: 'checker@test', details: { sha256: now.sha256, version: now.version } });
  });

  it('the database refuses an approval whose hash is not that of the entries, whoever writes it', async () => {
    const draft = await freshDraft();
    const other = 'f'.repeat(64);
    const approveBySql = (hash: string, status: 'draft' | 'approved') =>
      t.store.transaction(({ raw }) =>
        raw.query(`UPDATE payment_lists SET status = $3, approved_by = 'sql@test', approved_at = now(), content_sha256 = $2 WHERE id = $1`, [draft.id, hash, status]),
      );
    await expect(approveBySql(other, 'approved')).rejects.toThrow(
      `payment list ${draft.id} changed while it was being approved: the approval names content sha256 ${other}, its entries hash to ${draft.sha256}`,
    );
    await expect(approveBySql(other, 'draft')).rejects.toThrow(/changed while it was being approved/);
    expect(await storedList(t.store, draft.id)).toMatchObject({ status: 'draft', approvedBy: null, contentSha256: null });

    // A first approval of the right content freezes the entries until a regeneration voids it.
    await approveBySql(draft.sha256!, 'draft');
    await expect(t.store.transaction(({ raw }) => raw.query(`UPDATE payment_list_entries SET amount = amount + 1 WHERE list_id = $1`, [draft.id])))
      .rejects.toThrow(`payment list ${draft.id} has an approval of content sha256 ${draft.sha256}: its entries cannot change until it is regenerated`);
    // A second approval names the first's hash.
    await expect(t.store.transaction(({ raw }) =>
      raw.query(`UPDATE payment_lists SET status = 'approved', second_approved_by = 'sql2@test', second_approved_at = now(), second_approved_sha256 = $2 WHERE id = $1`, [draft.id, other]),
    )).rejects.toThrow(/payment_lists_second_approval_same_hash/);
    expect(await storedList(t.store, draft.id)).toMatchObject({ status: 'draft', approvedBy: 'sql@test', contentSha256: draft.sha256, entriesHashNow: draft.sha256 });
  });

  it('a regeneration voids a first approval (audited) and the list is approved afresh by anyone allowed', async () => {
    process.env.ASP_SECOND_APPROVAL_ABOVE = '100'; // the list totals 3000
    const reviewed = await freshDraft();
    const first = await approveList(t.store, reviewed.id, 'checker@test', reviewed);
    expect(first).toMatchObject({ status: 'draft', approvedBy: 'checker@test', contentSha256: reviewed.sha256, needsSecondApproval: true });

    const now = await regenerate(t.store, activationId);
    expect(await getList(t.store, reviewed.id)).toMatchObject({ status: 'draft', approvedBy: null, contentSha256: null, version: now.version, entriesSha256: now.sha256 });
    expect((await auditOf(reviewed.id)).slice(-2)).toMatchObject([
      { action: 'list.approval.voided', actor: 'maker@test', details: { approvedBy: 'checker@test', sha256: reviewed.sha256, version: reviewed.version, reason: 'regenerated' } },
      { action: 'list.generated', details: { version: now.version, sha256: now.sha256 } },
    ]);

    // The second approver reviewing the old content is refused; on the content now, theirs is a first approval.
    await expect(approveList(t.store, reviewed.id, 'director@test', reviewed)).rejects.toBeInstanceOf(ConflictError);
    expect(await approveList(t.store, reviewed.id, 'director@test', now)).toMatchObject({ status: 'draft', approvedBy: 'director@test', needsSecondApproval: true });
    const approved = await approveList(t.store, reviewed.id, 'checker@test', now);
    expect(approved).toMatchObject({ status: 'approved', approvedBy: 'director@test', secondApprovedBy: 'checker@test', contentSha256: now.sha256 });
    expect(await storedList(t.store, reviewed.id)).toMatchObject({ entriesHashNow: now.sha256 });
  });
});

describe('the hash on the CLI and the API', () => {
  it('asp lists show prints the version and hash; asp lists approve needs --sha256 and refuses a stale one (exit 2)', async () => {
    const reviewed = await freshDraft();
    const now = await regenerate(t.store, activationId);
    await t.store.close();
    try {
      const show = await runAsp([...t.cliArgs, 'lists', 'show', String(now.id)]);
      expect(show.code).toBe(0);
      expect(show.stdout).toContain(`version ${now.version}, content sha256 ${now.sha256}: once reviewed, asp lists approve ${now.id} --sha256 ${now.sha256} --list-version ${now.version} --by NAME`);
      const unnamed = await runAsp([...t.cliArgs, 'lists', 'approve', String(now.id), '--by', 'checker@test']);
      expect(unnamed.code).toBe(2);
      expect(unnamed.stderr).toMatch(/--sha256/);
      const stale = await runAsp([...t.cliArgs, 'lists', 'approve', String(now.id), '--sha256', reviewed.sha256!, '--list-version', String(reviewed.version), '--by', 'checker@test']);
      expect(stale.code).toBe(2);
      expect(stale.stderr).toContain(`list ${now.id} was regenerated since you reviewed it: you reviewed version ${reviewed.version}, it is version ${now.version} now`);
      expect(stale.stderr).not.toMatch(/\n\s+at /);
      const ok = await runAsp([...t.cliArgs, 'lists', 'approve', String(now.id), '--sha256', now.sha256!, '--list-version', String(now.version), '--by', 'checker@test']);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(`version ${now.version}  approved`);
    } finally {
      await t.reopen();
    }
    expect(await storedList(t.store, now.id)).toMatchObject({ status: 'approved', contentSha256: now.sha256, entriesHashNow: now.sha256 });
  }, 480_000); // three cold starts of the CLI on the embedded database, slow on a loaded machine

  it('POST /api/lists/:id/approve needs the hash (400), refuses a stale one (409) and approves the one shown', async () => {
    const reviewed = await freshDraft();
    const now = await regenerate(t.store, activationId);
    const { key } = await createApiKey(t.store, { role: 'approver', label: 'test approver' }, 'admin@test');
    const server: Server = createApp(t.store).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const approve = (body: unknown) =>
      fetch(`${base}/api/lists/${now.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    try {
      const shown = (await (await fetch(`${base}/api/lists/${now.id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as { list: { entriesSha256: string; version: number } };
      expect(shown.list).toMatchObject({ entriesSha256: now.sha256, version: now.version });

      const unnamed = await approve({});
      expect(unnamed.status).toBe(400);
      expect(((await unnamed.json()) as { error: { details: { path: string }[] } }).error.details.map((d) => d.path)).toEqual(['body.sha256']);
      const stale = await approve({ sha256: reviewed.sha256, version: reviewed.version });
      expect(stale.status).toBe(409);
      expect(((await stale.json()) as { error: { code: string } }).error.code).toBe('conflict');
      const ok = await approve({ sha256: shown.list.entriesSha256, version: shown.list.version });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { list: { status: string; contentSha256: string } }).list).toMatchObject({ status: 'approved', contentSha256: now.sha256 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
