import { rm } from 'node:fs/promises';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.ts';
import { openStore } from '../../src/db/store.ts';
import { templateDb, databaseUrl, embeddedTemplateDir, serverAdminUrl, testBackend } from './backend.ts';

/**
 * Builds one migrated template database per run; each test file then gets its own copy
 * (CREATE DATABASE … TEMPLATE on the server, a copied data folder for PGlite), which is much
 * faster than migrating (and creating PostGIS) per file.
 */
export default async function setup(): Promise<() => Promise<void>> {
  process.env.ASP_TEST_RUN = String(process.pid);
  if (testBackend() === 'server') {
    const admin = serverAdminUrl();
    await adminQuery(admin, `DROP DATABASE IF EXISTS ${templateDb()} WITH (FORCE)`);
    await adminQuery(admin, `CREATE DATABASE ${templateDb()}`);
    const store = await openStore({ url: databaseUrl(admin, templateDb()) });
    await migrate(store);
    await store.close();
    return async () => {
      await adminQuery(admin, `DROP DATABASE IF EXISTS ${templateDb()} WITH (FORCE)`);
    };
  }
  const dir = embeddedTemplateDir();
  await rm(dir, { recursive: true, force: true });
  const store = await openStore({ dataDir: dir });
  await migrate(store);
  await store.close();
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}

export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
