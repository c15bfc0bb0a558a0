import { rangeProblem, type IndicatorCatalogue, type PlausibleRange } from '../feeds/indicator-catalogue.ts';
import type { IndicatorCondition } from './schema.ts';

/** A range a value must fall in before it counts as evidence, and who declared it. */
export interface DeclaredRange {
  source: 'rule' | 'catalogue';
  range: PlausibleRange;
}

/** What an activation's evidence records of each check its values passed. */
export interface PlausibilityCheck {
  indicator: string;
  range: { min?: number; max?: number; integer?: boolean };
  source: 'rule' | 'catalogue';
  /** How many values of the evidence were checked. */
  checked: number;
}

/** `(0-100)`, `(WRSI 0-100)`, `(1–5)`, `(-5..5)` in a rule's unit text: the range it states. */
const RANGE_IN_UNIT = /\((?:[^()]*?\s)?(-?\d+(?:\.\d+)?)\s*(?:-|–|\.\.)\s*(-?\d+(?:\.\d+)?)\)/;

/**
 * The ranges a condition's values must fall in: the rule's own (`range`, else one its `unit`
 * states as "VCI (0-100)") and the indicator catalogue's.
 *
 * ```ts
 * declaredRanges({ name: 'vci3m', unit: 'VCI (0-100)', … }, catalogue)
 * // [{ source: 'rule', range: { min: 0, max: 100, unit: 'VCI (0-100)' } }, { source: 'catalogue', … }]
 * ```
 */
export function declaredRanges(condition: IndicatorCondition, catalogue: IndicatorCatalogue | undefined): DeclaredRange[] {
  const ranges: DeclaredRange[] = [];
  const stated = RANGE_IN_UNIT.exec(condition.unit);
  const rule = condition.range ?? (stated ? { min: Number(stated[1]), max: Number(stated[2]) } : undefined);
  if (rule) ranges.push({ source: 'rule', range: { ...rule, unit: condition.unit } });
  const listed = catalogue?.rangeOf(condition.name);
  if (listed) ranges.push({ source: 'catalogue', range: listed });
  return ranges;
}

/** Why a value fails one of the ranges (`-5 is outside 0..100 (VCI (0-100)), the rule's range`), or null. */
export function implausibility(value: number, ranges: DeclaredRange[]): string | null {
  for (const { source, range } of ranges) {
    const problem = rangeProblem(range, value);
    if (problem) return `${problem}, the ${source === 'rule' ? "rule's range" : "indicator catalogue's range"}`;
  }
  return null;
}

/** The checks `checked` values passed, for the evidence. */
export function plausibilityChecks(indicator: string, ranges: DeclaredRange[], checked: number): PlausibilityCheck[] {
  return ranges.map(({ source, range }) => ({
    indicator, source, checked,
    range: Object.fromEntries(Object.entries({ min: range.min, max: range.max, integer: range.integer }).filter(([, v]) => v !== undefined)),
  }));
}


