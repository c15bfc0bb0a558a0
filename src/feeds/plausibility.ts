import type { IndicatorCatalogue } from './indicator-catalogue.ts';
import { rangeProblem } from './indicator-catalogue.ts';
import type { IndicatorValue } from './model.ts';

/**
 * Is a figure plausible for its indicator (data/indicators.yaml)? The reason names the indicator,
 * the value and the range; `indicatorLocation` names the source row (area, period, publisher),
 * which is the row's key in every indicator payload. Null when plausible or not catalogued.
 *
 * ```ts
 * implausibleIndicator(catalogue, { indicator: 'vci3m', value: -5, … })
 * // 'vci3m value -5 is outside 0..100 (VCI (0-100)) (indicator catalogue): not stored as evidence'
 * ```
 */
export function implausibleIndicator(catalogue: IndicatorCatalogue, value: IndicatorValue): string | null {
  const problem = rangeProblem(catalogue.rangeOf(value.indicator), value.value);
  return problem && `${value.indicator} value ${problem} (indicator catalogue): not stored as evidence`;
}

/** `indicator value 3 (KE023001 vci3m 2024-01-01..2024-03-31 from NDMA)`. */
export function indicatorLocation(index: number, value: Partial<IndicatorValue> | undefined): string {
  const period = value?.periodStart || value?.periodEnd ? ` ${value?.periodStart ?? '?'}..${value?.periodEnd ?? '?'}` : '';
  const source = value?.source ? ` from ${value.source}` : '';
  return `indicator value ${index} (${value?.pcode ?? '?'} ${value?.indicator ?? '?'}${period}${source})`;
}
