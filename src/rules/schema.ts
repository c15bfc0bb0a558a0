import { z } from 'zod';
import { ALERT_LEVELS, HAZARD_TYPES } from '../feeds/model.ts';

/**
 * The shock rule format: one YAML file per rule under `rules/`, agreed by a ministry before a shock
 * so that money moves on evidence instead of negotiation. The rule is the contract: it says when
 * (stages and triggers), where (areas), who (households), how much (benefit), for how long
 * (payments) and within what budget. Rules are data, never code: eligibility and triggers are
 * structured conditions, there are no expression strings.
 *
 * This file is the single source of truth: the TypeScript types are inferred from it, the JSON
 * Schema for editors is derived from it (json-schema.ts) and `asp rules check` validates with it
 * (load.ts adds the checks that span several fields: bands, references, dates, ids across files).
 * Objects are strict: a field this file does not know is an error, so a typo never passes silently.
 */

// ---------------------------------------------------------------------------------------------
// Vocabulary and small building blocks
// ---------------------------------------------------------------------------------------------

/** Household fields a rule may test, as stored in the registry (`households` table). */
export const HOUSEHOLD_FIELDS = ['size', 'pmt_score', 'admin_pcode', 'payment_channel', 'payment_account'] as const;
export type HouseholdField = (typeof HOUSEHOLD_FIELDS)[number];

/** Comparison operators: equal, not equal, less than, at most, greater than, at least, one of, none of, present, absent. */
export const COMPARISONS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in', 'exists', 'missing'] as const;
export type Comparison = (typeof COMPARISONS)[number];

/** Ordering comparisons only (thresholds, intensities). */
export const ORDER_COMPARISONS = ['lt', 'lte', 'gt', 'gte'] as const;

export const DECLARATION_KINDS = [
  'state_of_calamity', 'state_of_emergency', 'disaster', 'notified_calamity', 'official_alert',
] as const;

export const GATE_KINDS = [
  'coordinator_confirmation', 'declaration', 'expert_consensus', 'assessment', 'market_check', 'official_alert',
] as const;

export const OVER_BUDGET_STEPS = [
  'fund_most_severe_first', 'reduce_caseload_pro_rata', 'reduce_value_pro_rata', 'shorten_duration', 'stop_when_exhausted',
] as const;

export const SHAREABLE_FIELDS = [
  'pseudonymous_id', 'registry_id', 'name', 'birth_date', 'national_id', 'phone', 'admin_pcode', 'admin1_pcode', 'admin2_pcode', 'admin3_pcode',
  'size', 'amount', 'currency', 'payment_window', 'payment_channel', 'payment_account',
] as const;

/** What identifies a person outright: exports withhold these from a pseudonymised partner, whatever its whitelist says. */
export const IDENTIFYING_FIELDS = ['name', 'birth_date', 'national_id'] as const satisfies readonly (typeof SHAREABLE_FIELDS)[number][];

const REAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a YYYY-MM-DD string naming a day that exists (2025-02-30 does not). */
export function isRealDate(value: string): boolean {
  const match = REAL_DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const text = () => z.string({ error: 'must be text' }).min(1, { error: 'must not be empty' });

const isoDate = () =>
  z
    .string({ error: 'must be a date written YYYY-MM-DD, e.g. 2025-07-01' })
    .regex(REAL_DATE, { error: 'must be a date written YYYY-MM-DD, e.g. 2025-07-01', abort: true })
    .refine(isRealDate, { error: 'is not a real date' });

/** A number with bounds, every failure in one sentence: "must be a number between 0 and 100". */
function number(options: { min?: number; max?: number; minExclusive?: boolean; int?: boolean } = {}) {
  const kind = options.int ? 'a whole number' : 'a number';
  let words = kind;
  if (options.min !== undefined && options.max !== undefined) words = `${kind} between ${options.min} and ${options.max}`;
  else if (options.min !== undefined) words = options.minExclusive ? `${kind} greater than ${options.min}` : `${kind} of at least ${options.min}`;
  else if (options.max !== undefined) words = `${kind} of at most ${options.max}`;
  const message = `must be ${words}`;
  let schema = options.int ? z.number({ error: message }).int({ error: message }) : z.number({ error: message });
  if (options.min !== undefined) schema = options.minExclusive ? schema.gt(options.min, { error: message }) : schema.min(options.min, { error: message });
  if (options.max !== undefined) schema = schema.max(options.max, { error: message });
  return schema;
}

const amount = () => number({ min: 0 }).describe('An amount of money, in the currency given beside it.');
const percent = () => number({ min: 0, max: 100 }).describe('A percentage, 0 to 100.');
const ratio = () => number({ min: 0, max: 1 });
const count = () => number({ min: 1, int: true });
const adminLevel = () => number({ min: 0, max: 6, int: true }).describe('Admin level: 0 country, 1 region/county/province, 2 district/sub-county, 3 …');

const kebabId = () =>
  z
    .string({ error: 'must be text' })
    .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, { error: 'must be lower-case letters and digits joined by hyphens, e.g. ke-hsnp-vci-drought' });

/** A name used inside a rule (trigger id, tier, band): lower-case letters, digits and _. */
const localName = () =>
  z.string({ error: 'must be text' }).regex(/^[a-z][a-z0-9_]*$/, { error: 'must be lower-case letters, digits and _, starting with a letter, e.g. severe' });

const pcode = () =>
  z.string({ error: 'must be a P-code (text)' }).regex(/^[A-Z]{2}[A-Z0-9]*$/, { error: 'must be a P-code: two capital letters then capitals or digits, e.g. KE023' });

const programmeCode = () =>
  z.string({ error: 'must be a programme code (text)' }).regex(/^[A-Za-z0-9_-]+$/, { error: 'must be a programme code: letters, digits, - and _, e.g. HSNP' });

const currency = () =>
  z.string({ error: 'must be a currency code' }).regex(/^[A-Z]{3}$/, { error: 'must be a three-letter ISO 4217 currency code in capitals, e.g. KES' });

const indicatorName = () =>
  z.string({ error: 'must be an indicator code' }).regex(/^[a-z0-9_]+$/, { error: 'must be an indicator code: lower-case letters, digits and _, e.g. vci3m' });

const attributeName = () =>
  z.string({ error: 'must be an attribute name' }).regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, { error: 'must be an attribute name as in the registry file: letters, digits, _ . -' });

const scalar = () => z.union([z.string(), z.number(), z.boolean()]);

// ---------------------------------------------------------------------------------------------
// Identity and provenance
// ---------------------------------------------------------------------------------------------

/** When the rule is in force: from (inclusive) and, optionally, to (inclusive). */
export const effectiveSchema = z.strictObject({
  from: isoDate().describe('First day the rule is in force (YYYY-MM-DD).'),
  to: isoDate().optional().describe('Last day the rule is in force (YYYY-MM-DD); omit for open-ended.'),
});

/** A document the rule comes from: the agreement, a guideline, a press release. */
export const sourceDocumentSchema = z.strictObject({
  title: text(),
  url: text().optional(),
  date: isoDate().optional(),
  section: text().optional(),
});

/** Who approved the rule and when (filled in when the ministry signs it off). */
export const approvalSchema = z.strictObject({
  approved_by: text(),
  approved_on: isoDate(),
  document: text().optional().describe('Reference of the approving minute or letter.'),
});

/** Summary of a replay of the rule over past data (hit rate, false alarms, return period). */
export const backtestSummarySchema = z.strictObject({
  from: isoDate(),
  to: isoDate(),
  activations: number({ min: 0, int: true }).optional(),
  hits: number({ min: 0, int: true }).optional(),
  misses: number({ min: 0, int: true }).optional(),
  false_alarms: number({ min: 0, int: true }).optional(),
  hit_rate: ratio().optional(),
  false_alarm_ratio: ratio().optional(),
  f1: ratio().optional(),
  return_period_years: number({ min: 0, minExclusive: true }).optional(),
  note: text().optional(),
});

/** When the rule is watched: how often data is looked at and, optionally, the calendar months it is open. */
export const monitoringSchema = z.strictObject({
  cadence: z.enum(['daily', 'dekadal', 'weekly', 'monthly', 'seasonal', 'on_event']),
  months: z.array(number({ min: 1, max: 12, int: true })).min(1).optional().describe('Calendar months (1–12) in which the rule can trigger.'),
});

/**
 * Where the rule acts and the unit decisions are made for: every area of `admin_level` inside
 * `within` (P-codes of any level) is evaluated on its own; each gets its own tier, caseload and list.
 */
export const areasSchema = z.strictObject({
  admin_level: adminLevel(),
  within: z.array(pcode()).min(1).describe('P-codes of the areas (any level) the rule covers; everything below them is included.'),
  exclude: z.array(pcode()).optional().describe('P-codes left out even though they are inside `within`.'),
});

// ---------------------------------------------------------------------------------------------
// Triggers: indicators, events, declarations, manual gates, composed with all / any / not / k_of_n
// ---------------------------------------------------------------------------------------------

/**
 * Where an indicator is read: per admin area (values by P-code), at a station or forecast point,
 * or within a radius of a point.
 */
export const spatialUnitSchema = z.union([
  z.strictObject({ admin_level: adminLevel() }),
  z.strictObject({ station: text().describe('Station or forecast point code, e.g. G5004.'), name: text().optional() }),
  z.strictObject({
    point: z.tuple([number({ min: -180, max: 180 }), number({ min: -90, max: 90 })]).describe('[longitude, latitude], WGS84.'),
    radius_km: number({ min: 0, minExclusive: true }),
  }),
]);

/**
 * One band of a banded threshold. With `band_edges: min_inclusive` (the default) a band holds
 * values with min ≤ x < max; with `max_inclusive`, min < x ≤ max. Either end may be left open.
 * Bands are listed from the lowest values to the highest and must not overlap.
 */
export const bandSchema = z.strictObject({
  name: localName(),
  min: z.number({ error: 'must be a number' }).optional(),
  max: z.number({ error: 'must be a number' }).optional(),
  label: text().optional(),
});

/**
 * Time aggregation of the indicator: as the source publishes it, mean/sum/… over a window, or
 * `end_of_season`: the value of the period in which the area's season ends, from the season
 * calendar loaded with `asp areas seasons` (`season` names which one; omit it for the latest
 * season of the calendar to end).
 */
export const aggregationSchema = z.strictObject({
  method: z.enum(['as_published', 'mean', 'sum', 'min', 'max', 'median', 'last', 'end_of_season']),
  window: z.strictObject({ count: count(), unit: z.enum(['days', 'dekads', 'months']) }).optional(),
  season: localName().optional().describe('With end_of_season: the season of the area calendar to read, as named in the calendar (e.g. main).'),
});

/**
 * A threshold relative to a reference instead of an absolute value: e.g. WRSI 10 % below its
 * long-term median (`reference: long_term_median, as: percent_difference` and threshold ≤ −10),
 * or a river level 1 m above the danger level (`reference: danger_level, level: 11.8, as: difference`).
 */
export const relativeToSchema = z.strictObject({
  reference: z.enum(['long_term_median', 'long_term_mean', 'return_period_level', 'danger_level', 'previous_period']),
  baseline: z.strictObject({ from_year: number({ min: 1900, max: 2200, int: true }), to_year: number({ min: 1900, max: 2200, int: true }) }).optional(),
  return_period_years: number({ min: 0, minExclusive: true }).optional(),
  level: z.number({ error: 'must be a number' }).optional().describe('The reference level itself where it is fixed (danger level).'),
  as: z.enum(['difference', 'percent_difference']),
});

/** A single cut-off: the value compared with `op` (lt, lte, gt, gte) to `value`. */
export const thresholdSchema = z.strictObject({
  op: z.enum(ORDER_COMPARISONS),
  value: z.number({ error: 'must be a number' }),
});

/** A probability threshold: the indicator is the forecast probability (%) of `of` happening. */
export const probabilitySchema = z.strictObject({
  of: text().describe('What the probability is of, in words, e.g. "discharge above the 2-year return period".'),
  op: z.enum(['gte', 'gt']),
  percent: percent(),
});

const month = () => number({ min: 1, max: 12, int: true }).describe('A calendar month, 1 (January) to 12 (December).');

/**
 * Which forecasts count: the lead (days from the issue to the start of the period forecast), the
 * period forecast (`for_period`: e.g. the October–December season), and which issues of it must
 * meet the threshold. By default the latest issue known is read. `issued_in_months: [8, 9]`
 * needs the August and the September issue for the period both to meet it (readiness on one
 * month's issue, activation on the next, as anticipatory-action frameworks phrase it);
 * `successive_issues: 2` the latest two issues, whatever their months.
 */
export const forecastSelectionSchema = z.strictObject({
  min_lead_days: number({ min: 0 }).optional(),
  max_lead_days: number({ min: 0 }).optional(),
  for_period: z
    .strictObject({ start_month: month(), end_month: month() })
    .optional()
    .describe('Only forecasts for a period starting in start_month and ending in end_month (11 and 1: November–January, across the new year).'),
  issued_in_months: z
    .array(month())
    .min(1)
    .optional()
    .describe('The forecasts issued in these months (the latest issue of each month, for the period read) must each meet the threshold.'),
  successive_issues: number({ min: 2, int: true })
    .optional()
    .describe('The latest this-many issues of the forecast for the period read must each meet the threshold.'),
});

/**
 * A condition on an indicator series (`indicator_values`): which indicator, from whom, which
 * version, where, aggregated how, and exactly one of `threshold`, `bands` or `probability`.
 */
export const indicatorConditionSchema = z.strictObject({
  id: localName().optional().describe('A name for this trigger, so tiers can refer to its bands.'),
  name: indicatorName().describe('Indicator code as stored, e.g. vci3m, spi3, glofas_discharge, ipc_p3plus_share.'),
  source: text().describe('Who publishes the figures, as stored with them, e.g. NDMA.'),
  version: text().describe('Version pin of the data product, e.g. "GloFAS v4"; "any" accepts every version.'),
  unit: text().describe('Unit of the values, e.g. "VCI (0-100)", "m3/s", "% of population"; a range in brackets, "(0-100)", is the plausible range unless `range` gives one.'),
  range: z
    .strictObject({ min: z.number({ error: 'must be a number' }).optional(), max: z.number({ error: 'must be a number' }).optional() })
    .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, { error: 'min is above max' })
    .optional()
    .describe('Plausible values, inclusive (e.g. { min: 0, max: 100 } for VCI): a value outside is never evidence. The indicator catalogue (data/indicators.yaml) applies as well.'),
  spatial_unit: spatialUnitSchema,
  period: z.enum(['daily', 'dekadal', 'weekly', 'monthly', 'seasonal', 'analysis']),
  aggregation: aggregationSchema.optional(),
  status: z.enum(['final', 'forecast', 'any']).default('final').describe('Whether final figures, forecasts/projections or both count.'),
  forecast: forecastSelectionSchema.optional(),
  relative_to: relativeToSchema.optional(),
  threshold: thresholdSchema.optional(),
  bands: z.array(bandSchema).min(1).optional(),
  band_edges: z.enum(['min_inclusive', 'max_inclusive']).default('min_inclusive'),
  triggering_bands: z.array(localName()).min(1).optional().describe('Bands that count as triggered; omit for all bands.'),
  probability: probabilitySchema.optional(),
  persistence: z.strictObject({ periods: count() }).optional().describe('Must hold for this many consecutive periods.'),
});

/** An intensity figure of an event, e.g. wind_speed ≥ 120 km/h at landfall, magnitude ≥ 6.5 M. */
export const intensitySchema = z.strictObject({
  measure: text().describe('Severity measure name as the source gives it: wind_speed, magnitude, depth…'),
  op: z.enum(ORDER_COMPARISONS),
  value: z.number({ error: 'must be a number' }),
  unit: text(),
  at: text().optional().describe('Where the figure applies, e.g. landfall.'),
});

/**
 * A condition on hazard events from the feeds (GDACS, USGS, CAP, IPC): hazard type, minimum alert
 * level (green < yellow < orange < red), intensity, which footprint shape counts (GDACS
 * Poly_SMPInt_6, USGS mmi with min_value 6, CAP polygon…) and a buffer around it.
 */
export const eventConditionSchema = z.strictObject({
  id: localName().optional(),
  source: z.enum(['gdacs', 'usgs', 'cap', 'ipc']),
  hazard: z.enum(HAZARD_TYPES),
  sender: text().optional().describe('Issuing agency (CAP sender), e.g. the national met service.'),
  min_alert_level: z.enum(ALERT_LEVELS).optional(),
  alert_of: z.enum(['event', 'episode']).default('episode'),
  intensity: intensitySchema.optional(),
  footprint: z
    .strictObject({ class: text(), label: text().optional(), min_value: z.number({ error: 'must be a number' }).optional(), unit: text().optional() })
    .optional()
    .describe('Which shape counts; only its areal parts (polygons) match, unless buffer_km is given.'),
  buffer_km: number({ min: 0 }).optional().describe('Areas and households within this distance of the footprint count as affected; the only way a point or line event affects anything.'),
  max_age_days: count().optional().describe('The event stops triggering this many days after its end (valid_to), else after its start; default per hazard.'),
  forecast: z.strictObject({ min_lead_hours: number({ min: 0 }).optional(), max_lead_hours: number({ min: 0 }).optional() }).optional(),
});

/**
 * An official declaration as a trigger source: the areas it names (P-codes or a drawn polygon)
 * are triggered. `kinds` says which declarations count; `issuer` who may have issued it (one, or a
 * list of which any counts); `valid_days` how long one counts.
 */
export const declarationConditionSchema = z.strictObject({
  kinds: z.array(z.enum(DECLARATION_KINDS)).min(1),
  hazards: z.array(z.enum(HAZARD_TYPES)).min(1).optional(),
  issuer: z
    .union([text(), z.array(text()).min(1, { error: 'must list at least one issuer' })])
    .optional()
    .describe('Who must have issued it: one issuer, or a list [A, B] of which any counts (compared without regard to case).'),
  valid_days: count().optional(),
});

/**
 * A manual gate: nothing activates until a named person or body confirms (a coordinator, an
 * expert panel, an assessment report, a market check, an official alert or declaration).
 */
export const gateSchema = z.strictObject({
  kind: z.enum(GATE_KINDS),
  by: text().describe('Who confirms: a role or an institution.'),
  description: text().describe('What must be confirmed, in words.'),
  evidence: text().optional().describe('The document that must be attached.'),
});

/** Holds where the named trigger's value falls in one of the named bands (used by tiers). */
export const inBandSchema = z.strictObject({
  trigger: localName(),
  bands: z.array(localName()).min(1),
});

export type IndicatorCondition = z.infer<typeof indicatorConditionSchema>;
export type EventCondition = z.infer<typeof eventConditionSchema>;
export type DeclarationCondition = z.infer<typeof declarationConditionSchema>;
export type Gate = z.infer<typeof gateSchema>;
export type InBand = z.infer<typeof inBandSchema>;

/**
 * A trigger condition: exactly one of
 * `all` (every item holds), `any` (at least one holds), `not` (exactly one condition, which must
 * not hold), `k_of_n` (at least k of the listed conditions hold, e.g. 3 of 4 stations),
 * `indicator`, `event`, `declaration`, `gate` or `in_band`.
 */
export type TriggerCondition =
  | { all: TriggerCondition[] }
  | { any: TriggerCondition[] }
  | { not: TriggerCondition }
  | { k_of_n: { k: number; of: TriggerCondition[] } }
  | { indicator: IndicatorCondition }
  | { event: EventCondition }
  | { declaration: DeclarationCondition }
  | { gate: Gate }
  | { in_band: InBand };

export const triggerConditionSchema: z.ZodType<TriggerCondition> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(triggerConditionSchema).min(1) }),
    z.strictObject({ any: z.array(triggerConditionSchema).min(1) }),
    z.strictObject({ not: triggerConditionSchema }),
    z.strictObject({ k_of_n: z.strictObject({ k: count(), of: z.array(triggerConditionSchema).min(1) }) }),
    z.strictObject({ indicator: indicatorConditionSchema }),
    z.strictObject({ event: eventConditionSchema }),
    z.strictObject({ declaration: declarationConditionSchema }),
    z.strictObject({ gate: gateSchema }),
    z.strictObject({ in_band: inBandSchema }),
  ]),
);

/** The record of an official declaration (entered by a coordinator), which `declaration` triggers match. */
export const declarationRecordSchema = z.strictObject({
  id: text(),
  kind: z.enum(DECLARATION_KINDS),
  hazard: z.enum(HAZARD_TYPES),
  issuer: text(),
  date: isoDate(),
  valid_until: isoDate().optional(),
  document: z.strictObject({ reference: text(), title: text().optional(), url: text().optional() }),
  areas: z.union([
    z.strictObject({ pcodes: z.array(pcode()).min(1) }),
    z.strictObject({
      polygon: z.strictObject({ type: z.enum(['Polygon', 'MultiPolygon']), coordinates: z.array(z.array(z.any())) }),
    }),
  ]),
});
export type DeclarationRecord = z.infer<typeof declarationRecordSchema>;

// ---------------------------------------------------------------------------------------------
// Stages, tiers, scale-down, stop, cool-down
// ---------------------------------------------------------------------------------------------

/** A stage of the rule: the condition that opens it and, in words, what is done. */
export const stageSchema = z.strictObject({
  when: triggerConditionSchema,
  actions: z.array(text()).optional(),
});

/** Readiness (optional: prepare, no payment) and activation (payments are prepared). */
export const stagesSchema = z.strictObject({
  readiness: stageSchema.optional(),
  activation: stageSchema,
});

/**
 * A scale-up tier: a named level of severity (higher `severity` is worse) with the condition
 * that puts an area in it, usually `in_band`. Coverage and benefit may differ by tier.
 */
export const tierSchema = z.strictObject({
  id: localName(),
  severity: count(),
  when: triggerConditionSchema,
  label: text().optional(),
});

/** What happens when an area stops meeting the trigger or falls to a lower tier. */
export const scaleDownSchema = z.strictObject({
  when: triggerConditionSchema.optional().describe('An explicit scale-down condition (e.g. VCI ≥ 20), besides no tier holding any more.'),
  effect: z.enum(['stop_payments', 'finish_schedule', 'drop_to_lower_tier']),
  households: z.enum(['lowest_priority_first', 'last_enrolled_first']).optional().describe('Who leaves first when the caseload falls.'),
  keep_ranked_list: z.boolean({ error: 'must be true or false' }).default(false).describe('Keep the frozen ranked list for the next activation (no re-targeting).'),
  after_periods: count().optional(),
});

/** A stop condition: cancel (nothing more is notified or paid) or end the activation. */
export const stopSchema = z.strictObject({
  when: triggerConditionSchema,
  effect: z.enum(['cancel', 'end']),
  only_before: z.enum(['first_notification', 'first_payment', 'any_time']).default('any_time'),
  description: text().optional(),
});

/** After an activation ends, the same area cannot activate again for this long. Exactly one of days or periods. */
export const coolDownSchema = z.strictObject({
  days: count().optional(),
  periods: count().optional(),
});

// ---------------------------------------------------------------------------------------------
// Who: household conditions, exclusions, priority, coverage, caps
// ---------------------------------------------------------------------------------------------

/** Percentile of a household's score among the households of its area (0 = lowest score). */
export const percentileSchema = z.strictObject({
  field: z.enum(HOUSEHOLD_FIELDS).optional(),
  attribute: attributeName().optional(),
  within_admin_level: adminLevel(),
  op: z.enum(ORDER_COMPARISONS),
  value: percent(),
});

/**
 * A condition on a household: a registry field or attribute compared with a value, enrolment in
 * programmes, a percentile within its area, combined with all / any / not. No code, no expressions.
 */
export type HouseholdCondition =
  | { all: HouseholdCondition[] }
  | { any: HouseholdCondition[] }
  | { not: HouseholdCondition }
  | { field: HouseholdField; op: Comparison; value?: string | number | boolean | (string | number | boolean)[] }
  | { attribute: string; op: Comparison; value?: string | number | boolean | (string | number | boolean)[] }
  | { enrolled_in: string[]; status: 'active' | 'suspended' }
  | { percentile: z.infer<typeof percentileSchema> };

export const householdConditionSchema: z.ZodType<HouseholdCondition> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(householdConditionSchema).min(1) }),
    z.strictObject({ any: z.array(householdConditionSchema).min(1) }),
    z.strictObject({ not: householdConditionSchema }),
    z.strictObject({ field: z.enum(HOUSEHOLD_FIELDS), op: z.enum(COMPARISONS), value: z.union([scalar(), z.array(scalar())]).optional() }),
    z.strictObject({ attribute: attributeName(), op: z.enum(COMPARISONS), value: z.union([scalar(), z.array(scalar())]).optional() }),
    z.strictObject({ enrolled_in: z.array(programmeCode()).min(1), status: z.enum(['active', 'suspended']).default('active') }),
    z.strictObject({ percentile: percentileSchema }),
  ]),
);

/** One key of the priority order (earlier keys first): a field or attribute, ascending or descending. */
export const priorityKeySchema = z.union([
  z.strictObject({ field: z.enum(HOUSEHOLD_FIELDS), order: z.enum(['ascending', 'descending']) }),
  z.strictObject({ attribute: attributeName(), order: z.enum(['ascending', 'descending']) }),
]);

/** A condition every listed household must meet, and what happens to those that do not. */
export const requirementSchema = z.strictObject({
  condition: householdConditionSchema,
  otherwise: z.enum(['exclude', 'grievance_queue', 'hold']),
  reason: text(),
});

/**
 * Which households: eligibility, exclusions (e.g. current beneficiaries of named programmes),
 * requirements, priority order, whether the ranked list is frozen, and on-demand intake.
 */
export const householdsSchema = z.strictObject({
  eligibility: householdConditionSchema.optional(),
  exclude: z
    .strictObject({
      current_beneficiaries_of: z.array(programmeCode()).min(1).optional(),
      when: householdConditionSchema.optional(),
    })
    .optional(),
  requirements: z.array(requirementSchema).min(1).optional(),
  priority: z.array(priorityKeySchema).min(1).optional(),
  frozen_list: z.boolean({ error: 'must be true or false' }).default(false).describe('The ranked list is fixed before the shock: no re-targeting during it.'),
  intake: z
    .strictObject({ channel: text(), deadline_days: count().optional(), verified_by: text().optional() })
    .optional()
    .describe('On-demand intake of households not yet listed (e.g. by SMS or village councils).'),
  dedupe_by: z
    .union([z.strictObject({ field: z.enum(HOUSEHOLD_FIELDS) }), z.strictObject({ attribute: attributeName() })])
    .optional()
    .describe('One entry per value of this identifier (e.g. a national ID) per list and per shock; the others are left out as duplicates.'),
  without_location: z
    .enum(['left_out', 'by_area'])
    .default('left_out')
    .describe('Under a footprint: households with no point are left out (the default) or matched by their admin area.'),
});

/** A number, or one number per tier: `{ by_tier: { severe: 50, extreme: 75 } }`. */
function tiered<T extends z.ZodType>(schema: T) {
  const perTier = 'one value per tier, written { by_tier: { severe: 50, extreme: 75 } }';
  return z.union([
    schema,
    z.strictObject({ by_tier: z.record(localName(), schema) }, { error: (issue) => (issue.code === 'invalid_type' && issue.input !== undefined ? `must be ${perTier}` : undefined) }),
  ]);
}

const coverageBasis = () =>
  z.enum(['total', 'additional']).describe('total: the target includes current beneficiaries; additional: on top of them.');

/**
 * The coverage target per area: a share of registered (or eligible) households, every eligible
 * household, a number of households, or a quota published as an indicator. `basis` says whether the
 * target includes current beneficiaries (total) or comes on top of them (additional).
 */
export const coverageSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('share'),
    percent: tiered(percent()),
    of: z.enum(['registered_households', 'eligible_households']),
    basis: coverageBasis(),
    counting_beneficiaries_of: z.array(programmeCode()).min(1).optional().describe('With basis total: whose current beneficiaries count in the total (default: the rule programme).'),
  }),
  z.strictObject({ kind: z.literal('all_eligible') }),
  z.strictObject({ kind: z.literal('households'), count: tiered(count()), basis: coverageBasis() }),
  z.strictObject({
    kind: z.literal('from_indicator'),
    indicator: indicatorName(),
    source: text(),
    as: z.enum(['households', 'percent_of_registered']),
    basis: coverageBasis(),
  }),
]);

/** Upper limits on the caseload, per area and overall. */
export const capsSchema = z.strictObject({
  per_area: z.strictObject({ percent_of_registered: percent().optional(), households: count().optional() }).optional(),
  overall: z.strictObject({ households: count().optional(), amount: amount().optional() }).optional(),
});

// ---------------------------------------------------------------------------------------------
// How much and for how long
// ---------------------------------------------------------------------------------------------

/**
 * The amount per household per payment, by `kind`:
 * flat; per_member (base + amount × members, up to max_members and max_amount); share_of_base (of
 * the programme's base transfer); share_of_reference (of a reference such as the daily minimum wage
 * or a food basket, optionally × days); by_tier (an amount per tier); by_class (an amount per
 * value of a household attribute, e.g. house damage class); none (no money changes, design tweaks).
 */
export const benefitSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('flat'), amount: amount(), currency: currency() }),
  z.strictObject({
    kind: z.literal('per_member'),
    amount: amount(),
    currency: currency(),
    count_of: z.union([z.literal('size'), z.strictObject({ attribute: attributeName() })]).default('size').describe('What is counted: household size or an attribute such as children.'),
    base: amount().optional(),
    max_members: count().optional(),
    max_amount: amount().optional(),
  }),
  z.strictObject({
    kind: z.literal('share_of_base'),
    percent: number({ min: 0, max: 1000 }),
    currency: currency(),
    programme: programmeCode().optional().describe("Whose base transfer (default: the component's programme)."),
  }),
  z.strictObject({
    kind: z.literal('share_of_reference'),
    percent: number({ min: 0, max: 1000 }),
    currency: currency(),
    reference: z.strictObject({
      label: text(),
      amount: amount().optional(),
      indicator: z.strictObject({ name: indicatorName(), source: text() }).optional(),
    }),
    times: z.strictObject({ count: number({ min: 0, minExclusive: true }), unit: text() }).optional(),
  }),
  z.strictObject({ kind: z.literal('by_tier'), currency: currency(), amounts: z.record(localName(), amount()) }),
  z.strictObject({ kind: z.literal('by_class'), currency: currency(), attribute: attributeName(), amounts: z.record(z.string(), amount()) }),
  z.strictObject({ kind: z.literal('none') }),
]);

/**
 * How often and how many times: a number of payments or `while_triggered` (re-evaluated each
 * period, optionally up to max_count), and when the first one starts: days after activation, the
 * next occurrence of a calendar month, or with the next regular payment.
 */
export const paymentsSchema = z.strictObject({
  frequency: z.enum(['once', 'weekly', 'fortnightly', 'monthly', 'bimonthly', 'quarterly']),
  count: z.union([count(), z.literal('while_triggered')]),
  max_count: count().optional(),
  start: z.strictObject({
    days_after_activation: number({ min: 0, int: true }).optional(),
    next_month: number({ min: 1, max: 12, int: true }).optional(),
    with_next_regular_payment: z.literal(true).optional(),
  }),
  channel: text().optional(),
});

/** A design tweak to a running programme: advance, waive conditions, extend, double up. */
export const tweakSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('advance_next_payment'), within_days: number({ min: 0, int: true }) }),
  z.strictObject({ kind: z.literal('waive_conditions'), cycles: count() }),
  z.strictObject({ kind: z.literal('extend_duration'), extra_payments: count() }),
  z.strictObject({ kind: z.literal('double_payment'), cycles: count() }),
]);

/**
 * One part of the response. `mode`: vertical (top-up or extension for current beneficiaries),
 * horizontal (temporary enrolment of more registered households), design_tweak (change dates or
 * conditions of a running programme), piggyback (a list handed to a partner who pays).
 */
export const responseComponentSchema = z.strictObject({
  name: localName().optional(),
  mode: z.enum(['vertical', 'horizontal', 'design_tweak', 'piggyback']),
  programme: programmeCode().optional().describe('Programme whose households and channel are used (default: the rule programme).'),
  tiers: z.array(localName()).min(1).optional().describe('Only in areas at these tiers.'),
  households: householdsSchema,
  coverage: coverageSchema.optional(),
  caps: capsSchema.optional(),
  benefit: benefitSchema.optional(),
  payments: paymentsSchema.optional(),
  tweak: tweakSchema.optional(),
  partner: z.strictObject({ name: text(), role: text().optional() }).optional(),
});

// ---------------------------------------------------------------------------------------------
// Budget, overlap, data sharing
// ---------------------------------------------------------------------------------------------

/**
 * The money: an envelope, the financing sources drawn in order, and the ordered steps taken when
 * the triggered cost exceeds the envelope. The value per household is only reduced
 * (`reduce_value_pro_rata`) when `allow_value_reduction` is true.
 */
export const budgetSchema = z.strictObject({
  envelope: z.strictObject({ amount: amount(), currency: currency(), per: z.enum(['activation', 'cycle', 'year', 'shock']) }),
  sources: z.array(z.strictObject({ name: text(), amount: amount().optional(), note: text().optional() })).min(1).optional(),
  over_budget: z.array(z.enum(OVER_BUDGET_STEPS)).min(1),
  pro_rata_by: z.enum(['registered_households', 'eligible_households', 'targeted_households']).optional(),
  allow_value_reduction: z.boolean({ error: 'must be true or false' }).default(false),
});

/** Exclusive (a household on both is paid once, by the other) or additive with a programme, rule or list. */
export const overlapSchema = z.strictObject({
  with: z.strictObject({ programme: programmeCode().optional(), rule: kebabId().optional(), list: text().optional() }),
  policy: z.enum(['exclusive', 'additive']),
  scope: z.enum(['same_period', 'same_shock']).default('same_period'),
  note: text().optional(),
});

/** Who receives lists, which fields, pseudonymised or not, for how long; public aggregates. */
export const dataSharingSchema = z.strictObject({
  recipients: z
    .array(
      z.strictObject({
        role: z.enum(['payment_provider', 'humanitarian_partner', 'coordination']),
        name: text(),
        fields: z.array(z.enum(SHAREABLE_FIELDS)).min(1),
        pseudonymise: z.boolean({ error: 'must be true or false' }),
        expires_after_days: count().optional(),
        agreement: text().optional(),
      }),
    )
    .min(1),
  aggregates: z.strictObject({ hxl_tags: z.array(text()).min(1), suppress_below_households: count() }).optional(),
});

// ---------------------------------------------------------------------------------------------
// The rule
// ---------------------------------------------------------------------------------------------

/** A shock rule: one file, one rule. The engine versions it by the hash of its content. */
export const ruleSchema = z.strictObject({
  id: kebabId().describe('Unique id of the rule, kebab-case, e.g. ke-hsnp-vci-drought.'),
  title: text(),
  country: z.string({ error: 'must be a country code' }).regex(/^[A-Z]{3}$/, { error: 'must be a three-letter ISO 3166 country code in capitals, e.g. KEN' }),
  programme: programmeCode().describe('The programme that pays, as registered with `asp programmes add`.'),
  owner: text().describe('The institution that owns and maintains the rule.'),
  effective: effectiveSchema,
  agreed_text: text().describe('The agreed text this rule encodes, verbatim.'),
  sources: z.array(sourceDocumentSchema).min(1).optional(),
  approval: approvalSchema.optional(),
  backtest: backtestSummarySchema.optional(),
  monitoring: monitoringSchema.optional(),
  areas: areasSchema,
  stages: stagesSchema,
  tiers: z.array(tierSchema).min(1).optional(),
  scale_down: scaleDownSchema.optional(),
  stop: z.array(stopSchema).min(1).optional(),
  cool_down: coolDownSchema.optional(),
  response: z.array(responseComponentSchema).min(1),
  budget: budgetSchema.optional(),
  overlap: z.array(overlapSchema).min(1).optional(),
  data_sharing: dataSharingSchema.optional(),
});

export type Rule = z.infer<typeof ruleSchema>;
export type RuleInput = z.input<typeof ruleSchema>;
export type Band = z.infer<typeof bandSchema>;
export type Tier = z.infer<typeof tierSchema>;
export type ResponseComponent = z.infer<typeof responseComponentSchema>;
export type Coverage = z.infer<typeof coverageSchema>;
export type Benefit = z.infer<typeof benefitSchema>;
export type Payments = z.infer<typeof paymentsSchema>;
export type Budget = z.infer<typeof budgetSchema>;
export type Overlap = z.infer<typeof overlapSchema>;
export type SpatialUnit = z.infer<typeof spatialUnitSchema>;
