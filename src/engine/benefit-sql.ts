import type { Benefit } from '../rules/schema.ts';
import type { HouseholdSql } from './household-sql.ts';

/**
 * A rule's benefit formula as SQL: the amount per payment of one household (alias `h`), numeric,
 * NULL where it cannot be worked out (no size for a per-member amount, no amount for the class or
 * tier, a reference read from an indicator). Shared by the cost estimate and list generation, so
 * both price a household the same way.
 *
 * `tierAmount` is the SQL of the area's amount for a by-tier benefit; `programme` the programme
 * whose base transfer a share-of-base benefit takes when the benefit names none.
 */
export function benefitAmountSql(q: HouseholdSql, benefit: Exclude<Benefit, { kind: 'none' }>, options: { programme: string; tierAmount: string }): string {
  switch (benefit.kind) {
    case 'flat':
      return q.param(benefit.amount, 'numeric');
    case 'per_member': {
      const counted = q.number(benefit.count_of === 'size' ? { field: 'size' } : { attribute: benefit.count_of.attribute });
      let members = `greatest(0, ${counted})`;
      if (benefit.max_members !== undefined) members = `least(${members}, ${q.param(benefit.max_members, 'numeric')})`;
      let amount = `${q.param(benefit.base ?? 0, 'numeric')} + ${q.param(benefit.amount, 'numeric')} * ${members}`;
      if (benefit.max_amount !== undefined) amount = `least(${amount}, ${q.param(benefit.max_amount, 'numeric')})`;
      // greatest() and least() skip NULL: without a count the amount is unknown, not the base or the maximum.
      return `(CASE WHEN ${counted} IS NULL THEN NULL ELSE ${amount} END)`;
    }
    case 'share_of_base':
      return `(SELECT p.base_amount * ${q.param(benefit.percent, 'numeric')} / 100 FROM programmes p WHERE p.code = ${q.param(benefit.programme ?? options.programme, 'text')})`;
    case 'share_of_reference':
      if (benefit.reference.amount === undefined) return 'NULL::numeric';
      return q.param(((benefit.reference.amount * benefit.percent) / 100) * (benefit.times?.count ?? 1), 'numeric');
    case 'by_tier':
      return options.tierAmount;
    case 'by_class':
      return `(${q.param(JSON.stringify(benefit.amounts), 'jsonb')} ->> ${q.text({ attribute: benefit.attribute })})::numeric`;
  }
}
