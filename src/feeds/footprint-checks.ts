import { fileURLToPath } from 'node:url';
import type { Geometry, MultiPolygon, Polygon } from 'geojson';
import { z } from 'zod';
import {
  EARTH_AREA_KM2, areaKm2, boxesMeet, crossesAntimeridian, extentOf, splitAtAntimeridian, swapLatLon, type Box,
} from '../geo/extent.ts';
import { dataFileReader } from './data-file.ts';
import { HAZARD_TYPES, type HazardEventVersion, type HazardType } from './model.ts';

/**
 * Geometry checks that mean it, before a footprint can select households:
 * - a footprint written across the antimeridian (an edge of more than 180° of longitude) is split
 *   there, as RFC 7946 asks, instead of being read as a band around the globe;
 * - a footprint larger than its hazard plausibly covers (data/hazard-extents.yaml), the whole world
 *   among them, is refused;
 * - a footprint that lies outside where the event should be (the feed's declared `bbox`, or the
 *   extent of the countries and areas the source names, as imported into admin_areas) is refused,
 *   and called a lat/lon swap when read as [lat, lon] it does lie there.
 *
 * ```ts
 * const checked = checkFootprints(event, { feedBox: [33, -5, 42, 5], places, limits })
 * if ('problem' in checked) quarantine(checked.problem)
 * ```
 */

/** How far (degrees) outside a named country or area a footprint may still reach: coasts, offshore epicentres. */
export const PLACE_MARGIN_DEGREES = 3;

/** A place the source names (ISO3 country or P-code) and its extent, from the imported areas. */
export interface NamedPlace {
  name: string;
  box: Box;
}

export interface FootprintExpectations {
  /** The feed's declared bounding box (feeds config `bbox`), when it has one. */
  feedBox?: Box | null;
  /** Extents of the countries (ISO3) and areas (P-code) known from the imported boundaries. */
  places: Map<string, Box>;
  limits: HazardLimits;
}

export interface HazardLimits {
  maxAreaKm2(hazard: HazardType): number;
}

/** The event with footprints split at the antimeridian where needed, or why it cannot be stored. */
export function checkFootprints(event: HazardEventVersion, expect: FootprintExpectations): { event: HazardEventVersion } | { problem: string } {
  const footprints = [];
  for (const [index, footprint] of event.footprints.entries()) {
    const label = `footprint ${index} (${footprint.class})`;
    const geometry = crossesAntimeridian(footprint.geometry)
      ? splitAtAntimeridian(footprint.geometry as Polygon | MultiPolygon)
      : footprint.geometry;
    const area = areaKm2(geometry);
    const limit = expect.limits.maxAreaKm2(event.hazard);
    if (area > limit) {
      const globe = area > 0.9 * EARTH_AREA_KM2 ? ', it spans the whole globe' : '';
      return { problem: `${label} covers ${round(area)} km²${globe}: more than the ${round(limit)} km² a ${event.hazard.replace('_', ' ')} footprint plausibly covers (data/hazard-extents.yaml)` };
    }
    const misplaced = placeProblem(geometry, event, expect);
    if (misplaced) return { problem: `${label} ${misplaced}` };
    footprints.push(geometry === footprint.geometry ? footprint : { ...footprint, geometry });
  }
  return { event: { ...event, footprints } };
}

/** Where the footprint should be and is not, in words; null when it is there or nobody says where. */
function placeProblem(geometry: Geometry, event: HazardEventVersion, expect: FootprintExpectations): string | null {
  const box = extentOf(geometry);
  if (!box) return null;
  const swappedBox = extentOf(swapLatLon(geometry));
  const fmt = (b: Box) => `[${b.map((x) => round(x, 2)).join(', ')}]`;
  if (expect.feedBox && !boxesMeet(box, expect.feedBox)) {
    const where = `lies at ${fmt(box)}, outside the feed's declared bbox ${fmt(expect.feedBox)}`;
    return swappedBox && boxesMeet(swappedBox, expect.feedBox)
      ? `${where}; read as [lat, lon] it lies inside: it looks like swapped lat/lon`
      : where;
  }
  // Only when every place the source names is known: an unknown one may be where the footprint is.
  const names = [...event.countries, ...event.pcodes];
  const places = names.map((name) => ({ name, box: expect.places.get(name) }));
  if (places.length === 0 || places.some((p) => !p.box)) return null;
  const near = (b: Box) => places.some((p) => boxesMeet(b, p.box!, PLACE_MARGIN_DEGREES));
  if (near(box)) return null;
  const where = `lies at ${fmt(box)}, more than ${PLACE_MARGIN_DEGREES}° outside ${places.map((p) => `${p.name} ${fmt(p.box!)}`).join(', ')} that the source names`;
  return swappedBox && near(swappedBox) ? `${where}; read as [lat, lon] it lies there: it looks like swapped lat/lon` : where;
}

const round = (x: number, digits = 0) => Number(x.toFixed(digits)).toLocaleString('en-GB', { maximumFractionDigits: digits });

// ---------------------------------------------------------------------------------------------
// Hazard limits (data/hazard-extents.yaml)

export const DEFAULT_HAZARD_EXTENTS = fileURLToPath(new URL('../../data/hazard-extents.yaml', import.meta.url));

const limitsSchema = z.strictObject({
  default_max_area_km2: z.number().positive(),
  hazards: z.array(z.strictObject({ hazard: z.enum(HAZARD_TYPES), max_area_km2: z.number().positive(), note: z.string().optional() })),
});

const readLimits = dataFileReader(limitsSchema, 'the hazard extents', (data) =>
  hazardLimits(data.default_max_area_km2, Object.fromEntries(data.hazards.map((h) => [h.hazard, h.max_area_km2]))));

/** Reads the per-hazard footprint limits once per file. */
export function loadHazardLimits(file = DEFAULT_HAZARD_EXTENTS): Promise<HazardLimits> {
  return readLimits(file);
}

/** Limits from figures: a hazard not listed gets the default. */
export function hazardLimits(defaultKm2: number, byHazard: Partial<Record<HazardType, number>>): HazardLimits {
  return { maxAreaKm2: (hazard) => byHazard[hazard] ?? defaultKm2 };
}
