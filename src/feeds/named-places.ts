import { sql } from 'kysely';
import type { Tx } from '../db/store.ts';
import type { Box } from '../geo/extent.ts';
import type { HazardEventVersion } from './model.ts';

/**
 * The extents of the countries (ISO3) and areas (P-codes) that a payload's events name, from the
 * imported boundaries (admin_areas): what `checkFootprints` holds their footprints against. A
 * place without imported boundaries is absent, and then nothing is said about where it is.
 *
 * ```ts
 * const places = await namedPlaceExtents(tx, parsed.events) // Map { 'KEN' => [33.9, -4.7, 41.9, 5.0] }
 * ```
 */
export async function namedPlaceExtents(tx: Tx, events: HazardEventVersion[]): Promise<Map<string, Box>> {
  const countries = [...new Set(events.flatMap((e) => e?.countries ?? []))];
  const pcodes = [...new Set(events.flatMap((e) => e?.pcodes ?? []))];
  if (countries.length === 0 && pcodes.length === 0) return new Map();
  const { rows } = await sql<{ name: string; west: number; south: number; east: number; north: number }>`
    WITH named AS (
      SELECT iso3 AS name, geom FROM admin_areas WHERE iso3 = ANY (${countries}::text[])
      UNION ALL
      SELECT pcode AS name, geom FROM admin_areas WHERE pcode = ANY (${pcodes}::text[])
    ), extents AS (
      SELECT name, ST_Extent(geom) AS box FROM named GROUP BY name
    )
    SELECT name, ST_XMin(box) AS west, ST_YMin(box) AS south, ST_XMax(box) AS east, ST_YMax(box) AS north FROM extents`.execute(tx.db);
  return new Map(rows.map((r) => [r.name, [Number(r.west), Number(r.south), Number(r.east), Number(r.north)] as Box]));
}
