import type { Geometry, Polygon, Position } from 'geojson';

/**
 * Checks that a GeoJSON geometry is a Polygon or MultiPolygon in WGS84 longitude/latitude that
 * PostGIS can read. Returns the problem in words, or null. Topology (self-intersections) is left
 * to PostGIS, which repairs it with ST_MakeValid and says what it repaired.
 */
export function polygonalProblem(geometry: Geometry | null | undefined): string | null {
  if (!geometry || typeof geometry !== 'object') return 'geometry is missing';
  if (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon') {
    return `geometry type ${String((geometry as { type?: unknown }).type)} is not Polygon or MultiPolygon`;
  }
  const polygons: unknown = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  if (!Array.isArray(polygons) || polygons.length === 0) return 'geometry has no coordinates';
  for (const [p, rings] of (polygons as Polygon['coordinates'][]).entries()) {
    if (!Array.isArray(rings) || rings.length === 0) return `polygon ${p} has no rings`;
    for (const [r, ring] of rings.entries()) {
      if (!Array.isArray(ring) || ring.length < 4) return `polygon ${p} ring ${r} has fewer than 4 positions`;
      for (const position of ring) {
        const problem = positionProblem(position);
        if (problem) return `polygon ${p} ring ${r}: ${problem}`;
      }
    }
  }
  return null;
}

/** A WGS84 position: finite numbers, longitude first, both in range. */
export function positionProblem(position: Position): string | null {
  if (!Array.isArray(position) || position.length < 2) return 'a position is not [longitude, latitude]';
  const [lon, lat] = position;
  if (typeof lon !== 'number' || typeof lat !== 'number' || !Number.isFinite(lon) || !Number.isFinite(lat)) {
    return `position ${JSON.stringify(position)} is not two numbers`;
  }
  if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
    return `position [${lon}, ${lat}] is outside longitude -180..180 / latitude -90..90 (swapped coordinates?)`;
  }
  return null;
}

