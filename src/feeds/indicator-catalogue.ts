import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { dataFileReader } from './data-file.ts';

/**
 * The indicator catalogue (data/indicators.yaml): the range and unit a published figure of each
 * indicator must fall in. Feeds check every value against it before storage; evaluation checks
 * again, with the range a rule declares.
 *
 * ```ts
 * const catalogue = await loadIndicatorCatalogue()
 * rangeProblem(catalogue.rangeOf('vci3m'), -5) // '-5 is outside 0..100 (VCI (0-100))'
 * ```
 */

export const DEFAULT_INDICATOR_CATALOGUE = fileURLToPath(new URL('../../data/indicators.yaml', import.meta.url));

/** A plausible range: inclusive bounds, either may be open. */
export interface PlausibleRange {
  min?: number;
  max?: number;
  integer?: boolean;
  unit?: string;
}

const entrySchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9_]+$/).optional(),
    pattern: z.string().refine((p) => { try { new RegExp(p); return true; } catch { return false; } }, 'not a regular expression').optional(),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    integer: z.boolean().optional(),
    unit: z.string().min(1),
    note: z.string().optional(),
  })
  .refine((e) => (e.name === undefined) !== (e.pattern === undefined), 'give exactly one of name and pattern')
  .refine((e) => e.min === undefined || e.max === undefined || e.min <= e.max, 'min is above max');

const catalogueSchema = z.strictObject({ indicators: z.array(entrySchema) });

export interface IndicatorCatalogue {
  /** The catalogue's range for an indicator: the exact name first, else the first pattern that matches. */
  rangeOf(indicator: string): PlausibleRange | undefined;
}

const readCatalogue = dataFileReader(catalogueSchema, 'the indicator catalogue', (data) => catalogueOf(data.indicators));

/** Reads and validates the catalogue once per file. */
export function loadIndicatorCatalogue(file = DEFAULT_INDICATOR_CATALOGUE): Promise<IndicatorCatalogue> {
  return readCatalogue(file);
}

/** A catalogue from entries (as in the YAML file). */
export function catalogueOf(entries: z.infer<typeof entrySchema>[]): IndicatorCatalogue {
  const byName = new Map(entries.filter((e) => e.name).map((e) => [e.name!, e]));
  const patterns = entries.filter((e) => e.pattern).map((e) => ({ test: new RegExp(`^(?:${e.pattern!.replace(/^\^|\$$/g, '')})$`), entry: e }));
  const rangeOf = (indicator: string): PlausibleRange | undefined => {
    const entry = byName.get(indicator) ?? patterns.find((p) => p.test.test(indicator))?.entry;
    return entry && { min: entry.min, max: entry.max, integer: entry.integer, unit: entry.unit };
  };
  return { rangeOf };
}

/** The range in words: `0..100 (VCI (0-100))`, `≥ 0 (mm)`. */
export function describeRange(range: PlausibleRange): string {
  const bounds = range.min !== undefined && range.max !== undefined ? `${range.min}..${range.max}`
    : range.min !== undefined ? `≥ ${range.min}` : range.max !== undefined ? `≤ ${range.max}` : 'any value';
  return `${bounds}${range.integer ? ', whole numbers' : ''}${range.unit ? ` (${range.unit})` : ''}`;
}

/** Why `value` is implausible for the range, or null when it is inside. */
export function rangeProblem(range: PlausibleRange | undefined, value: number): string | null {
  if (!range) return null;
  const outside = !Number.isFinite(value)
    || (range.min !== undefined && value < range.min)
    || (range.max !== undefined && value > range.max)
    || (range.integer === true && !Number.isInteger(value));
  return outside ? `${value} is outside ${describeRange(range)}` : null;
}
