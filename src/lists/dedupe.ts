import type { HouseholdSql } from '../engine/household-sql.ts';
import type { ResponseComponent } from '../rules/schema.ts';
import { DECIDED_STATUSES } from './prior-payments.ts';

/**
 * Deduplication by an identifier (`households.dedupe_by`, e.g. `{ attribute: national_id }`): one
 * entry per identifier value per list and per shock. Two registry records with the same national
 * ID are one family: the best-ranked by the rule's priority order is kept (ties by registry id) and
 * the others are left out as "duplicate <identifier>"; a record whose identifier is already on a
 * decided list of the rule for the same shock is left out too. Values are compared without
 * surrounding spaces and without regard to case; a household with no value is never a duplicate
 * (it is listed or left out on its own merits).
 */
export interface Dedupe {
  /** The reason a duplicate is left out with, e.g. "duplicate national_id". */
  reason: string;
  /** SQL over `h`: the normalised identifier value, NULL when the household has none. */
  key: string;
  /** SQL boolean over `h` (a matched household with `activation_id`): another household with the same value is on a decided list of the rule for this shock. */
  onEarlierList: string;
  /** SQL boolean over `h`: the household whose id is the SQL `householdId` has the same identifier value (e.g. for an exclusive overlap with a rule). */
  sameAs(householdId: string): string;
}

export function dedupeSql(q: HouseholdSql, households: ResponseComponent['households'], ruleId: string): Dedupe | null {
  const by = households.dedupe_by;
  if (!by) return null;
  const name = 'attribute' in by ? by.attribute : by.field;
  // One placeholder for the attribute name, used for both households compared.
  const attribute = 'attribute' in by ? q.param(by.attribute, 'text') : null;
  const field = 'field' in by ? by.field : null; // a registry column, from the schema's closed list
  const identifier = (alias: string) =>
    `nullif(upper(btrim(${attribute ? `${alias}.attributes ->> ${attribute}` : `${alias}.${field}::text`})), '')`;
  return {
    reason: `duplicate ${name}`,
    key: identifier('h'),
    onEarlierList: `EXISTS (
      SELECT 1 FROM payment_list_entries de
        JOIN payment_lists dl ON dl.id = de.list_id
        JOIN activations da ON da.id = de.activation_id
        JOIN households dh ON dh.id = de.household_id
       WHERE dl.rule_id = ${q.param(ruleId, 'text')}
         AND dl.status IN ${DECIDED_STATUSES}
         AND da.shock_key = (SELECT ca.shock_key FROM activations ca WHERE ca.id = h.activation_id)
         AND de.household_id <> h.id
         AND ${identifier('dh')} = ${identifier('h')})`,
    sameAs: (householdId) => `EXISTS (SELECT 1 FROM households oh WHERE oh.id = ${householdId} AND ${identifier('oh')} = ${identifier('h')})`,
  };
}
