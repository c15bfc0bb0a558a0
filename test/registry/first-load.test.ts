import { readFile } from 'node:fs/promises';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { demoHouseholdsCsv } from '../../src/demo/households.ts';
import { withIndexesDeferredOnFirstLoad } from '../../src/registry/first-load.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { DEMO_AREA_FILES } from '../../src/demo/load-demo.ts';
import { tempFile } from '../support/files.ts';
import { registryWorld } from '../support/registry-world.ts';

/**
 * A first load into an empty registry drops the secondary indexes and builds them once at the end
 * (src/registry/first-load.ts). What a user must not notice: any difference in what was imported,
 * or a registry left without an index when the import ends, well or badly.
 */
const world = registryWorld();

interface IndexRow { oid: number; name: string; definition: string }
const indexes = async (): Promise<IndexRow[]> => {
  const { rows } = await sql<IndexRow>`
    SELECT i.indexrelid::int8::float8 AS oid, i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
      FROM pg_index i WHERE i.indrelid IN ('households'::regclass, 'enrolments'::regclass) ORDER BY 2`.execute(world.t.store.db);
  return rows;
};
/** Per index of the two tables: is it valid, and on how many of the table's partitions is it built. */
const partitionIndexes = Object.assign(
  async () => {
    const { rows } = await sql<{ name: string; valid: boolean; partitions: number }>`
      SELECT i.indexrelid::regclass::text AS name, i.indisvalid AS valid,
             (SELECT count(*)::int FROM pg_inherits p JOIN pg_index c ON c.indexrelid = p.inhrelid AND c.indisvalid WHERE p.inhparent = i.indexrelid) AS partitions
        FROM pg_index i WHERE i.indrelid IN ('households'::regclass, 'enrolments'::regclass) ORDER BY 1`.execute(world.t.store.db);
    return rows;
  },
  {
    async expected() {
      const { rows } = await sql<{ name: string; partitions: number }>`
        SELECT i.indexrelid::regclass::text AS name, (SELECT count(*)::int FROM pg_inherits p WHERE p.inhparent = i.indrelid) AS partitions
          FROM pg_index i WHERE i.indrelid IN ('households'::regclass, 'enrolments'::regclass) ORDER BY 1`.execute(world.t.store.db);
      return rows.map((r) => ({ ...r, valid: true }));
    },
  },
);
const withoutOids = (rows: IndexRow[]) => rows.map(({ name, definition }) => ({ name, definition }));

/** What the registry holds, without the ids and times that differ between two loads of the same file. */
const registry = async () => {
  const { rows } = await sql`
    SELECT h.registry_id, h.admin_pcode, ST_AsText(h.location) AS location, h.size, h.pmt_score, h.payment_channel, h.payment_account,
            h.head_first_name, h.head_last_name, h.head_birth_date::text, h.national_id, h.phone, h.attributes,
            ARRAY(SELECT e.programme_code || ':' || e.status FROM enrolments e WHERE e.household_id = h.id ORDER BY 1) AS enrolments
       FROM households h WHERE h.registry_id <> 'ALREADY-THERE' ORDER BY h.registry_id`.execute(world.t.store.db);
  return rows;
};

const demoFile = async (count: number, seed: number) => {
  const collection = JSON.parse(await readFile(DEMO_AREA_FILES[1], 'utf8')) as FeatureCollection;
  const areas = collection.features.map((f) => ({ pcode: String(f.properties?.ADM2_PCODE), geometry: f.geometry as Polygon | MultiPolygon, weight: 1 }));
  return tempFile(`first-load-${count}-${seed}.csv`, [...demoHouseholdsCsv(areas, count, seed, { cashTransfer: 'CT', olderPersons: 'OPG' })].join(''));
};

describe('a first load into an empty registry', () => {
  it('imports exactly what an import into a non-empty registry imports, and rebuilds the same indexes', async () => {
    const file = await demoFile(3_000, 7);
    const before = await indexes();

    const first = await importRegistry(world.t.store, file);
    expect(first).toMatchObject({ rows: 3_000, inserted: 3_000, rejected: 0 });
    const afterFirst = await indexes();
    // The same indexes by name and definition, but built anew: the bulk path was taken.
    expect(withoutOids(afterFirst)).toEqual(withoutOids(before));
    const rebuilt = afterFirst.filter((i) => !i.definition.includes('UNIQUE') && !i.name.endsWith('_pkey'));
    expect(rebuilt.map((i) => i.name).sort()).toEqual(['enrolments_programme_idx', 'households_admin_pcode_idx', 'households_location_gix']);
    for (const index of rebuilt) expect(index.oid).not.toBe(before.find((b) => b.name === index.name)!.oid);
    // Built on every partition, valid: a query on any region uses them.
    expect(await partitionIndexes()).toEqual(await partitionIndexes.expected());
    const loadedFirst = await registry();

    // The same file again, into a registry that already holds a household: the row-by-row path.
    await world.t.store.db.deleteFrom('enrolments').execute();
    await world.t.store.db.deleteFrom('households').execute();
    await importRegistry(world.t.store, await tempFile('already-there.csv', 'registry_id,admin_pcode\nALREADY-THERE,XD01001\n'));
    const beforeSecond = await indexes();
    const second = await importRegistry(world.t.store, file);
    expect(second).toMatchObject({ rows: 3_000, inserted: 3_000, rejected: 0 });
    expect(await indexes()).toEqual(beforeSecond);
    expect(await registry()).toEqual(loadedFirst);
    expect(loadedFirst.length).toBe(3_000);
  });

  it('leaves the indexes as they were when the import fails half-way', async () => {
    const before = await indexes();
    await expect(
      world.t.store.transaction(async (tx) =>
        withIndexesDeferredOnFirstLoad(tx, async () => {
          await tx.raw.query(`INSERT INTO households (registry_id, admin_pcode, region) VALUES ('HALF-WAY', 'XD01001', admin_region('XD01001'))`);
          throw new Error('the disk filled up');
        }),
      ),
    ).rejects.toThrow('the disk filled up');
    expect(await indexes()).toEqual(before);
    expect(await world.t.store.db.selectFrom('households').select('id').execute()).toEqual([]);
  });

  it('keeps the uniqueness of registry ids in force while the other indexes are down', async () => {
    await expect(
      world.t.store.transaction(async (tx) =>
        withIndexesDeferredOnFirstLoad(tx, async () => {
          await tx.raw.query(`INSERT INTO households (registry_id, admin_pcode, region) VALUES ('TWICE', 'XD01001', admin_region('XD01001')), ('TWICE', 'XD01002', admin_region('XD01002'))`);
        }),
      ),
    ).rejects.toThrow(/duplicate key|unique/i);
  });
});
