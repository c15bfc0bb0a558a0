import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importAreas } from '../../src/areas/import-areas.ts';
import { UserError } from '../../src/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { kenyaAdm1, kenyaAdm2 } from '../support/paths.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const countByLevel = async () =>
  Object.fromEntries(
    (await t.store.db.selectFrom('admin_areas').select(['level', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('level').execute())
      .map((r) => [r.level, Number(r.n)]),
  );

async function writeTemp(name: string, content: unknown): Promise<string> {
  const file = path.join(os.tmpdir(), `asp-areas-${process.pid}-${name}`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const square = (x: number, y: number, size = 1) => ({
  type: 'Polygon',
  coordinates: [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]],
});

describe('Kenya COD-AB boundaries', () => {
  it('imports 47 counties then 290 sub-counties, and a second import updates in place', async () => {
    const adm1 = await importAreas(t.store, kenyaAdm1, { level: 1, iso3: 'KEN' });
    expect(adm1).toMatchObject({ features: 47, inserted: 47, updated: 0 });
    const adm2 = await importAreas(t.store, kenyaAdm2, { level: 2 });
    expect(adm2).toMatchObject({ features: 290, inserted: 290, updated: 0 });
    expect(await countByLevel()).toEqual({ 1: 47, 2: 290 });

    const again1 = await importAreas(t.store, kenyaAdm1, { level: 1, iso3: 'KEN' });
    const again2 = await importAreas(t.store, kenyaAdm2, { level: 2 });
    expect(again1).toMatchObject({ inserted: 0, updated: 47 });
    expect(again2).toMatchObject({ inserted: 0, updated: 290 });
    expect(await countByLevel()).toEqual({ 1: 47, 2: 290 });
  });

  it('keeps the hierarchy: a sub-county knows its county, and the county its descendants', async () => {
    const ainabkoi = await t.store.db.selectFrom('admin_areas').selectAll().where('pcode', '=', 'KE027144').executeTakeFirstOrThrow();
    expect(ainabkoi).toMatchObject({ name: 'Ainabkoi', level: 2, parent_pcode: 'KE027', iso3: 'KEN' });
    const below = await t.store.db
      .selectFrom('admin_area_ancestors').select('pcode').where('ancestor_pcode', '=', 'KE027').where('depth', '=', 1).execute();
    expect(below.map((r) => r.pcode)).toContain('KE027144');
    expect(below.every((r) => r.pcode.startsWith('KE027'))).toBe(true);
  });

  it('repairs the self-intersecting counties and says which', async () => {
    const report = await importAreas(t.store, kenyaAdm1, { level: 1, iso3: 'KEN' });
    expect(report.repaired.map((r) => r.pcode)).toContain('KE011');
    expect(report.repaired.find((r) => r.pcode === 'KE011')?.reason).toMatch(/Self-intersection/);
    const invalid = await t.store.db.selectFrom('admin_areas').select('pcode').where((eb) => eb.not(eb.fn<boolean>('ST_IsValid', ['geom']))).execute();
    expect(invalid).toEqual([]);
  });

  it('finds the county of a point with the subdivided parts (Nairobi CBD is in KE047)', async () => {
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ pcode: string }>(
        `SELECT DISTINCT pcode FROM admin_area_parts WHERE level = 1 AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(36.8219, -1.2864), 4326))`,
      ),
    );
    expect(rows.map((r) => r.pcode)).toEqual(['KE047']);
  });
});

describe('bad boundary files', () => {
  it('names the feature index, P-code and field of every bad feature, and imports nothing', async () => {
    const file = await writeTemp('bad.geojson', {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { ADM1_PCODE: 'ZZ1', ADM1_EN: 'Fine' }, geometry: square(0, 0) },
        { type: 'Feature', properties: { ADM1_EN: 'No code' }, geometry: square(1, 0) },
        { type: 'Feature', properties: { ADM1_PCODE: 'ZZ3', ADM1_EN: 'Swapped' }, geometry: square(10, 95) },
        { type: 'Feature', properties: { ADM1_PCODE: 'ZZ1', ADM1_EN: 'Twice' }, geometry: square(2, 0) },
        { type: 'Feature', properties: { ADM1_PCODE: 'ZZ5' }, geometry: square(3, 0) },
        { type: 'Feature', properties: { ADM1_PCODE: 'ZZ6', ADM1_EN: 'Point' }, geometry: { type: 'Point', coordinates: [1, 1] } },
      ],
    });
    const error = await importAreas(t.store, file, { level: 1 }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    const details = (error as UserError).details.join('\n');
    expect(details).toMatch(/feature 1: field ADM1_PCODE is missing/);
    expect(details).toMatch(/feature 2 \(ZZ3\): geometry: .*outside longitude -180\.\.180 \/ latitude -90\.\.90/);
    expect(details).toMatch(/feature 3 \(ZZ1\): P-code ZZ1 already used by feature 0/);
    expect(details).toMatch(/feature 4 \(ZZ5\): field ADM1_EN/);
    expect(details).toMatch(/feature 5 \(ZZ6\): geometry: geometry type Point is not Polygon or MultiPolygon/);
    const found = await t.store.db.selectFrom('admin_areas').select('pcode').where('pcode', 'like', 'ZZ%').execute();
    expect(found).toEqual([]);
  });

  it('refuses a sub-area whose parent was never imported, and imports nothing of the file', async () => {
    const file = await writeTemp('orphans.geojson', {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { ADM2_PCODE: 'KE047999', ADM2_EN: 'Has parent', ADM1_PCODE: 'KE047' }, geometry: square(36.8, -1.3, 0.01) },
        { type: 'Feature', properties: { ADM2_PCODE: 'QQ001001', ADM2_EN: 'Orphan', ADM1_PCODE: 'QQ001' }, geometry: square(0, 0) },
      ],
    });
    const error = await importAreas(t.store, file, { level: 2 }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).details).toEqual([`${file}: feature 1 (QQ001001): parent P-code QQ001 does not exist (import the level above first)`]);
    expect(await t.store.db.selectFrom('admin_areas').select('pcode').where('pcode', '=', 'KE047999').execute()).toEqual([]);
  });

  it('says so when the file is not JSON or not a FeatureCollection', async () => {
    const notJson = await writeTemp('broken.json', '{"type": "FeatureCollection", "features": [');
    await expect(importAreas(t.store, notJson, { level: 1 })).rejects.toThrow(/not valid JSON/);
    const notCollection = await writeTemp('feature.json', { type: 'Feature', properties: {}, geometry: square(0, 0) });
    await expect(importAreas(t.store, notCollection, { level: 1 })).rejects.toThrow(/not a GeoJSON FeatureCollection/);
    await expect(importAreas(t.store, '/nonexistent/areas.json', { level: 1 })).rejects.toThrow(/cannot read/);
  });

  it('drops a third coordinate (elevation) instead of failing', async () => {
    const withZ = { type: 'Polygon', coordinates: [[[60, 10, 5], [61, 10, 5], [61, 11, 5], [60, 11, 5], [60, 10, 5]]] };
    const file = await writeTemp('z.geojson', { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { ADM1_PCODE: 'Z1', ADM1_EN: 'Zed' }, geometry: withZ }] });
    expect(await importAreas(t.store, file, { level: 1 })).toMatchObject({ inserted: 1 });
  });

  it('repairs a bow-tie polygon and reports it', async () => {
    const file = await writeTemp('bowtie.geojson', {
      type: 'FeatureCollection',
      features: [{
        type: 'Feature',
        properties: { ADM1_PCODE: 'BT1', ADM1_EN: 'Bow tie' },
        geometry: { type: 'Polygon', coordinates: [[[50, 50], [51, 51], [51, 50], [50, 51], [50, 50]]] },
      }],
    });
    const report = await importAreas(t.store, file, { level: 1 });
    expect(report.repaired).toEqual([{ pcode: 'BT1', reason: expect.stringMatching(/Self-intersection/) }]);
    const area = await t.store.db.selectFrom('admin_areas').select('repaired').where('pcode', '=', 'BT1').executeTakeFirstOrThrow();
    expect(area.repaired).toBe(true);
  });
});
