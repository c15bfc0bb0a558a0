import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAspOn } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// The whole subscribe / notify flow is in dci-notify.test.ts (the API and the subscriber share a
// database there); here, what a user typing the commands is told when something is missing.
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

describe('asp registry subscribe / unsubscribe dci', () => {
  it('says what is missing instead of subscribing half-way', { timeout: 120_000 }, async () => {
    delete process.env.ASP_PUBLIC_URL;
    const noPublicUrl = await runAspOn(t, ['registry', 'subscribe', 'dci', 'http://127.0.0.1:9/api', '--registry', 'sr']);
    expect(noPublicUrl.code).toBe(2);
    expect(noPublicUrl.stderr).toMatch(/a subscription needs ASP_PUBLIC_URL/);

    const noSubscription = await runAspOn(t, ['registry', 'unsubscribe', 'dci', 'http://127.0.0.1:9/api', '--registry', 'sr']);
    expect(noSubscription.code).toBe(2);
    expect(noSubscription.stderr).toMatch(/registry sr has no live subscription/);

    const badUrl = await runAspOn(t, ['registry', 'unsubscribe', 'dci', 'sr.example.org', '--registry', 'sr']);
    expect(badUrl.stderr).toMatch(/sr\.example\.org: the registry URL must start with http/);
    const { rows } = await t.store.transaction(({ raw }) => raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM dci_subscriptions`));
    expect(rows[0].n).toBe(0);
  });
});
