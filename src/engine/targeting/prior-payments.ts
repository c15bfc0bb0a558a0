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
 * `household` and `activation` are SQL for the household's id and the activation it is matched
 * under; `ruleId` the placeholder of the rule id.
 */
export function priorPaymentsSql(refs: { household: string; activation: string; ruleId: string }): string {
  return `(SELECT coalesce(sum(coalesce(pe.payments, 1)), 0)::int
             FROM payment_list_entries pe
             JOIN payment_lists pl ON pl.id = pe.list_id
             JOIN activations pa ON pa.id = pe.activation_id
            WHERE pe.household_id = ${refs.household}
              AND pl.rule_id = ${refs.ruleId}
              AND pl.status IN ${DECIDED_STATUSES}
              AND pa.shock_key = (SELECT ca.shock_key FROM activations ca WHERE ca.id = ${refs.activation}))`;
}

/**
 * SQL: the money earlier decided lists of the rule took from an envelope, per pot, as rows
 * `(pot, spent)`. A pot is a shock key (`per: shock`: entries listed under an activation of that
 * shock) or '' (`per: year`: every entry of a list whose cycle falls in the calendar year). The
 * cost of an entry is its amount × its payments, as the budget counts it.
 *
 * Placeholders: `ruleId` (text), `year` (text, YYYY), `per` (text: shock | year; anything else
 * deducts nothing).
 */
export function envelopeSpentSql(refs: { ruleId: string; year: string; per: string }): string {
  return `SELECT CASE WHEN ${refs.per} = 'shock' THEN pa.shock_key ELSE '' END AS pot,
                 sum(pe.amount * coalesce(pe.payments, 1)) AS spent
            FROM payment_list_entries pe
            JOIN payment_lists pl ON pl.id = pe.list_id
            JOIN activations pa ON pa.id = pe.activation_id
           WHERE pl.rule_id = ${refs.ruleId}
             AND pl.status IN ${DECIDED_STATUSES}
             AND ${refs.per} IN ('shock', 'year')
             AND (${refs.per} = 'shock' OR left(pl.cycle, 4) = ${refs.year})
           GROUP BY 1`;
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
