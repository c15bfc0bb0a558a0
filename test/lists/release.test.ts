import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, UserError } from '../../src/errors.ts';
import { addPartner, listPartners } from '../../src/lists/partners.ts';
import { pseudonymousId } from '../../src/lists/pseudonym.ts';
import { releaseList } from '../../src/lists/release.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds } from '../support/households.ts';
import { createList, lastAudit, releaseIds, type FixtureEntry } from '../exports/list-fixture.ts';

/**
 * Partners and releases through the real store: the whitelist vocabulary, pseudonymous ids that
 * are stable per partner and unlinkable between partners, and every refusal a coordinator can hit.
 */

let db: TestDatabase;
let households: FixtureEntry[];
const nextYear = `${new Date().getUTCFullYear() + 1}-12-31`;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  const ids = await insertHouseholds(
    db.store,
    Array.from({ length: 10 }, (_, i) => ({
      id: `REL-${String(i + 1).padStart(3, '0')}`,
      pcode: i < 6 ? 'XD01001' : 'XD01002',
      size: 1 + (i % 5),
      attributes: { name: `Name ${i + 1}`, phone: `+25470000${i}` },
    })),
  );
  households = [...ids].map(([registryId, householdId], i) => ({
    householdId, registryId, pcode: i < 6 ? 'XD01001' : 'XD01002', amount: 1500 + 100 * i,
  }));
  await addPartner(db.store, { id: 'fsp', name: 'Mobile money', role: 'payment_provider', fields: ['pseudonymous_id', 'name', 'phone', 'amount', 'currency'] }, 'alice');
  await addPartner(db.store, { id: 'wfp', name: 'WFP', role: 'humanitarian_partner', fields: ['pseudonymous_id', 'admin2_pcode', 'amount'] }, 'alice');
});

afterAll(async () => {
  await db?.drop();
});

const query = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
  db.store.transaction(async ({ raw }) => (await raw.query<R>(sql, params)).rows);

describe('partners', () => {
  it('refuses fields outside the vocabulary, registry ids for a pseudonymised partner, bad ids and roles, all at once', async () => {
    const error = await addPartner(db.store, { id: 'Bad Id', name: '', role: 'bank', fields: ['amount', 'pmt_score', 'registry_id'] }, 'alice').catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    const details = (error as UserError).details.join('\n');
    expect(details).toMatch(/id "Bad Id"/);
    expect(details).toMatch(/name: must not be empty/);
    expect(details).toMatch(/role "bank": must be one of payment_provider, humanitarian_partner, coordination/);
    expect(details).toMatch(/pmt_score cannot be shared; the fields are pseudonymous_id, registry_id, name, birth_date, national_id, phone/);
    expect(details).toMatch(/a pseudonymised partner cannot receive registry_id/);
    expect(await query(`SELECT 1 FROM partners WHERE name = ''`)).toEqual([]);
  });

  it('adds, then updates on the same id, keeping the vocabulary order; both audited', async () => {
    const added = await addPartner(db.store, { id: 'ocha', name: 'OCHA', role: 'coordination', fields: ['amount', 'admin1_pcode'] }, 'alice');
    expect(added).toMatchObject({ id: 'ocha', created: true, pseudonymise: true, fields: ['admin1_pcode', 'amount'] });
    expect(await lastAudit(db.store)).toMatchObject({ action: 'partner.added', subject: 'partner:ocha', actor: 'alice' });
    const updated = await addPartner(
      db.store,
      { id: 'ocha', name: 'OCHA ROSEA', role: 'coordination', fields: ['registry_id', 'amount'], pseudonymise: false },
      'bob',
    );
    expect(updated).toMatchObject({ created: false, name: 'OCHA ROSEA', pseudonymise: false, fields: ['registry_id', 'amount'], createdBy: 'alice' });
    expect(await lastAudit(db.store)).toMatchObject({ action: 'partner.updated', actor: 'bob' });
    expect((await listPartners(db.store)).map((p) => p.id)).toEqual(['fsp', 'ocha', 'wfp']);
  });
});

describe('releaseList', () => {
  it('records the release, one pseudonymous id per entry from the stored secret, marks the list released and audits it', async () => {
    const list = await createList(db.store, households);
    const release = await releaseList(db.store, list.listId, { partnerId: 'fsp', purpose: 'DSA-2026-04, November top-up', expiresOn: nextYear }, 'carol');
    expect(release).toMatchObject({
      listId: list.listId, partnerId: 'fsp', purpose: 'DSA-2026-04, November top-up', expiresOn: nextYear, households: 10,
      fields: ['pseudonymous_id', 'name', 'phone', 'amount', 'currency'], pseudonymised: true, contentSha256: list.contentSha256,
    });
    const [{ status }] = await query<{ status: string }>(`SELECT status FROM payment_lists WHERE id = $1`, [list.listId]);
    expect(status).toBe('released');

    const secrets = await query<{ value: string }>(`SELECT value FROM engine_settings WHERE name = 'pseudonym_secret'`);
    expect(secrets).toHaveLength(1);
    const ids = await releaseIds(db.store, list.listId, 'fsp');
    expect(ids.size).toBe(10);
    for (const h of households) expect(ids.get(h.registryId)).toBe(pseudonymousId(secrets[0].value, 'fsp', h.registryId));
    expect([...ids.values()].every((id) => /^[0-9A-HJKMNP-TV-Z]{24}$/.test(id))).toBe(true);

    const entry = await lastAudit(db.store);
    expect(entry).toMatchObject({ actor: 'carol', action: 'list.released', subject: `list:${list.listId}` });
    expect(entry.details).toMatchObject({ release: release.id, partner: 'fsp', households: 10, pseudonymised: true, content_sha256: list.contentSha256 });
    // No personal data in the log: neither registry ids, names nor the ids given out.
    const logged = JSON.stringify(entry);
    for (const h of households) expect(logged).not.toContain(h.registryId);
    expect(logged).not.toMatch(/Name \d/);
    expect(logged).not.toContain(ids.get(households[0].registryId));
  });

  it('refuses a second release to the same partner; another partner gets ids that cannot be joined with the first', async () => {
    const list = await createList(db.store, households);
    await releaseList(db.store, list.listId, { partnerId: 'fsp', purpose: 'payment', expiresOn: nextYear }, 'carol');
    await expect(releaseList(db.store, list.listId, { partnerId: 'fsp', purpose: 'again', expiresOn: nextYear }, 'carol')).rejects.toThrow(
      new RegExp(`payment list ${list.listId} was already released to fsp on \\d{4}-\\d{2}-\\d{2} \\(release \\d+, until ${nextYear}\\): a list is released to a partner once`),
    );
    // A conflict (409 through the API), not a bad request.
    await expect(releaseList(db.store, list.listId, { partnerId: 'fsp', purpose: 'again', expiresOn: nextYear }, 'carol')).rejects.toBeInstanceOf(ConflictError);
    // A released list can still go to another partner.
    await releaseList(db.store, list.listId, { partnerId: 'wfp', purpose: 'coordination of assistance', expiresOn: nextYear }, 'carol');
    const fsp = await releaseIds(db.store, list.listId, 'fsp');
    const wfp = await releaseIds(db.store, list.listId, 'wfp');
    expect(wfp.size).toBe(10);
    const shared = [...fsp.values()].filter((id) => [...wfp.values()].includes(id));
    expect(shared).toEqual([]);
    const releases = await query(`SELECT partner_id FROM list_releases WHERE list_id = $1 ORDER BY id`, [list.listId]);
    expect(releases.map((r) => r.partner_id)).toEqual(['fsp', 'wfp']);
  });

  it('gives a household the same id for the same partner in every list', async () => {
    const first = await createList(db.store, households.slice(0, 4), { cycle: '2026-12' });
    const second = await createList(db.store, households.slice(2, 8), { cycle: '2027-01' });
    await releaseList(db.store, first.listId, { partnerId: 'wfp', purpose: 'December', expiresOn: nextYear }, 'carol');
    await releaseList(db.store, second.listId, { partnerId: 'wfp', purpose: 'January', expiresOn: nextYear }, 'carol');
    const a = await releaseIds(db.store, first.listId, 'wfp');
    const b = await releaseIds(db.store, second.listId, 'wfp');
    for (const h of households.slice(2, 4)) expect(a.get(h.registryId)).toBe(b.get(h.registryId));
  });

  it('reads, hashes and copies the entries in pages: every entry gets its id whatever the page size', async () => {
    const list = await createList(db.store, households);
    const release = await releaseList(db.store, list.listId, { partnerId: 'wfp', purpose: 'paging', expiresOn: nextYear }, 'carol', { pageSize: 3 });
    expect(release.households).toBe(10);
    expect((await releaseIds(db.store, list.listId, 'wfp')).size).toBe(10);
  });

  it('uses ASP_PSEUDONYM_SECRET when it is configured', async () => {
    const list = await createList(db.store, households.slice(0, 3));
    const secret = 'a configured secret of at least thirty-two characters';
    process.env.ASP_PSEUDONYM_SECRET = secret;
    try {
      await releaseList(db.store, list.listId, { partnerId: 'wfp', purpose: 'configured secret', expiresOn: nextYear }, 'carol');
    } finally {
      delete process.env.ASP_PSEUDONYM_SECRET;
    }
    const ids = await releaseIds(db.store, list.listId, 'wfp');
    expect(ids.get(households[0].registryId)).toBe(pseudonymousId(secret, 'wfp', households[0].registryId));
  });

  it('refuses a draft list, a past or malformed expiry, no purpose, an unknown partner or list, and writes nothing', async () => {
    const draft = await createList(db.store, households.slice(0, 2), { approve: false });
    const approved = await createList(db.store, households.slice(0, 2));
    const before = await query<{ n: number }>(`SELECT (SELECT count(*) FROM list_releases)::int + (SELECT count(*) FROM audit_log)::int AS n`);
    const ok = { partnerId: 'wfp', purpose: 'payment', expiresOn: nextYear };
    await expect(releaseList(db.store, draft.listId, ok, 'carol')).rejects.toThrow(`payment list ${draft.listId} is draft: only an approved list can be released (approve it first)`);
    await expect(releaseList(db.store, approved.listId, { ...ok, expiresOn: '2020-01-31' }, 'carol')).rejects.toThrow('--expires 2020-01-31 is in the past');
    await expect(releaseList(db.store, approved.listId, { ...ok, expiresOn: '2027-02-30' }, 'carol')).rejects.toThrow('write a date as YYYY-MM-DD');
    await expect(releaseList(db.store, approved.listId, { ...ok, purpose: '  ' }, 'carol')).rejects.toThrow('--purpose');
    await expect(releaseList(db.store, approved.listId, { ...ok, partnerId: 'nobody' }, 'carol')).rejects.toBeInstanceOf(NotFoundError);
    await expect(releaseList(db.store, 999_999, ok, 'carol')).rejects.toBeInstanceOf(NotFoundError);
    const after = await query<{ n: number }>(`SELECT (SELECT count(*) FROM list_releases)::int + (SELECT count(*) FROM audit_log)::int AS n`);
    expect(after).toEqual(before);
    const [{ status }] = await query<{ status: string }>(`SELECT status FROM payment_lists WHERE id = $1`, [approved.listId]);
    expect(status).toBe('approved');
  });
});

describe('pseudonymousId', () => {
  it('is 24 Crockford base32 characters, the same for the same input and different per partner', () => {
    const a = pseudonymousId('s'.repeat(32), 'fsp', 'HH-1');
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{24}$/);
    expect(pseudonymousId('s'.repeat(32), 'fsp', 'HH-1')).toBe(a);
    expect(pseudonymousId('s'.repeat(32), 'wfp', 'HH-1')).not.toBe(a);
    expect(pseudonymousId('t'.repeat(32), 'fsp', 'HH-1')).not.toBe(a);
  });
});
