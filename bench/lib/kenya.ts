/**
 * Kenya as a bench's geography: the OCHA COD-AB counties and sub-counties (IBF simplification, read
 * in place from the shared data), households spread over the sub-counties by population, and the
 * "north-east": the sub-counties nearest Mandera, taken until they hold a share of the population
 * (the ASAL drought belt a footprint or an indicator rule covers).
 *
 * Not a bench itself: it exports no `main`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { importAreas } from '../../src/areas/import-areas.ts';
import { migrate } from '../../src/db/migrate.ts';
import type { Store } from '../../src/db/store.ts';
import type { DemoArea } from '../../src/demo/households.ts';
import { DEMO_PROGRAMMES } from '../../src/demo/load-demo.ts';
import { upsertProgramme } from '../../src/registry/programmes.ts';
import { root } from './support.ts';

/** The shared data beside the project (`../shared`, as in a clean clone for CI). */
const BOUNDARIES = path.resolve(root, '../shared/data/boundaries');
export const KENYA_ADM1 = path.join(BOUNDARIES, 'ken_cod-ab_adm1_counties_ibf.json');
export const KENYA_ADM2 = path.join(BOUNDARIES, 'ken_cod-ab_adm2_subcounties_ibf.json');
const KENYA_POPULATION = path.join(BOUNDARIES, 'ken_population_by_pcode_ibf.csv');
/** Mandera town, the north-east corner the drought belt is grown from. */
const NORTH_EAST: [number, number] = [41.86, 3.94];

export interface KenyaSubcounty extends DemoArea {
  county: string;
  /** A point of the sub-county's bounding box centre, for ordering only. */
  centre: [number, number];
}

/** The 290 sub-counties, each weighted by its population (equal weight where the file has none). */
export async function kenyaSubcounties(): Promise<KenyaSubcounty[]> {
  const collection = JSON.parse(await readFile(KENYA_ADM2, 'utf8')) as FeatureCollection<Polygon | MultiPolygon>;
  const population = await populationByPcode();
  const known = [...population.values()];
  const fallback = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  return collection.features.map((f) => {
    const pcode = String(f.properties?.ADM2_PCODE);
    return {
      pcode,
      county: String(f.properties?.ADM1_PCODE),
      geometry: f.geometry,
      weight: population.get(pcode) ?? fallback,
      centre: boxCentre(f.geometry),
    };
  });
}

/** Schema, Kenya's counties (level 1) and sub-counties (level 2), the demo programmes (CT, OPG). */
export async function setUpKenyaSchema(store: Store): Promise<void> {
  await migrate(store);
  await importAreas(store, KENYA_ADM1, { level: 1 });
  await importAreas(store, KENYA_ADM2, { level: 2 });
  for (const programme of DEMO_PROGRAMMES) await upsertProgramme(store, programme);
}

/**
 * The sub-counties nearest the north-east corner, in that order, until they hold `share` of the
 * population: a contiguous belt over Mandera, Wajir, Garissa, Marsabit, Isiolo… (the ASAL north).
 */
export function northEastBelt(subcounties: KenyaSubcounty[], share: number): KenyaSubcounty[] {
  const total = subcounties.reduce((sum, s) => sum + s.weight, 0);
  const byDistance = [...subcounties].sort((a, b) => distance(a.centre) - distance(b.centre) || a.pcode.localeCompare(b.pcode));
  const belt: KenyaSubcounty[] = [];
  let held = 0;
  for (const s of byDistance) {
    if (held >= share * total) break;
    belt.push(s);
    held += s.weight;
  }
  return belt;
}

const distance = ([lon, lat]: [number, number]) => Math.hypot(lon - NORTH_EAST[0], lat - NORTH_EAST[1]);

/** populationTotal of the level-2 P-codes (the file starts with a BOM and has all three levels). */
async function populationByPcode(): Promise<Map<string, number>> {
  const text = (await readFile(KENYA_POPULATION, 'utf8')).replace(/^\uFEFF/, '');
  const [header, ...lines] = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const columns = header.split(',');
  const [level, pcode, indicator, value] = ['adminLevel', 'placeCode', 'indicator', 'value'].map((c) => columns.indexOf(c));
  const population = new Map<string, number>();
  for (const line of lines) {
    const cells = line.split(',');
    if (cells[level] !== '2' || cells[indicator] !== 'populationTotal') continue;
    const n = Number(cells[value]);
    if (Number.isFinite(n) && n > 0) population.set(cells[pcode], n);
  }
  return population;
}

function boxCentre(geometry: Polygon | MultiPolygon): [number, number] {
  const rings = geometry.type === 'Polygon' ? [geometry.coordinates[0]] : geometry.coordinates.map((p) => p[0]);
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ring of rings) {
    for (const [lon, lat] of ring) {
      w = Math.min(w, lon);
      e = Math.max(e, lon);
      s = Math.min(s, lat);
      n = Math.max(n, lat);
    }
  }
  return [(w + e) / 2, (s + n) / 2];
}
