import * as turf from '@turf/turf';
import type { Geometry, MultiPolygon, Polygon, Position } from 'geojson';

/**
 * Where a geometry lies, read cheaply before storage: its bounding box, the same geometry with
 * every [lon, lat] read as [lat, lon], its area, and the antimeridian crossing that a naive
 * reading turns into a band around the globe.
 *
 * ```ts
 * const box = extentOf(footprint)              // [west, south, east, north]
 * boxesMeet(box, kenya, 3)                     // within 3 degrees of Kenya's extent?
 * boxesMeet(extentOf(swapLatLon(footprint))!, kenya, 3) // …or only once read as [lat, lon]?
 * ```
 */

/** [west, south, east, north] in degrees, west ≤ east (a box never wraps here). */
export type Box = [number, number, number, number];

/** The bounding box of every position (turf's), or null for a geometry without any. */
export function extentOf(geometry: Geometry): Box | null {
  const [west, south, east, north] = turf.bbox(geometry);
  return west <= east ? [west, south, east, north] : null;
}

/** Do the boxes meet once `b` is grown by `marginDegrees` on every side? */
export function boxesMeet(a: Box, b: Box, marginDegrees = 0): boolean {
  return a[0] <= b[2] + marginDegrees && a[2] >= b[0] - marginDegrees && a[1] <= b[3] + marginDegrees && a[3] >= b[1] - marginDegrees;
}

/** The geometry with each position's first two numbers exchanged (what a [lat, lon] writer meant); a copy. */
export function swapLatLon<G extends Geometry>(geometry: G): G {
  return turf.flip(geometry);
}

/** The Earth's surface in km² (turf's sphere), for "covers the whole globe". */
export const EARTH_AREA_KM2 = turf.area(turf.bboxPolygon([-180, -90, 180, 90])) / 1e6;

/** The area of the polygonal parts in km² (0 for points and lines). */
export function areaKm2(geometry: Geometry): number {
  return turf.area(geometry) / 1e6;
}

/**
 * A ring edge spanning more than 180° of longitude: the writer went across the antimeridian
 * (170° → -170° is 20° east, not 340° west), as RFC 7946 §3.1.9 asks writers not to, but many do.
 */
export function crossesAntimeridian(geometry: Geometry): boolean {
  if (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon') return false;
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  return polygons.some(ringsCross);
}

/**
 * An edge from -180 to 180 runs along a pole or the map's frame (a whole-world box): that is no
 * crossing, and the box stays as large as it is.
 */
const ringsCross = (rings: Position[][]) =>
  rings.some((ring) => ring.some((p, i) => i > 0 && Math.abs(p[0] - ring[i - 1][0]) > 180 && !(Math.abs(p[0]) === 180 && Math.abs(ring[i - 1][0]) === 180)));

/**
 * Splits a polygon written across the antimeridian into its parts east and west of it, as RFC 7946
 * §3.1.9 says it should have been written: the western longitudes are read as 180°+, the shape is
 * cut at 180° and the part beyond is moved back by 360°.
 */
export function splitAtAntimeridian(geometry: Polygon | MultiPolygon): MultiPolygon {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  const parts: Position[][][] = [];
  for (const rings of polygons) {
    if (!ringsCross(rings)) {
      parts.push(rings);
      continue;
    }
    const unwrapped = turf.polygon(rings.map((ring) => ring.map(([lon, lat]) => [lon < 0 ? lon + 360 : lon, lat])));
    const west = turf.bboxClip(unwrapped, [-180, -90, 180, 90]).geometry as Polygon;
    const east = turf.bboxClip(unwrapped, [180, -90, 540, 90]).geometry as Polygon;
    if (west.coordinates.length > 0 && west.coordinates[0].length >= 4) parts.push(west.coordinates);
    if (east.coordinates.length > 0 && east.coordinates[0].length >= 4) {
      parts.push(east.coordinates.map((ring) => ring.map(([lon, lat]) => [lon - 360, lat])));
    }
  }
  return { type: 'MultiPolygon', coordinates: parts };
}
