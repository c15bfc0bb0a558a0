import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishPull, lastCursor, startPull } from '../../src/registry/pulls.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const pull = (registry: string, url = 'https://sr.example.org/api') =>
  startPull(t.store, { registry, kind: 'dci', url, mode: 'full', since: null, actor: 'ops' });

describe('the record of registry pulls', () => {
  it('gives the next delta the cursor of the last successful pull of that registry only', async () => {
    expect(await lastCursor(t.store, 'a')).toBeUndefined();
    const first = await pull('a');
    await finishPull(t.store, first, { status: 'success', counts: { inserted: 5 }, cursor: new Date('2026-12-01T00:00:00Z') });
    const failed = await pull('a');
    await finishPull(t.store, failed, { status: 'failed', error: 'HTTP 503' });
    const other = await pull('b');
    await finishPull(t.store, other, { status: 'success', counts: {}, cursor: new Date('2026-12-05T00:00:00Z') });
    expect(await lastCursor(t.store, 'a')).toEqual(new Date('2026-12-01T00:00:00Z'));
    expect(await lastCursor(t.store, 'b')).toEqual(new Date('2026-12-05T00:00:00Z'));
    await expect(finishPull(t.store, failed, { status: 'failed', error: 'again' })).rejects.toThrow(/not running/);
  });

  it('keeps and audits no credentials written in the URL, and a failed pull with its error', async () => {
    const id = await pull('c', 'https://svc:s3cret@sr.example.org/api');
    await finishPull(t.store, id, { status: 'failed', error: 'HTTP 503' });
    const { rows } = await t.store.transaction(({ raw }) => raw.query<{ url: string; status: string; error: string; details: unknown }>(
      `SELECT p.url, p.status, p.error, a.details FROM registry_pulls p JOIN audit_log a ON a.subject = 'registry_pull:' || p.id WHERE p.id = $1`, [id]));
    expect(rows).toEqual([{ url: 'https://sr.example.org/api', status: 'failed', error: 'HTTP 503',
      details: { registry: 'c', kind: 'dci', url: 'https://sr.example.org/api', mode: 'full', status: 'failed' } }]);
  });
});
