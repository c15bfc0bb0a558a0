import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import { databaseUrl, serverAdminUrl, testBackend } from '../support/backend.ts';
import { adminQuery } from '../support/global-setup.ts';

/**
 * Migration 0020 turns three tables into partitioned ones on a database that already holds a
 * registry: nothing may be lost, no id may change, and the next household must not reuse an id.
 */
let store: Store;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  if (testBackend() === 'server') {
    const name = `asp_test_migration_${process.pid}_${Date.now()}`;
    await adminQuery(serverAdminUrl(), `CREATE DATABASE ${name}`);
    store = await openStore({ url: databaseUrl(serverAdminUrl(), name) });
    cleanup = async () => {
      await store.close();
      await adminQuery(serverAdminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    };
  } else {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'asp-migration-'));
    store = await openStore({ dataDir: path.join(parent, 'db') });
    cleanup = async () => {
      await store.close();
      await rm(parent, { recursive: true, force: true });
    };
  }
});
afterAll(() => cleanup?.());

type Row = Record<string, unknown>;
const rowsOf = async (text: string): Promise<Row[]> => (await store.transaction(({ raw }) => raw.query<Row>(text))).rows;

describe('migration 0020 on a registry that holds households', () => {
  it('keeps every household, enrolment and reference, gives each its region, and continues the ids', async () => {
    const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => migrations } });
    const to0019 = await migrator.migrateTo('0019-statement-level-list-checks');
    expect(to0019.error).toBeUndefined();
    await store.transaction(async ({ raw }) => {
      // Two regions (level 1), a district in each (level 2), and an area with no level-1 ancestor.
      await raw.query(`
        INSERT INTO admin_areas (pcode, name, level, parent_pcode, geom)
        SELECT p, p, l, parent, ST_Multi(ST_MakeEnvelope(x, 0, x + 1, 1, 4326))
          FROM (VALUES ('R1', 1, NULL, 0), ('R2', 1, NULL, 2), ('R1D1', 2, 'R1', 0), ('R2D1', 2, 'R2', 2), ('LONE', 2, NULL, 4)) AS a(p, l, parent, x)`);
      await raw.query(`INSERT INTO admin_area_ancestors (pcode, ancestor_pcode, depth)
        VALUES ('R1', 'R1', 0), ('R2', 'R2', 0), ('R1D1', 'R1D1', 0), ('R1D1', 'R1', 1), ('R2D1', 'R2D1', 0), ('R2D1', 'R2', 1), ('LONE', 'LONE', 0)`);
      await raw.query(`INSERT INTO programmes (code, name, currency, base_amount, frequency) VALUES ('CT', 'Cash', 'KES', 100, 'monthly')`);
      await raw.query(`INSERT INTO households (registry_id, admin_pcode, size, location)
        SELECT 'H' || g, (ARRAY['R1D1', 'R2D1', 'LONE', 'R1'])[1 + g % 4], g, ST_SetSRID(ST_MakePoint(g * 0.01, 0.5), 4326) FROM generate_series(1, 40) g`);
      // The last ids are gone, so the sequence is ahead of the highest id.
      await raw.query(`DELETE FROM households WHERE registry_id IN ('H39', 'H40')`);
      await raw.query(`INSERT INTO enrolments (household_id, programme_code, status) SELECT id, 'CT', 'active' FROM households WHERE size % 3 = 0`);
      const { rows: named } = await raw.query<{ id: number }>(`INSERT INTO named_lists (name, cycle, source, households, content_sha256, recorded_by)
        VALUES ('agency list', '2026-11', 'agency', 2, repeat('b', 64), 'c@test') RETURNING id`);
      await raw.query(`INSERT INTO named_list_households (named_list_id, household_id) SELECT $1, id FROM households WHERE registry_id IN ('H1', 'H2')`, [named[0].id]);
    });
    const households = await rowsOf(`SELECT id::int, registry_id, admin_pcode, size, ST_AsText(location) AS location FROM households ORDER BY id`);
    const enrolments = await rowsOf(`SELECT household_id::int, programme_code, status FROM enrolments ORDER BY household_id`);

    await migrate(store);

    expect(await rowsOf(`SELECT id::int, registry_id, admin_pcode, size, ST_AsText(location) AS location FROM households ORDER BY id`)).toEqual(households);
    expect(await rowsOf(`SELECT household_id::int, programme_code, status FROM enrolments ORDER BY household_id`)).toEqual(enrolments);
    // The region of each, from the areas written above: a district's level-1 parent, else its own area.
    const expected: Record<string, string> = { R1D1: 'R1', R2D1: 'R2', LONE: 'LONE', R1: 'R1' };
    for (const h of await rowsOf(`SELECT admin_pcode, region FROM households`)) expect(h.region).toBe(expected[h.admin_pcode as string]);
    expect(await rowsOf(`SELECT count(*)::int AS n FROM enrolments e JOIN households h ON h.id = e.household_id AND h.region = e.region`))
      .toEqual([{ n: enrolments.length }]);
    const { rows: partitioned } = await sql<{ relname: string }>`
      SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1`.execute(store.db);
    expect(partitioned.map((r) => r.relname)).toEqual(['enrolments', 'households', 'payment_list_entries']);

    // The next household's id follows the old sequence, past the deleted ones.
    const next = await rowsOf(`INSERT INTO households (registry_id, admin_pcode, region) VALUES ('H41', 'R2D1', admin_region('R2D1')) RETURNING id::int, region`);
    expect(next).toEqual([{ id: 41, region: 'R2' }]);
    // The named list's reference holds as the foreign key did.
    await expect(store.transaction(({ raw }) => raw.query(`DELETE FROM households WHERE registry_id = 'H1'`)))
      .rejects.toThrow(/violates foreign key constraint "named_list_households_household_id_fkey"/);
  });
});
