import type { Store } from '../db/store.ts';

/**
 * The current footprints of open hazard events (their latest version) as a GeoJSON
 * FeatureCollection for the map: polygons only (a centroid point is not a footprint), simplified.
 */
export async function footprintsGeoJson(store: Store): Promise<unknown> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ collection: unknown }>(
      `SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
                'type', 'Feature',
                'properties', json_build_object('source', e.source, 'externalId', e.external_id, 'hazard', v.hazard,
                  'alertLevel', coalesce(v.episode_alert_level, v.event_alert_level), 'version', v.version, 'class', f.class,
                  'title', v.title, 'value', f.value, 'unit', f.unit),
                'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(f.geom, 0.001), 5)::json) ORDER BY e.source, e.external_id, f.class, f.seq), '[]'::json)) AS collection
         FROM hazard_events e
         JOIN hazard_event_versions v ON v.id = e.current_version_id
         JOIN hazard_footprints f ON f.version_id = v.id
        WHERE e.status = 'open' AND ST_Dimension(f.geom) = 2`,
    ),
  );
  return rows[0].collection;
}
