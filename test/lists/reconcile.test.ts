import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/db/store.ts';
import { ConflictError, NotFoundError, UserError } from '../../src/errors.ts';
import { paymentTotals, reconcileList } from '../../src/lists/reconcile.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds } from '../support/households.ts';
import { tempFile } from '../support/files.ts';

/**
 * Reconciliation of released lists. Lists, releases and pseudonymous ids are written directly in
 * SQL, as generation, approval and release would leave them.
 */

let t: TestDatabase;
let households: Map<string, number>;
let ruleVersionId: number;
let activationId: number;
let cycles = 0;

const REGISTRY = ['HH-1', 'HH-2', 'HH-3', 'HH-4', 'HH-5'];

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  households = await insertHouseholds(t.store, REGISTRY.map((id) => ({ id, pcode: 'XD01001', enrolments: [['CT', 'active']] })));
  await t.store.transaction(async ({ raw }) => {
    const rule = await raw.query<{ id: number }>(
      `INSERT INTO rule_versions (rule_id, hash, definition, file, created_by) VALUES ('test-reconcile', $1, '{}', 'test.yaml', 'author@test') RETURNING id`,
      ['a'.repeat(64)],
    );
    ruleVersionId = Number(rule.rows[0].id);
    const activation = await raw.query<{ id: number }>(
      `INSERT INTO activations (rule_version_id, rule_id, shock_key, pcode, stage, evidence, opened_as_of, evaluated_as_of)
       VALUES ($1, 'test-reconcile', 'indicator:vci3m:2026-10-01', 'XD01001', 'activation', '[]', now(), now()) RETURNING id`,
      [ruleVersionId],
    );
    activationId = Number(activation.rows[0].id);
  });
});
afterAll(() => t?.drop());

interface ListSetup {
  /** registry id → amount on the list (default 1000 each of HH-1..HH-5) */
  amounts?: Record<string, number>;
  /** Partners the list is released to; none leaves it approved. */
  releases?: { partner: string; pseudonymise: boolean }[];
}

/** A list generated, approved and (unless `releases` is empty) released; returns its id. */
async function makeList(store: Store, setup: ListSetup = {}): Promise<number> {
  const amounts = setup.amounts ?? Object.fromEntries(REGISTRY.map((id) => [id, 1000]));
  const releases = setup.releases ?? [{ partner: 'bank-x', pseudonymise: true }];
  const cycle = `2026-${String(++cycles).padStart(2, '0')}`;
  return store.transaction(async ({ raw }) => {
    const total = Object.values(amounts).reduce((a, b) => a + b, 0);
    const list = await raw.query<{ id: number }>(
      `INSERT INTO payment_lists (rule_version_id, rule_id, component, kind, programme_code, cycle, currency, households, total_amount, generated_by)
       VALUES ($1, 'test-reconcile', 0, 'vertical', 'CT', $2, 'KES', $3, $4, 'generator@test') RETURNING id`,
      [ruleVersionId, cycle, Object.keys(amounts).length, total],
    );
    const listId = Number(list.rows[0].id);
    await raw.query(
      `INSERT INTO payment_list_areas (list_id, activation_id, pcode, shock_key, registered, target)
       VALUES ($1, $2, 'XD01001', 'indicator:vci3m:2026-10-01', 5, 5)`,
      [listId, activationId],
    );
    let rank = 0;
    for (const [registryId, amount] of Object.entries(amounts)) {
      await raw.query(
        `INSERT INTO payment_list_entries (list_id, household_id, region, registry_id, admin_pcode, pcode, activation_id, rank, amount, currency, reason)
         VALUES ($1, $2, admin_region('XD01001'), $3, 'XD01001', 'XD01001', $4, $5, $6, 'KES', 'enrolled in CT')`,
        [listId, households.get(registryId), registryId, activationId, ++rank, amount],
      );
    }
    await raw.query(
      `UPDATE payment_lists SET status = 'approved', approved_by = 'approver@test', approved_at = now(), content_sha256 = payment_list_content_hash(id) WHERE id = $1`,
      [listId],
    );
    for (const { partner, pseudonymise } of releases) {
      await raw.query(
        `INSERT INTO partners (id, name, role, fields, pseudonymise, created_by) VALUES ($1, $1, 'payment_provider', ARRAY['id', 'amount'], $2, 'admin@test')
         ON CONFLICT (id) DO NOTHING`,
        [partner, pseudonymise],
      );
      const release = await raw.query<{ id: number }>(
        `INSERT INTO list_releases (list_id, partner_id, purpose, expires_on, fields, pseudonymised, content_sha256, released_by)
         VALUES ($1, $2, 'payment', '2027-01-31', ARRAY['id', 'amount'], $3, $4, 'releaser@test') RETURNING id`,
        [listId, partner, pseudonymise, 'c'.repeat(64)],
      );
      if (pseudonymise) {
        for (const registryId of Object.keys(amounts)) {
          await raw.query(`INSERT INTO release_ids (release_id, household_id, pseudonymous_id) VALUES ($1, $2, $3)`, [
            release.rows[0].id, households.get(registryId), pseudonym(partner, registryId),
          ]);
        }
      }
    }
    if (releases.length > 0) await raw.query(`UPDATE payment_lists SET status = 'released' WHERE id = $1`, [listId]);
    return listId;
  });
}

/** The pseudonymous id a test release gives a household. */
const pseudonym = (partner: string, registryId: string) => `${partner.toUpperCase()}-${registryId.slice(3)}X`;
const bank = (registryId: string) => pseudonym('bank-x', registryId);

const statuses = (listId: number) =>
  t.store.transaction(async ({ raw }) =>
    (await raw.query<{ registry_id: string; status: string; reason: string | null; amount: number; reported_in: string }>(
      `SELECT e.registry_id, s.status, s.reason, s.amount, s.reported_in
         FROM payment_statuses s JOIN payment_list_entries e USING (list_id, household_id)
        WHERE s.list_id = $1 ORDER BY e.registry_id`,
      [listId],
    )).rows,
  );

const auditOf = (listId: number) =>
  t.store.transaction(async ({ raw }) =>
    (await raw.query<{ actor: string; action: string; details: Record<string, unknown> }>(
      `SELECT actor, action, details FROM audit_log WHERE subject = $1 ORDER BY id`,
      [`list:${listId}`],
    )).rows,
  );

/** The UserError `work` throws. */
async function userError(work: Promise<unknown>): Promise<UserError> {
  const error = await work.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

describe('a good file', () => {
  it('records paid and failed households; the rest are pending; audited with counts only', async () => {
    const listId = await makeList(t.store, { amounts: { 'HH-1': 1000, 'HH-2': 1500, 'HH-3': 1000, 'HH-4': 2000, 'HH-5': 500 } });
    const file = await tempFile('good.csv', [
      'id,status,amount,reason,paid_at,reference,name',
      `${bank('HH-1')},paid,1000,,2026-11-03,TX-1,ignored`,
      `${bank('HH-2')},failed,1500.00,account closed,,,`,
      ` ${bank('HH-3')} , Paid ,1000.0,,2026-11-04T09:30:00Z,TX-3,`,
      `${bank('HH-4')},failed,2000,account closed,,,`,
    ].join('\n') + '\n');
    const report = await reconcileList(t.store, listId, file, 'finance@test');
    expect(report).toMatchObject({
      listId, partnerId: 'bank-x', pseudonymised: true, rows: 4, paid: 2, failed: 2, replaced: 0, ignoredColumns: ['name'],
    });
    expect(report.totals).toEqual({
      listId,
      currency: 'KES',
      households: 5,
      amount: 6000,
      paid: { households: 2, amount: 2000 },
      failed: { households: 2, amount: 3500, byReason: { 'account closed': { households: 2, amount: 3500 } } },
      pending: { households: 1, amount: 500 },
    });
    expect(await paymentTotals(t.store, listId)).toEqual(report.totals);
    expect(await statuses(listId)).toEqual([
      { registry_id: 'HH-1', status: 'paid', reason: null, amount: 1000, reported_in: 'good.csv' },
      { registry_id: 'HH-2', status: 'failed', reason: 'account closed', amount: 1500, reported_in: 'good.csv' },
      { registry_id: 'HH-3', status: 'paid', reason: null, amount: 1000, reported_in: 'good.csv' },
      { registry_id: 'HH-4', status: 'failed', reason: 'account closed', amount: 2000, reported_in: 'good.csv' },
    ]);
    const paid = await t.store.transaction(async ({ raw }) =>
      (await raw.query(
        `SELECT e.registry_id, to_char(s.paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS paid_at, s.reference
           FROM payment_statuses s JOIN payment_list_entries e USING (list_id, household_id) WHERE s.list_id = $1 ORDER BY e.registry_id`,
        [listId],
      )).rows,
    );
    expect(paid).toEqual([
      { registry_id: 'HH-1', paid_at: '2026-11-03T00:00', reference: 'TX-1' },
      { registry_id: 'HH-2', paid_at: null, reference: null },
      { registry_id: 'HH-3', paid_at: '2026-11-04T09:30', reference: 'TX-3' },
      { registry_id: 'HH-4', paid_at: null, reference: null },
    ]);
    const entries = await auditOf(listId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: 'finance@test',
      action: 'list.reconciled',
      details: { release: report.releaseId, partner: 'bank-x', file: 'good.csv', rows: 4, paid: 2, failed: 2, replaced: 0, sha256: report.sha256 },
    });
    // Counts only: no registry or pseudonymous ids.
    expect(JSON.stringify(entries[0].details)).not.toMatch(/HH-|BANK-X-/);
  });

  it('a list with no report yet is all pending', async () => {
    const listId = await makeList(t.store);
    expect(await paymentTotals(t.store, listId)).toMatchObject({
      households: 5, amount: 5000, paid: { households: 0, amount: 0 }, failed: { households: 0, amount: 0, byReason: {} },
      pending: { households: 5, amount: 5000 },
    });
    await expect(paymentTotals(t.store, 999_999)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a later report replaces an earlier one for the same household', async () => {
    const listId = await makeList(t.store);
    const first = await tempFile('first.csv', `id,status,amount,reason\n${bank('HH-1')},failed,1000,wallet full\n${bank('HH-2')},paid,1000,\n`);
    const second = await tempFile('second.csv', `id,status,amount,reason\n${bank('HH-1')},paid,1000,\n`);
    await reconcileList(t.store, listId, first, 'finance@test');
    expect((await paymentTotals(t.store, listId)).failed.byReason).toEqual({ 'wallet full': { households: 1, amount: 1000 } });
    const report = await reconcileList(t.store, listId, second, 'finance@test');
    expect(report).toMatchObject({ rows: 1, paid: 1, failed: 0, replaced: 1 });
    expect(await statuses(listId)).toEqual([
      { registry_id: 'HH-1', status: 'paid', reason: null, amount: 1000, reported_in: 'second.csv' },
      { registry_id: 'HH-2', status: 'paid', reason: null, amount: 1000, reported_in: 'first.csv' },
    ]);
    expect(report.totals).toMatchObject({ paid: { households: 2, amount: 2000 }, failed: { households: 0, byReason: {} }, pending: { households: 3 } });
    expect((await auditOf(listId)).map((e) => e.details.replaced)).toEqual([0, 1]);
  });

  it('ids are registry ids when the release was not pseudonymised; --partner picks among releases', async () => {
    const listId = await makeList(t.store, {
      releases: [{ partner: 'wfp-plain', pseudonymise: false }, { partner: 'bank-x', pseudonymise: true }],
    });
    const plain = await tempFile('plain.csv', 'id,status,amount,reason\nHH-1,paid,1000,\nHH-2,failed,1000,no show\n');
    const ambiguous = await userError(reconcileList(t.store, listId, plain, 'finance@test'));
    expect(ambiguous.message).toBe(`list ${listId} was released to wfp-plain, bank-x: say whose file this is with --partner`);
    const report = await reconcileList(t.store, listId, plain, 'finance@test', { partnerId: 'wfp-plain' });
    expect(report).toMatchObject({ partnerId: 'wfp-plain', pseudonymised: false, paid: 1, failed: 1 });
    // The bank's release knows its pseudonymous ids, not registry ids.
    const wrong = await userError(reconcileList(t.store, listId, plain, 'finance@test', { partnerId: 'bank-x' }));
    expect(wrong.details).toEqual([
      `${plain}: line 2, column id: is not a pseudonymous id of release ${report.releaseId + 1} (partner bank-x) of list ${listId}`,
      `${plain}: line 3, column id: is not a pseudonymous id of release ${report.releaseId + 1} (partner bank-x) of list ${listId}`,
    ]);
    await expect(reconcileList(t.store, listId, plain, 'finance@test', { partnerId: 'nobody' })).rejects.toThrow(
      `list ${listId} was not released to partner nobody (released to: wfp-plain, bank-x)`,
    );
  });
});

describe('the list export with a status column added', () => {
  it('reads the id from pseudonymous_id or registry_id, checks list_id, and keeps no reason on paid rows', async () => {
    const listId = await makeList(t.store, {
      releases: [{ partner: 'bank-x', pseudonymise: true }, { partner: 'wfp-plain', pseudonymise: false }],
    });
    // As the CSV export writes it: its `reason` says why the household is listed.
    const exported = await tempFile('export-bank.csv', [
      'list_id,content_sha256,pseudonymous_id,amount,currency,reason,status',
      `${listId},${'b'.repeat(64)},${bank('HH-1')},1000.00,KES,enrolled in CT,paid`,
      `${listId},${'b'.repeat(64)},${bank('HH-2')},1000.00,KES,no wallet,failed`,
    ].join('\n') + '\n');
    const report = await reconcileList(t.store, listId, exported, 'finance@test', { partnerId: 'bank-x' });
    expect(report).toMatchObject({ paid: 1, failed: 1, ignoredColumns: ['content_sha256', 'currency'] });
    expect((await statuses(listId)).map((s) => [s.registry_id, s.status, s.reason])).toEqual([
      ['HH-1', 'paid', null],
      ['HH-2', 'failed', 'no wallet'],
    ]);

    const plain = await tempFile('export-plain.csv', `list_id,registry_id,pseudonymous_id,amount,status\n${listId},HH-3,whatever,1000,paid\n`);
    expect(await reconcileList(t.store, listId, plain, 'finance@test', { partnerId: 'wfp-plain' })).toMatchObject({
      paid: 1, ignoredColumns: ['pseudonymous_id'],
    });
    // A plain release's ids are registry ids: a file with only pseudonymous ids cannot be matched.
    await expect(reconcileList(t.store, listId, exported, 'finance@test', { partnerId: 'wfp-plain' })).rejects.toThrow(
      `${exported}: line 1: release ${report.releaseId + 1} to wfp-plain is not pseudonymised: the ids go in a column id or registry_id`,
    );

    const otherList = await tempFile('other-list.csv', `list_id,id,amount,status\n${listId + 100},${bank('HH-4')},1000,paid\n,${bank('HH-5')},1000,paid\n`);
    const error = await userError(reconcileList(t.store, listId, otherList, 'finance@test', { partnerId: 'bank-x' }));
    expect(error.details).toEqual([
      `${otherList}: line 2, column list_id: is list ${listId + 100}, not list ${listId}`,
      `${otherList}: line 3, column list_id: is empty (this file is for list ${listId})`,
    ]);
  });
});

describe('a file with mistakes', () => {
  it('reports every problem with its line and column, and records nothing', async () => {
    const listId = await makeList(t.store, { amounts: { 'HH-1': 1000, 'HH-2': 1500, 'HH-3': 1000, 'HH-4': 1000, 'HH-5': 1000 } });
    const good = await tempFile('before.csv', `id,status,amount,reason\n${bank('HH-5')},paid,1000,\n`);
    await reconcileList(t.store, listId, good, 'finance@test');
    const before = await statuses(listId);
    const file = await tempFile('mistakes.csv', [
      'ID,Status,Amount,Reason,paid_at',
      `${bank('HH-1')},paid,1000,,`, // line 2: fine
      `NOT-AN-ID,paid,1000,,`, // 3: unknown id
      `${bank('HH-2')},paid,1000,,`, // 4: amount differs from the list's 1500
      `${bank('HH-3')},failed,1000,,`, // 5: failed without a reason
      `${bank('HH-4')},refunded,1000,,`, // 6: bad status
      `${bank('HH-1')},paid,1000,,`, // 7: duplicate of line 2
      `,,,,`, // 8: id, status and amount missing
      `${bank('HH-5')},paid,"1,000",,2026-02-30`, // 9: not an amount, not a date
    ].join('\n') + '\n');
    const error = await userError(reconcileList(t.store, listId, file, 'finance@test'));
    expect(error.message).toBe(`${file}: 10 problem(s) in 7 row(s); nothing was recorded`);
    expect(error.details).toEqual([
      `${file}: line 3, column ID: is not a pseudonymous id of release ${await releaseOf(listId)} (partner bank-x) of list ${listId}`,
      `${file}: line 4, column Amount: "1000" is not the amount on the list (1500.00)`,
      `${file}: line 5, column Reason: is required when the status is failed`,
      `${file}: line 6, column Status: "refunded" is not a status: use paid or failed`,
      `${file}: line 7, column ID: the same id is already on line 2`,
      `${file}: line 8, column ID: is required`,
      `${file}: line 8, column Status: is required (paid or failed)`,
      `${file}: line 8, column Amount: is required`,
      `${file}: line 9, column Amount: "1,000" is not an amount (digits and a decimal point)`,
      `${file}: line 9, column paid_at: "2026-02-30" is not a date (YYYY-MM-DD or an ISO date-time)`,
    ]);
    expect(await statuses(listId)).toEqual(before);
    expect(await auditOf(listId)).toHaveLength(1);
  });

  it('quoted fields with line breaks keep the line numbers right', async () => {
    const listId = await makeList(t.store);
    const file = await tempFile('multiline.csv', [
      'id,status,amount,reason,reference',
      `${bank('HH-1')},failed,1000,"recipient moved:`,
      `no forwarding address",TX-1`, // the record of line 2 ends here, on line 3
      `${bank('HH-2')},paid,1000,,"batch 7`,
      `second line`,
      `third line"`, // the record of line 4 ends on line 6
      `${bank('HH-3')},paid,999,,TX-3`, // line 7
      `${bank('HH-2')},paid,1000,,`, // line 8: duplicate of the record on line 4
    ].join('\r\n') + '\r\n');
    const error = await userError(reconcileList(t.store, listId, file, 'finance@test'));
    expect(error.details).toEqual([
      `${file}: line 7, column amount: "999" is not the amount on the list (1000.00)`,
      `${file}: line 8, column id: the same id is already on line 4`,
    ]);
  });

  it('lists the first 100 problems and counts the rest', async () => {
    const listId = await makeList(t.store);
    const rows = Array.from({ length: 150 }, (_, i) => `UNKNOWN-${i},paid,1000,`);
    const file = await tempFile('many.csv', ['id,status,amount,reason', ...rows].join('\n'));
    const error = await userError(reconcileList(t.store, listId, file, 'finance@test'));
    expect(error.message).toBe(`${file}: 150 problem(s) in 150 row(s); nothing was recorded`);
    expect(error.details).toHaveLength(101);
    expect(error.details[99]).toMatch(/line 101, column id: is not a pseudonymous id/);
    expect(error.details[100]).toBe('… and 50 more problem(s)');
  });

  it('a header without the required columns, an empty file, a malformed row', async () => {
    const listId = await makeList(t.store);
    const noAmount = await tempFile('no-amount.csv', `id,status,id\n${bank('HH-1')},paid,x\n`);
    const header = await userError(reconcileList(t.store, listId, noAmount, 'finance@test'));
    expect(header.details).toEqual([
      `${noAmount}: line 1, column id: the column appears twice`,
      `${noAmount}: line 1: the required column amount is missing`,
    ]);
    const empty = await tempFile('header-only.csv', 'id,status,amount,reason\n');
    await expect(reconcileList(t.store, listId, empty, 'finance@test')).rejects.toThrow(`${empty}: no rows after the header line`);
    const short = await tempFile('short.csv', `id,status,amount,reason\n${bank('HH-1')},paid,1000,\n${bank('HH-2')},paid\n`);
    await expect(reconcileList(t.store, listId, short, 'finance@test')).rejects.toThrow(new RegExp(`^${short}: line 3: missing data for column`));
    expect(await statuses(listId)).toEqual([]);
  });
});

describe('which lists can be reconciled', () => {
  it('only a released list', async () => {
    const approved = await makeList(t.store, { releases: [] });
    const file = await tempFile('unreleased.csv', `id,status,amount,reason\nHH-1,paid,1000,\n`);
    const unreleased = reconcileList(t.store, approved, file, 'finance@test');
    await expect(unreleased).rejects.toThrow(`list ${approved} is approved: only a released list can be reconciled`);
    await expect(unreleased).rejects.toBeInstanceOf(ConflictError); // 409 through the API: the list's state, not the file, is wrong
    await expect(reconcileList(t.store, 999_999, file, 'finance@test')).rejects.toBeInstanceOf(NotFoundError);
    const closed = await makeList(t.store, { releases: [{ partner: 'wfp-plain', pseudonymise: false }] });
    await t.store.transaction(({ raw }) => raw.query(`UPDATE payment_lists SET status = 'closed', closed_at = now() WHERE id = $1`, [closed]));
    await expect(reconcileList(t.store, closed, file, 'finance@test')).rejects.toThrow(`list ${closed} is closed`);
    expect(await statuses(approved)).toEqual([]);
    expect(await statuses(closed)).toEqual([]);
  });
});

describe('asp lists reconcile', () => {
  it('records a file, and refuses a bad one with exit 2 and every problem', async () => {
    const listId = await makeList(t.store);
    const good = await tempFile('cli-good.csv', `id,status,amount,reason\n${bank('HH-1')},paid,1000,\n${bank('HH-2')},failed,1000,no account\n`);
    const bad = await tempFile('cli-bad.csv', `id,status,amount,reason\n${bank('HH-3')},failed,1000,\nWHO,paid,1000,\n`);
    await t.store.close();
    try {
      const ok = await runAsp([...t.cliArgs, 'lists', 'reconcile', String(listId), good, '--by', 'finance@test']);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/list \d+: 2 row\(s\) from bank-x recorded: 1 paid, 1 failed/);
      expect(ok.stdout).toMatch(/pending: 3 household\(s\), 3000\.00 KES/);
      const refused = await runAsp([...t.cliArgs, 'lists', 'reconcile', String(listId), bad, '--by', 'finance@test']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('2 problem(s) in 2 row(s); nothing was recorded');
      expect(refused.stderr).toContain('line 2, column reason: is required when the status is failed');
      expect(refused.stderr).toContain('line 3, column id: is not a pseudonymous id');
      const noBy = await runAsp([...t.cliArgs, 'lists', 'reconcile', String(listId), good]);
      expect(noBy.code).toBe(2);
      expect(noBy.stderr).toMatch(/--by/);
    } finally {
      await t.reopen();
    }
    expect((await paymentTotals(t.store, listId)).paid.households).toBe(1);
  });
});

async function releaseOf(listId: number): Promise<number> {
  const { rows } = await t.store.transaction(({ raw }) => raw.query<{ id: number }>('SELECT id FROM list_releases WHERE list_id = $1', [listId]));
  return Number(rows[0].id);
}
