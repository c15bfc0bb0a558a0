import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { MultiPolygon } from 'geojson';
import { importAreas, type AreaImportReport } from '../areas/import-areas.ts';
import { guessAdminLevel } from '../areas/level.ts';
import type { Store } from '../db/store.ts';
import { upsertProgramme } from '../registry/programmes.ts';
import { importRegistry, type RegistryImportReport } from '../registry/import-registry.ts';
import { demoHouseholdsCsv, type DemoArea } from './households.ts';

const demoFolder = fileURLToPath(new URL('../../data/demo/', import.meta.url));

export const DEMO_AREA_FILES = [
  path.join(demoFolder, 'demoland-adm1.geojson'),
  path.join(demoFolder, 'demoland-adm2.geojson'),
];

/** The demo's two programmes; amounts are illustrative, in Kenyan shillings. */
export const DEMO_PROGRAMMES = [
  { code: 'CT', name: 'Regular cash transfer (demo)', currency: 'KES', base_amount: 2700, frequency: 'monthly' },
  { code: 'OPG', name: "Older persons' grant (demo)", currency: 'KES', base_amount: 2000, frequency: 'monthly' },
] as const;

export interface DemoOptions {
  /** Boundary files, coarsest level first; default the synthetic Demoland. */
  areaFiles?: string[];
  households?: number;
  seed?: number;
}

export interface DemoReport {
  areas: AreaImportReport[];
  registry: RegistryImportReport;
}

/**
 * Loads the demo: boundaries, the two programmes and a generated registry over the lowest-level
 * areas (households spread by land area), through the same import paths a user's files take.
 */
export async function loadDemo(store: Store, options: DemoOptions = {}): Promise<DemoReport> {
  const areaFiles = options.areaFiles?.length ? options.areaFiles : DEMO_AREA_FILES;
  const areas: AreaImportReport[] = [];
  for (const file of areaFiles) {
    areas.push(await importAreas(store, file, { level: await guessAdminLevel(file) }));
  }
  for (const programme of DEMO_PROGRAMMES) await upsertProgramme(store, programme);

  // Households go to the lowest level of the files just loaded (not to other areas in the store).
  const lowest = areas.reduce((a, b) => (b.level > a.level ? b : a));
  const rows = await store.db
    .selectFrom('admin_areas')
    .select([
      'pcode',
      sql<string>`ST_AsGeoJSON(geom, 6)`.as('geojson'),
      sql<number>`ST_Area(geom::geography) / 1e6`.as('km2'),
    ])
    .where('pcode', 'in', lowest.pcodes)
    .orderBy('pcode')
    .execute();
  const demoAreas: DemoArea[] = rows.map((r) => ({
    pcode: r.pcode,
    geometry: JSON.parse(r.geojson) as MultiPolygon,
    weight: r.km2,
  }));

  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-demo-'));
  try {
    const csv = path.join(dir, 'households.csv');
    const generated = demoHouseholdsCsv(demoAreas, options.households ?? 20_000, options.seed ?? 2026, {
      cashTransfer: 'CT',
      olderPersons: 'OPG',
    });
    await pipeline(Readable.from(generated), createWriteStream(csv));
    const registry = await importRegistry(store, csv);
    return { areas, registry };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
