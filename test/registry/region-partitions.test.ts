import { readFile } from 'node:fs/promises';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { demoHouseholdsCsv } from '../../src/demo/households.ts';
import { DEMO_AREA_FILES } from '../../src/demo/load-demo.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { tempFile } from '../support/files.ts';
import { registryWorld } from '../support/registry-world.ts';

/**
 * households, enrolments and list entries are partitioned by region, the first-level admin area a
 * household was first registered in (migration 0020). What a user would notice if it went wrong: a
 * household stored twice, a moved household losing its id or enrolments, a reference to a
 * household that does not exist.
 * The region each household should have comes from the boundary file's own ADM1_PCODE, not from
 * the database's area hierarchy.
 */
const world = registryWorld();

const districts = async () => {
  const collection = JSON.parse(await readFile(DEMO_AREA_FILES[1], 'utf8')) as FeatureCollection;
  return collection.features.map((f) => ({
    pcode: String(f.properties?.ADM2_PCODE), region: String(f.properties?.ADM1_PCODE), geometry: f.geometry as Polygon | MultiPolygon, weight: 1,
  }));
};

const csv = (header: string, rows: string[][]) => [header, ...rows.map((r) => r.join(','))].join('\n') + '\n';

describe('households partitioned by region', () => {
  it('stores each household, with its enrolments, in the partition of its first-level area', async () => {
    const areas = await districts();
    const file = await tempFile('regions.csv', [...demoHouseholdsCsv(areas, 2_000, 11, { cashTransfer: 'CT', olderPersons: 'OPG' })].join(''));
    expect(await importRegistry(world.t.store, file)).toMatchObject({ inserted: 2_000, rejected: 0 });

    const { rows } = await sql<{ registry_id: string; admin_pcode: string; region: string; partition: string; enrolment_partitions: string[] }>`
      SELECT h.registry_id, h.admin_pcode, h.region, h.tableoid::regclass::text AS partition,
             ARRAY(SELECT DISTINCT e.tableoid::regclass::text FROM enrolments e WHERE e.household_id = h.id) AS enrolment_partitions
        FROM households h`.execute(world.t.store.db);
    expect(rows).toHaveLength(2_000);
    const regionOf = new Map(areas.map((a) => [a.pcode, a.region]));
    for (const h of rows) expect(h.region, h.registry_id).toBe(regionOf.get(h.admin_pcode));
    // One region, one partition; a household's enrolments beside it.
    const partitionOf = new Map<string, Set<string>>();
    for (const h of rows) partitionOf.set(h.region, (partitionOf.get(h.region) ?? new Set()).add(h.partition));
    expect([...partitionOf.values()].map((p) => p.size)).toEqual([...partitionOf.keys()].map(() => 1));
    expect(partitionOf.size).toBe(new Set(areas.map((a) => a.region)).size);
    for (const h of rows) for (const p of h.enrolment_partitions) expect(p.replace('enrolments_', ''), h.registry_id).toBe(h.partition.replace('households_', ''));
    expect(rows.filter((h) => h.enrolment_partitions.length > 0).length).toBeGreaterThan(500);
  });

  it('keeps a household that moved to another region where it was first registered, with its id and enrolments', async () => {
    const header = 'registry_id,admin_pcode,size,programmes';
    await importRegistry(world.t.store, await tempFile('before.csv', csv(header, [['MOVER', 'XD01001', '4', 'CT;OPG'], ['STAYER', 'XD01002', '3', 'CT']])));
    const before = await sql<{ id: number; partition: string }>`
      SELECT id, tableoid::regclass::text AS partition FROM households WHERE registry_id = 'MOVER'`.execute(world.t.store.db);

    const report = await importRegistry(world.t.store, await tempFile('after.csv', csv(header, [['MOVER', 'XD03002', '5', 'CT;OPG'], ['STAYER', 'XD01002', '3', 'CT']])));
    expect(report).toMatchObject({ inserted: 0, updated: 1 });
    const { rows } = await sql<{ registry_id: string; id: number; admin_pcode: string; size: number; region: string; partition: string; enrolments: string[] }>`
      SELECT h.registry_id, h.id, h.admin_pcode, h.size, h.region, h.tableoid::regclass::text AS partition,
             ARRAY(SELECT e.programme_code || ':' || e.status || ':' || e.region FROM enrolments e WHERE e.household_id = h.id ORDER BY 1) AS enrolments
        FROM households h ORDER BY 1`.execute(world.t.store.db);
    // Its area (what it is matched by) is the new one; where it is stored is not.
    expect(rows).toEqual([
      { registry_id: 'MOVER', id: before.rows[0].id, admin_pcode: 'XD03002', size: 5, region: 'XD01', partition: before.rows[0].partition, enrolments: ['CT:active:XD01', 'OPG:active:XD01'] },
      { registry_id: 'STAYER', id: expect.any(Number), admin_pcode: 'XD01002', size: 3, region: 'XD01', partition: expect.any(String), enrolments: ['CT:active:XD01'] },
    ]);
  });

  it('holds a registry id once in the whole registry, whatever the region', async () => {
    await importRegistry(world.t.store, await tempFile('one.csv', csv('registry_id,admin_pcode', [['ONCE', 'XD01001']])));
    await expect(world.t.store.transaction(({ raw }) => raw.query(
      `INSERT INTO households (registry_id, admin_pcode, region) VALUES ('ONCE', 'XD04001', admin_region('XD04001'))`,
    ))).rejects.toThrow(/duplicate key value violates unique constraint "households_registry_id_key"/);
    await expect(world.t.store.transaction(({ raw }) => raw.query(
      `INSERT INTO households (registry_id, admin_pcode, region) VALUES ('ONCE', 'XD01003', admin_region('XD01003'))`,
    ))).rejects.toThrow(/duplicate key value violates unique constraint "households_r\d+_registry_id_region_key"/); // the partition's own key
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM households WHERE registry_id = 'ONCE'`.execute(world.t.store.db);
    expect(rows[0].n).toBe(1);
    // Nor does a household change region: the rows about it are stored by it.
    await expect(world.t.store.transaction(({ raw }) => raw.query(`UPDATE households SET region = 'XD04' WHERE registry_id = 'ONCE'`)))
      .rejects.toThrow(/household \d+ is stored in region XD01: its region does not change/);
  });

  it('keeps each enrolment with an existing household in its region, and deletes it with its household', async () => {
    await importRegistry(world.t.store, await tempFile('enrolled.csv', csv('registry_id,admin_pcode,programmes', [['ENROLLED', 'XD02001', 'CT;OPG']])));
    const enrol = (household: string, region: string) => world.t.store.transaction(({ raw }) => raw.query(
      `INSERT INTO enrolments (household_id, region, programme_code, status) SELECT ${household}, ${region}, 'CT', 'active'`,
    ));
    const fk = /insert or update on table "enrolments" violates foreign key constraint "enrolments_household_id_fkey"/;
    await expect(enrol('-1', `'XD02'`)).rejects.toThrow(fk);
    await expect(world.t.store.transaction(({ raw }) => raw.query(
      `UPDATE enrolments SET region = 'XD03' WHERE household_id = (SELECT id FROM households WHERE registry_id = 'ENROLLED')`,
    ))).rejects.toThrow(fk);
    const count = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM enrolments`.execute(world.t.store.db)).rows[0].n;
    expect(await count()).toBe(2);
    await world.t.store.transaction(({ raw }) => raw.query(`DELETE FROM households WHERE registry_id = 'ENROLLED'`));
    expect(await count()).toBe(0);
  });

  it('refuses a write that names a partition, whose checks run only on the partitioned table', async () => {
    await importRegistry(world.t.store, await tempFile('direct.csv', csv('registry_id,admin_pcode,programmes', [['DIRECT', 'XD02001', 'CT']])));
    const run = (text: string) => world.t.store.transaction(({ raw }) => raw.query(text));
    const { rows } = await run(`SELECT h.tableoid::regclass::text AS households, e.tableoid::regclass::text AS enrolments
                                  FROM households h JOIN enrolments e ON e.household_id = h.id WHERE h.registry_id = 'DIRECT'`);
    const { households, enrolments } = rows[0] as { households: string; enrolments: string };
    expect(households).toMatch(/^households_r[0-7]$/);
    const refused = (table: string, partition: string) => `rows of "${table}" are written through that table, not through its partition "${partition}"`;
    // A second record of another region's household, an enrolment of nobody, a list entry: each check skipped, so refused.
    await expect(run(`UPDATE ${households} SET registry_id = 'ENROLLED' WHERE registry_id = 'DIRECT'`)).rejects.toThrow(refused('households', households));
    await expect(run(`UPDATE ${enrolments} SET household_id = -1`)).rejects.toThrow(refused('enrolments', enrolments));
    await expect(run(`DELETE FROM payment_list_entries_r0`)).rejects.toThrow(refused('payment_list_entries', 'payment_list_entries_r0'));
    await expect(run(`TRUNCATE ${households}`)).rejects.toThrow(/cannot truncate table "households": enrolments, lists, releases, payments or disbursements refer to its households/);
    await expect(world.t.store.transaction(async ({ raw }) => {
      await raw.query(`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`);
      await raw.query(`TRUNCATE ${households}`);
    })).rejects.toThrow(`table "${households}" is truncated under READ COMMITTED only (this transaction is serializable)`);
    // Through the table, the same rows are written (and checked).
    await run(`UPDATE households SET registry_id = 'DIRECT-2' WHERE registry_id = 'DIRECT'`);
    expect((await run(`SELECT count(*)::int AS n FROM households WHERE registry_id = 'DIRECT-2'`)).rows).toEqual([{ n: 1 }]);
  });

  it('refuses a named list naming a household that does not exist, and the deletion of one it names', async () => {
    await importRegistry(world.t.store, await tempFile('named.csv', csv('registry_id,admin_pcode', [['NAMED', 'XD02001']])));
    const named = (household: string) => world.t.store.transaction(async ({ raw }) => {
      const { rows } = await raw.query<{ id: number }>(
        `INSERT INTO named_lists (name, cycle, source, households, content_sha256, recorded_by)
         VALUES ('other agency', '2026-11', 'agency X', 1, repeat('a', 64), 'coordinator@test') RETURNING id`,
      );
      await raw.query(`INSERT INTO named_list_households (named_list_id, household_id) SELECT $1, ${household}`, [rows[0].id]);
    });
    await expect(named('-1')).rejects.toThrow(/violates foreign key constraint "named_list_households_household_id_fkey"/);
    await named(`(SELECT id FROM households WHERE registry_id = 'NAMED')`);
    await expect(world.t.store.transaction(({ raw }) => raw.query(`DELETE FROM households WHERE registry_id = 'NAMED'`)))
      .rejects.toThrow(/violates foreign key constraint "named_list_households_household_id_fkey" on table "named_list_households"/);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM households WHERE registry_id = 'NAMED'`.execute(world.t.store.db);
    expect(rows[0].n).toBe(1);
  });
});
