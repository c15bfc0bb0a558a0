import type { HazardType } from '../feeds/model.ts';
import type { EventCondition } from './schema.ts';

/**
 * Which footprint an event condition names, and for how long an event counts. Pure: the SQL side
 * of the same selection is `footprint_selected` (migrations/0007-footprint-selection.ts); a test
 * compares the two over generated footprints.
 */

export interface FootprintSpec {
  class: string | null;
  label: string | null;
  minValue: number | null;
  unit: string | null;
}

export interface FootprintFacts {
  class: string;
  label?: string | null;
  value?: number | null;
  unit?: string | null;
}

/** What an event condition asks of a footprint (nothing named: every shape but a bounding box). */
export function footprintSpec(condition: Pick<EventCondition, 'footprint'>): FootprintSpec {
  const f = condition.footprint;
  return { class: f?.class ?? null, label: f?.label ?? null, minValue: f?.min_value ?? null, unit: f?.unit ?? null };
}

/**
 * Whether a footprint is one the condition names: its class and label, a level at least the
 * minimum (a footprint without a level never meets a minimum) and the unit (case aside). With no
 * class named, a bounding box is an envelope, not a footprint.
 */
export function footprintSelected(f: FootprintFacts, spec: FootprintSpec): boolean {
  if (spec.class !== null && f.class !== spec.class) return false;
  if (spec.label !== null && (f.label ?? null) !== spec.label) return false;
  if (spec.minValue !== null && (f.value === null || f.value === undefined || !(f.value >= spec.minValue))) return false;
  if (spec.unit !== null && (f.unit ?? '').toLowerCase() !== spec.unit.toLowerCase()) return false;
  if (spec.class === null && f.class === 'bbox') return false;
  return true;
}

/** In words, for evidence: `footprint mmi ≥ 6 mmi`. */
export function describeSpec(spec: FootprintSpec): string {
  return `footprint ${spec.class ?? 'any'}${spec.label !== null ? ` "${spec.label}"` : ''}${spec.minValue !== null ? ` ≥ ${spec.minValue}` : ''}${spec.unit !== null ? ` ${spec.unit}` : ''}`;
}

/**
 * How long after its end (or, with no end, its start) an event still triggers, unless the rule
 * says `max_age_days`. A rapid-onset event's response is paid within weeks; a slow-onset event's
 * end moves with every update, so its age counts from the latest one.
 */
export const DEFAULT_MAX_AGE_DAYS: Record<HazardType, number> = {
  earthquake: 30,
  tropical_cyclone: 30,
  storm: 30,
  tsunami: 30,
  wildfire: 30,
  volcano: 60,
  flood: 60,
  extreme_temperature: 30,
  drought: 90,
  food_insecurity: 120,
  other: 60,
};

export interface EventTimes {
  hazard: HazardType;
  validFrom: string | null;
  validTo: string | null;
  issuedAt: string | null;
  knownAt: string;
}

/**
 * Null while the event still counts at `asOfMs`; otherwise why not, in words. The reference is
 * the event's end (valid_to), else its start (valid_from), else when it was issued or known.
 */
export function eventExpired(e: EventTimes, condition: Pick<EventCondition, 'max_age_days'>, asOfMs: number): string | null {
  const maxAge = condition.max_age_days ?? DEFAULT_MAX_AGE_DAYS[e.hazard] ?? DEFAULT_MAX_AGE_DAYS.other;
  const [what, at] = e.validTo ? ['ended', e.validTo] : e.validFrom ? ['started', e.validFrom] : ['was issued', e.issuedAt ?? e.knownAt];
  const reference = Date.parse(at);
  if (Number.isNaN(reference)) return null;
  const ageDays = (asOfMs - reference) / 86_400_000;
  if (ageDays <= maxAge) return null;
  const source = condition.max_age_days === undefined ? `the default for ${e.hazard}` : 'the rule';
  return `the event ${what} ${at.slice(0, 10)}, ${Math.floor(ageDays)} days before; it counts for ${maxAge} days (${source}, max_age_days)`;
}
