import type { Store } from '../db/store.ts';

/**
 * Admin areas of one level as a GeoJSON FeatureCollection for maps, simplified (about 100 m)
 * so that a browser draws a country's districts quickly. Built inside PostgreSQL.
 */
export async function areasGeoJson(store: Store, level: number): Promise<unknown> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ collection: unknown }>(
      `SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
                'type', 'Feature',
                'properties', json_build_object('pcode', pcode, 'name', name, 'level', level, 'parentPcode', parent_pcode),
                'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.001), 5)::json) ORDER BY pcode), '[]'::json)) AS collection
         FROM admin_areas WHERE level = $1`,
      [level],
    ),
  );
  return rows[0].collection;
}
