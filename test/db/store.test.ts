import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { migrate } from '../../src/db/migrate.ts';
import { upsertProgramme } from '../../src/registry/programmes.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const programme = (code: string, base_amount = 100) =>
  ({ code, name: `Programme ${code}`, currency: 'KES', base_amount, frequency: 'monthly' }) as const;

describe('the store', () => {
  it('reports which back end it runs on, with PostGIS', async () => {
    expect(t.store.backend).toBe(process.env.ASP_TEST_BACKEND === 'server' ? 'server' : 'embedded');
    const { rows } = await sql<{ v: string }>`SELECT postgis_lib_version() AS v`.execute(t.store.db);
    expect(rows[0].v).toMatch(/^3\.\d/);
  });

  it('rolls a failed transaction back whole: nothing is half-written', async () => {
    const attempt = t.store.transaction(async ({ db }) => {
      await db.insertInto('programmes').values(programme('HALF')).execute();
      await db.insertInto('programmes').values(programme('HALF')).execute(); // duplicate key
    });
    await expect(attempt).rejects.toThrow(/duplicate key/);
    expect(await t.store.db.selectFrom('programmes').select('code').where('code', '=', 'HALF').execute()).toEqual([]);
  });

  it('keeps concurrent transactions apart (PGlite has one connection and must serialise them)', async () => {
    await upsertProgramme(t.store, programme('COUNTER', 0));
    // 20 read-modify-write transactions at once; with interleaving, increments would be lost or fail.
    await Promise.all(
      Array.from({ length: 20 }, () =>
        t.store.transaction(async ({ raw }) => {
          const { rows } = await raw.query<{ base_amount: number }>(
            `SELECT base_amount FROM programmes WHERE code = 'COUNTER' FOR UPDATE`,
          );
          await new Promise((resolve) => setTimeout(resolve, 2));
          await raw.query(`UPDATE programmes SET base_amount = $1 WHERE code = 'COUNTER'`, [rows[0].base_amount + 1]);
        }),
      ),
    );
    // Plain queries issued meanwhile also wait their turn rather than landing inside a transaction.
    const row = await t.store.db.selectFrom('programmes').select('base_amount').where('code', '=', 'COUNTER').executeTakeFirstOrThrow();
    expect(row.base_amount).toBe(20);
  });

  it('migrates idempotently: a second run applies nothing', async () => {
    expect(await migrate(t.store)).toEqual([]);
  });
});

describe('a second process on the same database', () => {
  it('is refused on the embedded folder while it is open (and let in after close); shares the server', async () => {
    const { runAsp } = await import('../support/cli.ts');
    const second = await runAsp([...t.cliArgs, 'programmes', 'list']);
    if (t.store.backend === 'server') {
      expect(second.code, second.stderr).toBe(0);
      return;
    }
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/the embedded database in .* is in use by process \d+/);
    await t.store.close();
    const afterClose = await runAsp([...t.cliArgs, 'programmes', 'list']);
    expect(afterClose.code, afterClose.stderr).toBe(0);
    await t.reopen();
  });
});
