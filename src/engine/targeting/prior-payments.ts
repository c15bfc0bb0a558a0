import type { RawConnection } from '../../db/raw.ts';
import { UserError } from '../../errors.ts';
import type { ResponseComponent } from '../../rules/schema.ts';

/**
 * What earlier lists already gave, so that a shock is never paid twice: the payments a household
 * received for a shock, and the money a rule already committed from its envelope.
 *
 * A payment counts once its list is decided: approved, released or closed. A draft counts for
 * nothing yet and a cancelled list never does. "The shock" of a listed household is the shock key
 * of the activation it was listed under (`activations.shock_key`), so an area notified later in the
 * same event or declaration shares the shock of the areas notified first.
 */

/** List statuses whose entries are decided: they count as given. */
export const DECIDED_STATUSES = `('approved', 'released', 'closed')`;

/** How many payments a list gives a household, and how many a household may get for one shock. */
export interface PaymentPlan {
  /** Payments a new entry schedules at most: the rule's count, or 1 a cycle while triggered. */
  perList: number;
  /** Payments per household per shock across cycles and lists, or null when unlimited (while triggered without max_count). */
  perShock: number | null;
}

/**
 * The payment plan of a response component. `frequency: once` is one payment per shock whatever
 * the count says (a count other than 1 is refused: the rule contradicts itself); a number is that
 * many payments per shock; `while_triggered` pays one a cycle, up to `max_count` when given.
 * Without `payments` (the rule check requires them of a paying response) one payment, once.
 */
export function paymentPlan(component: ResponseComponent): PaymentPlan {
  const payments = component.payments;
  if (!payments) return { perList: 1, perShock: 1 };
  if (payments.frequency === 'once') {
    if (typeof payments.count === 'number' && payments.count !== 1) {
      throw new UserError(`payments: frequency once with count ${payments.count} contradicts itself; write count: 1, or a frequency that repeats`);
    }
    return { perList: 1, perShock: 1 };
  }
  if (payments.count === 'while_triggered') return { perList: 1, perShock: payments.max_count ?? null };
  return { perList: payments.count, perShock: payments.count };
}

/**
 * SQL: the payments a household already received for the shock of an activation, from decided
 * lists of the rule (every version and component), as an integer (0 when none). An entry written
 * before `payments` was recorded counts as one payment.
 *
 * `household`, `region` and `shock` are SQL for the household's id, its region (an entry has its
 * household's region: the same rows, read in one partition) and the shock key it is matched under;
 * `ruleId` the placeholder of the rule id.
 */
export function priorPaymentsSql(refs: { household: string; region: string; shock: string; ruleId: string }): string {
  // The first test does not depend on the household: PostgreSQL runs it once per statement, and a
  // rule's first list (no decided list yet) skips the look per household.
  return `(CASE WHEN EXISTS (SELECT 1 FROM payment_lists dl WHERE dl.rule_id = ${refs.ruleId} AND dl.status IN ${DECIDED_STATUSES})
           THEN (SELECT coalesce(sum(coalesce(pe.payments, 1)), 0)::int
                   FROM payment_list_entries pe
                   JOIN payment_lists pl ON pl.id = pe.list_id
                   JOIN activations pa ON pa.id = pe.activation_id
                  WHERE pe.household_id = ${refs.household} AND pe.region = ${refs.region}
                    AND pl.rule_id = ${refs.ruleId}
                    AND pl.status IN ${DECIDED_STATUSES}
                    AND pa.shock_key = ${refs.shock})
           ELSE 0 END)`;
}

/**
 * The money already taken from the rule's envelope, per pot: a pot is a shock key (`per: shock`:
 * entries listed under an activation of that shock) or '' (any other envelope). Two parts:
 * - `decided`: what earlier decided lists of the rule took, for an envelope per shock or per year
 *   (per year: lists whose cycle falls in the calendar year); nothing for other envelopes;
 * - with `total`, also what this cycle's earlier components of the same rule version listed (any status
 *   but cancelled), so that the envelope is the rule's, not each component's.
 * The cost of an entry is its amount × its payments (× 1 for an envelope per cycle), as the budget
 * counts it. Amounts are numeric text, exact.
 */
export async function envelopeSpent(
  raw: RawConnection,
  refs: { ruleId: string; ruleVersionId: number; cycle: string; component: number; per: string; perPayment: boolean },
): Promise<{ pot: string; decided: string; total: string }[]> {
  const { rows } = await raw.query<{ pot: string; decided: string; total: string }>(
    `SELECT pot, sum(decided)::text AS decided, sum(decided + siblings)::text AS total FROM (
       SELECT CASE WHEN $5 = 'shock' THEN pa.shock_key ELSE '' END AS pot,
              pe.amount * coalesce(pe.payments, 1) AS decided, 0 AS siblings
         FROM payment_list_entries pe
         JOIN payment_lists pl ON pl.id = pe.list_id
         JOIN activations pa ON pa.id = pe.activation_id
        WHERE pl.rule_id = $1 AND pl.status IN ${DECIDED_STATUSES}
          AND $5 IN ('shock', 'year') AND ($5 = 'shock' OR left(pl.cycle, 4) = left($3, 4))
       UNION ALL
       SELECT CASE WHEN $5 = 'shock' THEN sa.shock_key ELSE '' END,
              0, se.amount * CASE WHEN $6::boolean THEN 1 ELSE coalesce(se.payments, 1) END
         FROM payment_list_entries se
         JOIN payment_lists sl ON sl.id = se.list_id
         JOIN activations sa ON sa.id = se.activation_id
        WHERE sl.rule_version_id = $2 AND sl.cycle = $3 AND sl.component < $4 AND sl.status <> 'cancelled'
     ) parts GROUP BY pot`,
    [refs.ruleId, refs.ruleVersionId, refs.cycle, refs.component, refs.per, refs.perPayment],
  );
  return rows;
}

/**
 * Drafts of the same rule that share a shock with this list, other than the lists generated with
 * it (same rule version and cycle: its other components): another cycle's draft, or a draft of an
 * earlier version of the rule. Their households are not deducted yet (a draft is not decided), so
 * generating now could list them twice. Returns one line per such draft, for the error that asks
 * to approve or cancel it first.
 */
export async function undecidedEarlierDrafts(
  raw: RawConnection,
  refs: { ruleId: string; ruleVersionId: number; cycle: string; shockKeys: string[] },
): Promise<string[]> {
  const { rows } = await raw.query<{ id: number; cycle: string; shocks: string[] }>(
    `SELECT l.id, l.cycle, array_agg(DISTINCT la.shock_key ORDER BY la.shock_key) AS shocks
       FROM payment_lists l JOIN payment_list_areas la ON la.list_id = l.id
      WHERE l.rule_id = $1 AND l.status = 'draft' AND la.shock_key = ANY ($4::text[])
        AND NOT (l.rule_version_id = $2 AND l.cycle = $3)
      GROUP BY l.id, l.cycle ORDER BY l.id`,
    [refs.ruleId, refs.ruleVersionId, refs.cycle, refs.shockKeys],
  );
  return rows.map((r) => `list ${r.id} (cycle ${r.cycle}, ${r.shocks.join(', ')})`);
}
