import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { importAreas } from '../../src/areas/import-areas.ts';
import { DEMO_PROGRAMMES } from '../../src/demo/load-demo.ts';
import type { Store } from '../../src/db/store.ts';
import { upsertProgramme } from '../../src/registry/programmes.ts';
import { tempFile } from './files.ts';

/**
 * A small fixed world for the oracle's property tests, loaded once per test file, and the reset
 * between scenarios. Areas never change (activations, which cannot be deleted because their
 * history is append-only, point at them); every scenario uses a rule id of its own, so the
 * activations of earlier scenarios (other rule versions) never enter a later list.
 *
 * Oceania (XO01, level 1), a 3 × 2 grid of one-degree districts (level 2):
 *
 * ```
 *   lat 2 ┌─────────┬─────────┬─────────┐
 *         │ XO01004 │ XO01005 │ XO01006 │
 *   lat 1 ├────┬────┼─────────┼─────────┤
 *         │ W1 │ W2 │ XO01002 │ XO01003 │      W1, W2: wards (level 3) of XO01001,
 *   lat 0 └────┴────┴─────────┴─────────┘      XO01001001 and XO01001002
 *       lon 0   0.5  1         2         3
 * ```
 * and Outland (XO02, level 1) with one district XO02001, lon 3–4, lat 0–2.
 */
export interface OracleArea {
  pcode: string;
  level: number;
  parent: string | null;
  /** [west, south, east, north] */
  bbox: [number, number, number, number];
}

const box = (pcode: string, level: number, parent: string | null, w: number, s: number, e: number, n: number): OracleArea => ({ pcode, level, parent, bbox: [w, s, e, n] });

export const ORACLE_AREAS: OracleArea[] = [
  box('XO01', 1, null, 0, 0, 3, 2),
  box('XO02', 1, null, 3, 0, 4, 2),
  box('XO01001', 2, 'XO01', 0, 0, 1, 1),
  box('XO01002', 2, 'XO01', 1, 0, 2, 1),
  box('XO01003', 2, 'XO01', 2, 0, 3, 1),
  box('XO01004', 2, 'XO01', 0, 1, 1, 2),
  box('XO01005', 2, 'XO01', 1, 1, 2, 2),
  box('XO01006', 2, 'XO01', 2, 1, 3, 2),
  box('XO02001', 2, 'XO02', 3, 0, 4, 2),
  box('XO01001001', 3, 'XO01001', 0, 0, 0.5, 1),
  box('XO01001002', 3, 'XO01001', 0.5, 0, 1, 1),
];

export const ORACLE_DISTRICTS = ORACLE_AREAS.filter((a) => a.level === 2).map((a) => a.pcode);
/** Where a household may be registered: every district and ward (a district with wards keeps households of its own too). */
export const ORACLE_HOUSEHOLD_AREAS = ORACLE_AREAS.filter((a) => a.level >= 2).map((a) => a.pcode);

export function areaPolygon(area: OracleArea): Feature<Polygon> {
  const [w, s, e, n] = area.bbox;
  return {
    type: 'Feature',
    properties: {},
    geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
  };
}

/** Imports the areas (three levels) and the demo programmes CT and OPG. */
export async function loadOracleWorld(store: Store): Promise<void> {
  for (const level of [1, 2, 3]) {
    const features: Feature<Polygon | MultiPolygon>[] = ORACLE_AREAS.filter((a) => a.level === level).map((a) => ({
      ...areaPolygon(a),
      properties: { [`ADM${level}_PCODE`]: a.pcode, [`ADM${level}_EN`]: `Area ${a.pcode}`, ...(a.parent ? { [`ADM${level - 1}_PCODE`]: a.parent } : {}), ISO3: 'XOC' },
    }));
    const collection: FeatureCollection = { type: 'FeatureCollection', features };
    await importAreas(store, await tempFile(`oracle-adm${level}.json`, JSON.stringify(collection)), { level });
  }
  for (const programme of DEMO_PROGRAMMES) await upsertProgramme(store, programme);
}

/**
 * Removes what a scenario wrote, except what cannot or need not go: activations and their
 * append-only history (`activation_changes`), rule versions (each scenario has its own rule id),
 * the audit log (append-only). Lists are drafts, which may be deleted.
 */
export async function resetOracleWorld(store: Store): Promise<void> {
  await store.transaction(async ({ raw }) => {
    await raw.query(`DELETE FROM payment_list_entries`);
    await raw.query(`DELETE FROM payment_list_areas`);
    await raw.query(`DELETE FROM payment_lists`);
    await raw.query(`DELETE FROM enrolments`);
    await raw.query(`DELETE FROM households`);
    await raw.query(`DELETE FROM indicator_values`);
    await raw.query(`DELETE FROM quarantine`);
    await raw.query(`UPDATE hazard_events SET current_version_id = NULL`);
    await raw.query(`DELETE FROM hazard_events`);
    await raw.query(`DELETE FROM raw_payloads`);
  });
}

/** A household as the oracle sees it; written to the registry as is. */
export interface OracleHousehold {
  id: string;
  pcode: string;
  size: number | null;
  pmt: number | null;
  /** [longitude, latitude] or null (no point) */
  location: [number, number] | null;
  attributes: Record<string, string>;
  enrolments: [string, 'active' | 'suspended'][];
}

/** Writes the households and their enrolments with two statements (a scenario has a few dozen). */
export async function insertOracleHouseholds(store: Store, households: OracleHousehold[]): Promise<void> {
  if (households.length === 0) return;
  await store.transaction(async ({ raw }) => {
    await raw.query(
      `INSERT INTO households (registry_id, admin_pcode, region, size, pmt_score, attributes, location)
       SELECT r, p, admin_region(p), s, m, a::jsonb, CASE WHEN x IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(x, y), 4326) END
         FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[], $5::text[], $6::float8[], $7::float8[]) AS t(r, p, s, m, a, x, y)`,
      [
        households.map((h) => h.id), households.map((h) => h.pcode), households.map((h) => h.size), households.map((h) => h.pmt),
        households.map((h) => JSON.stringify(h.attributes)), households.map((h) => h.location?.[0] ?? null), households.map((h) => h.location?.[1] ?? null),
      ],
    );
    const enrolments = households.flatMap((h) => h.enrolments.map(([programme, status]) => [h.id, programme, status] as const));
    if (enrolments.length === 0) return;
    await raw.query(
      `INSERT INTO enrolments (household_id, region, programme_code, status)
       SELECT h.id, h.region, e.programme, e.status FROM unnest($1::text[], $2::text[], $3::text[]) AS e(registry_id, programme, status)
         JOIN households h ON h.registry_id = e.registry_id`,
      [enrolments.map((e) => e[0]), enrolments.map((e) => e[1]), enrolments.map((e) => e[2])],
    );
  });
}

/** The list as stored: entries, left-out counts, per-area figures. */
export interface StoredList {
  component: number;
  entries: { id: string; pcode: string; amount: number; rank: number }[];
  excluded: Record<string, number>;
  areas: { pcode: string; registered: number; listed: number }[];
  households: number;
  totalAmount: number;
}

export async function readStoredList(store: Store, list: { id: number; component: number; excluded: Record<string, number>; households: number; totalAmount: number; areas: { pcode: string; registered: number; listed: number }[] }): Promise<StoredList> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ id: string; pcode: string; amount: number; rank: number }>(
      `SELECT registry_id AS id, pcode, amount::float8 AS amount, rank FROM payment_list_entries WHERE list_id = $1 ORDER BY pcode, rank, registry_id COLLATE "C"`,
      [list.id],
    ),
  );
  return {
    component: list.component,
    entries: rows,
    excluded: list.excluded,
    areas: list.areas.map((a) => ({ pcode: a.pcode, registered: Number(a.registered), listed: Number(a.listed) })),
    households: list.households,
    totalAmount: list.totalAmount,
  };
}
