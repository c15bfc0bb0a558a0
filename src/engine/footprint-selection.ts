import { footprintSpec, type FootprintSpec } from '../rules/footprint-spec.ts';
import { triggerConditions } from '../rules/load.ts';
import type { Rule } from '../rules/schema.ts';

/**
 * The one footprint selection: what evaluation, dry run, estimate and list generation match
 * areas and households against for a rule's event conditions. The SQL functions it calls are in
 * migrations/0007-footprint-selection.ts; their pure twin for the evaluator is
 * src/rules/footprint-spec.ts.
 *
 * ```ts
 * const reach = ruleReach(rule);
 * const sql = `SELECT a.pcode FROM hazard_events e CROSS JOIN LATERAL ${selectedParts('e.id', reach, (v, t) => q.param(v, t))} fp
 *                JOIN admin_area_parts a ON ${reachesSql('fp.geom', 'a.geom', reach.bufferKm)}`;
 * ```
 */
export interface RuleReach {
  /** One spec per event condition of the rule (a condition naming no footprint: every shape but a bounding box). */
  specs: FootprintSpec[];
  /** The largest `buffer_km` of the rule's event conditions; 0 without. */
  bufferKm: number;
}

export function ruleReach(rule: Rule): RuleReach {
  const events = triggerConditions(rule, 'event');
  const specs = events.map(footprintSpec);
  const unique = [...new Map(specs.map((s) => [JSON.stringify(s), s])).values()];
  return { specs: unique, bufferKm: Math.max(0, ...events.map((e) => e.buffer_km ?? 0)) };
}

/**
 * A part reaches a geometry: it intersects it (boundary included) or, with a buffer, lies within
 * that distance on the sphere (metres, exact, not a polygon approximation of the buffer).
 */
export function reachesSql(part: string, target: string, bufferKm: number): string {
  if (!(bufferKm >= 0) || !Number.isFinite(bufferKm)) throw new Error(`buffer_km must be a finite number ≥ 0, not ${bufferKm}`);
  return bufferKm > 0 ? `ST_DWithin(${part}::geography, ${target}::geography, ${bufferKm * 1000})` : `ST_Intersects(${part}, ${target})`;
}

/** Appends a parameter and returns its placeholder (HouseholdSql's `param`, or any like it). */
export type Param = (value: unknown, type: string) => string;

/** SQL true when footprint `f` (a `hazard_footprints` row alias) is one any of the specs names. */
function selectedSql(f: string, specs: FootprintSpec[], param: Param): string {
  if (specs.length === 0) return 'false';
  return `(${specs
    .map((s) => `footprint_selected(${f}.class, ${f}.label, ${f}.value, ${f}.unit, ${param(s.class, 'text')}, ${param(s.label, 'text')}, ${param(s.minValue, 'float8')}, ${param(s.unit, 'text')})`)
    .join(' OR ')})`;
}

/**
 * A FROM item of the parts (column `geom`) of the event's shapes as they stand now that the
 * rule's event conditions select: areal parts only, or every part when the rule buffers.
 */
export function selectedParts(eventId: string, reach: RuleReach, param: Param): string {
  return `(SELECT part.geom FROM event_footprints(${eventId}, NULL) f
             CROSS JOIN LATERAL footprint_parts(f.id, ${reach.bufferKm > 0}) AS part(geom)
            WHERE ${selectedSql('f', reach.specs, param)})`;
}
