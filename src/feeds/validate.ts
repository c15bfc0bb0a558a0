import type { Geometry, Position } from 'geojson';
import { z } from 'zod';
import { positionProblem } from '../geo/polygonal.ts';
import { ALERT_LEVELS, HAZARD_TYPES, SOURCES } from './model.ts';

/**
 * The normalised records are checked again before storage, whatever the adapter: wrong types,
 * impossible dates and coordinates outside WGS84 go to quarantine instead of the store.
 */
const isoDateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a date-time');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'not a YYYY-MM-DD date').refine((s) => !Number.isNaN(Date.parse(s)), 'not a real date');

const geometrySchema = z.custom<Geometry>().superRefine((g, ctx) => {
  const problem = geometryProblem(g as Geometry);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const footprintSchema = z.object({
  class: z.string().min(1),
  geometry: geometrySchema,
  label: z.string().nullish(),
  value: z.number().finite().nullish(),
  unit: z.string().nullish(),
});

export const hazardEventVersionSchema = z.object({
  source: z.enum(SOURCES),
  externalId: z.string().min(1),
  aliases: z.array(z.string().min(1)),
  version: z.string().min(1),
  versionRank: z.number().finite(),
  hazard: z.enum(HAZARD_TYPES),
  eventAlertLevel: z.enum(ALERT_LEVELS).nullable(),
  episodeAlertLevel: z.enum(ALERT_LEVELS).nullable(),
  severity: z.array(z.object({
    name: z.string().min(1),
    value: z.number().finite().nullable(),
    unit: z.string().nullable(),
    text: z.string().nullish(),
  })),
  footprints: z.array(footprintSchema),
  validFrom: isoDateTime.nullable(),
  validTo: isoDateTime.nullable(),
  issuedAt: isoDateTime.nullable(),
  title: z.string().nullable(),
  countries: z.array(z.string()),
  link: z.string().nullable(),
  status: z.enum(['actual', 'exercise', 'test', 'draft', 'system']),
  supersedes: z.array(z.string()),
  cancels: z.boolean(),
  pcodes: z.array(z.string().min(1)),
  properties: z.record(z.string(), z.unknown()),
});

export const indicatorValueSchema = z
  .object({
    pcode: z.string().min(1),
    indicator: z.string().regex(/^[a-z0-9_]+$/, 'lower-case letters, digits and _ only'),
    periodStart: isoDate,
    periodEnd: isoDate,
    value: z.number().finite(),
    status: z.enum(['final', 'forecast']),
    source: z.string().min(1),
    issuedAt: isoDateTime.nullish(),
  })
  .refine((v) => v.periodEnd >= v.periodStart, { message: 'periodEnd is before periodStart', path: ['periodEnd'] });

/** Every position of any GeoJSON geometry inside WGS84 ranges; the problem in words, or null. */
export function geometryProblem(geometry: Geometry | null | undefined): string | null {
  if (!geometry || typeof geometry !== 'object') return 'geometry is missing';
  const walk = (coords: unknown, depth: number): string | null => {
    if (!Array.isArray(coords)) return 'coordinates are not an array';
    if (depth === 0) return positionProblem(coords as Position);
    for (const c of coords) {
      const problem = walk(c, depth - 1);
      if (problem) return problem;
    }
    return null;
  };
  switch (geometry.type) {
    case 'Point': return walk(geometry.coordinates, 0);
    case 'MultiPoint': case 'LineString': return walk(geometry.coordinates, 1);
    case 'MultiLineString': case 'Polygon': return walk(geometry.coordinates, 2);
    case 'MultiPolygon': return walk(geometry.coordinates, 3);
    case 'GeometryCollection':
      for (const g of geometry.geometries) {
        const problem = geometryProblem(g);
        if (problem) return problem;
      }
      return null;
    default: return `unknown geometry type ${(geometry as { type?: string }).type}`;
  }
}

/** zod issues as one line: `footprints.0.geometry: invalid geometry; validTo: not a date-time`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ');
}

