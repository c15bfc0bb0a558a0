import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import type { MultiPolygon } from 'geojson';
import { importAreas, type AreaImportReport } from '../areas/import-areas.ts';
import { guessAdminLevel } from '../areas/level.ts';
import type { Store } from '../db/store.ts';
import { indicatorsAdapter } from '../feeds/adapters/indicators.ts';
import { ingestPayload, type IngestSummary } from '../feeds/ingest.ts';
import { upsertProgramme } from '../registry/programmes.ts';
import { importRegistry, type RegistryImportReport } from '../registry/import-registry.ts';
import { progress, mebibytes, type Progress } from '../cli/progress.ts';
import { demoHouseholdsCsv, type DemoArea } from './households.ts';

const demoFolder = fileURLToPath(new URL('../../data/demo/', import.meta.url));

export const DEMO_AREA_FILES = [
  path.join(demoFolder, 'demoland-adm1.geojson'),
  path.join(demoFolder, 'demoland-adm2.geojson'),
];

/** Ten years of monthly VCI-3M for Demoland's districts (src/demo/vci-history.ts), for backtests. */
export const DEMO_VCI_HISTORY = path.join(demoFolder, 'feeds', 'vci3m-history.csv');

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
  /** Shows each step (areas, registry, feeds) on a terminal; default nothing. */
  progress?: Progress;
}

export interface DemoReport {
  areas: AreaImportReport[];
  registry: RegistryImportReport;
  /** The VCI-3M history as ingested; null with other boundaries than Demoland's. */
  vciHistory: IngestSummary | null;
}

/**
 * Loads the demo: boundaries, the two programmes and a generated registry over the lowest-level
 * areas (households spread by land area), through the same import paths a user's files take.
 * With Demoland's boundaries it also ingests the ten-year VCI-3M history as an indicators payload
 * (stored like any feed data, known from the time it is loaded; a second load adds nothing).
 */
export async function loadDemo(store: Store, options: DemoOptions = {}): Promise<DemoReport> {
  const areaFiles = options.areaFiles?.length ? options.areaFiles : DEMO_AREA_FILES;
  const shown = options.progress ?? progress({ mode: 'off' });
  const areas: AreaImportReport[] = [];
  for (const file of areaFiles) {
    areas.push(await shown.task(`areas ${path.basename(file)}`, async () => importAreas(store, file, { level: await guessAdminLevel(file) })));
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
  let registry: RegistryImportReport;
  try {
    const csv = path.join(dir, 'households.csv');
    const generated = demoHouseholdsCsv(demoAreas, options.households ?? 20_000, options.seed ?? 2026, {
      cashTransfer: 'CT',
      olderPersons: 'OPG',
    });
    await shown.task('registry: generating households', () => pipeline(Readable.from(generated), createWriteStream(csv)));
    const read = shown.meter('registry: importing', 'MiB', mebibytes);
    registry = await importRegistry(store, csv, { onProgress: read.update }).finally(read.stop);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The history is about Demoland's P-codes: other boundaries get none.
  const vciHistory = areaFiles === DEMO_AREA_FILES ? await shown.task('feeds: VCI-3M history', () => loadVciHistory(store)) : null;
  return { areas, registry, vciHistory };
}

async function loadVciHistory(store: Store): Promise<IngestSummary> {
  const bytes = await readFile(DEMO_VCI_HISTORY);
  return ingestPayload(store, indicatorsAdapter, { source: 'indicators', bytes, url: pathToFileURL(DEMO_VCI_HISTORY).href, contentType: 'text/csv' });
}
