import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../src/db/store.ts';
import { templateDb, databaseUrl, embeddedTemplateDir, serverAdminUrl, testBackend } from './backend.ts';
import { adminQuery } from './global-setup.ts';

/** A fresh, migrated, empty database of the back end under test, and how to reach it. */
export interface TestDatabase {
  store: Store;
  /** CLI flags that point a child `asp` process at this database (close `store` first on embedded). */
  cliArgs: string[];
  /** Environment for a child process (`DATABASE_URL` or `ASP_DATA_DIR`). */
  env: Record<string, string>;
  /** Re-open after the store was closed (e.g. after a child process used the embedded folder). */
  reopen(): Promise<Store>;
  drop(): Promise<void>;
}

let counter = 0;

export async function createTestDatabase(): Promise<TestDatabase> {
  const id = `${process.pid}_${Date.now()}_${counter++}`;
  if (testBackend() === 'server') {
    const admin = serverAdminUrl();
    const name = `asp_test_${id}`;
    await adminQuery(admin, `CREATE DATABASE ${name} TEMPLATE ${templateDb()}`);
    const url = databaseUrl(admin, name);
    const handle: TestDatabase = {
      store: await openStore({ url }),
      cliArgs: ['--db', url],
      env: { DATABASE_URL: url },
      async reopen() {
        handle.store = await openStore({ url });
        return handle.store;
      },
      async drop() {
        await handle.store.close().catch(() => {});
        await adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
    return handle;
  }
  const parent = await mkdtemp(path.join(os.tmpdir(), 'asp-test-'));
  const dataDir = path.join(parent, 'db');
  await cp(embeddedTemplateDir(), dataDir, { recursive: true });
  const handle: TestDatabase = {
    store: await openStore({ dataDir }),
    cliArgs: ['--data-dir', dataDir],
    env: { ASP_DATA_DIR: dataDir },
    async reopen() {
      handle.store = await openStore({ dataDir });
      return handle.store;
    },
    async drop() {
      await handle.store.close().catch(() => {});
      await rm(parent, { recursive: true, force: true });
    },
  };
  return handle;
}
