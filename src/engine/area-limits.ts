import type { ResponseComponent } from '../rules/schema.ts';
import type { HouseholdSql } from './household-sql.ts';

/**
 * How many households a response component takes per area, as SQL: the coverage target (a share
 * of registered or eligible households, a number, by tier), then the per-area caps. Shared by the
 * cost estimate and list generation, so both count the same households.
 *
 * The SQL reads `a.coverage` (the area's figure, passed per area in `coverage`) and the area's
 * counts `t.registered`, `t.eligible` and `t.counted` (current beneficiaries, for basis total).
 */
export interface AreaLimits {
  /** Per area, in the order of `tiers`: its coverage figure (0 when its tier has none), or null without a target. */
  coverage: (number | null)[];
  /** Positions of the areas whose tier has no coverage figure (they get none). */
  tierWithoutCoverage: number[];
  /** The indicator a quota would come from (not read: every qualifying household counts), or null. */
  fromIndicator: string | null;
  /** SQL boolean over `h`: a current beneficiary that counts towards a total target. */
  counted: string;
  /** SQL: the coverage target alone (current beneficiaries deducted for basis total), or NULL. */
  target: string;
  /** SQL: the smaller of the target and the caps, or NULL when nothing limits the area. */
  limit: string;
}

export function areaLimits(q: HouseholdSql, component: ResponseComponent, tiers: (string | null)[], ruleProgramme: string): AreaLimits {
  const coverage = component.coverage;
  let values: (number | null)[] = tiers.map(() => null);
  const tierWithoutCoverage: number[] = [];
  let target: string | null = null;
  let basisTotal = false;
  let counting = [ruleProgramme];
  if (coverage && (coverage.kind === 'share' || coverage.kind === 'households')) {
    const tiered = coverage.kind === 'share' ? coverage.percent : coverage.count;
    values = tiers.map((tier, i) => {
      const figure = typeof tiered === 'number' ? tiered : tier !== null ? tiered.by_tier[tier] : undefined;
      if (figure === undefined) tierWithoutCoverage.push(i);
      return figure ?? 0;
    });
    target = coverage.kind === 'households' ? 'a.coverage' : `floor(a.coverage * ${coverage.of === 'eligible_households' ? 't.eligible' : 't.registered'} / 100)`;
    basisTotal = coverage.basis === 'total';
    if (coverage.kind === 'share' && coverage.counting_beneficiaries_of) counting = coverage.counting_beneficiaries_of;
  }
  // With basis total, current beneficiaries count towards the target and the percentage cap.
  const lessCounted = (sql: string) => (basisTotal ? `greatest(0, ${sql} - t.counted)` : sql);
  const limits: string[] = [];
  if (target) limits.push(lessCounted(target));
  const cap = component.caps?.per_area;
  if (cap?.percent_of_registered !== undefined) limits.push(lessCounted(`floor(${q.param(cap.percent_of_registered, 'numeric')} * t.registered / 100)`));
  if (cap?.households !== undefined) limits.push(q.param(cap.households, 'numeric'));
  return {
    coverage: values,
    tierWithoutCoverage,
    fromIndicator: coverage?.kind === 'from_indicator' ? coverage.indicator : null,
    counted: basisTotal ? q.enrolledIn(counting) : 'false',
    target: target ? lessCounted(target) : 'NULL::numeric',
    limit: limits.length === 0 ? 'NULL::numeric' : limits.length === 1 ? limits[0] : `least(${limits.join(', ')})`,
  };
}
