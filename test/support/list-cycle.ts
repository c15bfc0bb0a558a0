import type { Store } from '../../src/db/store.ts';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { generateLists } from '../../src/engine/targeting/generate-lists.ts';

/** One entry of a generated list as a user reads it. */
export interface CycleEntry {
  id: string;
  pcode: string;
  amount: number;
  payments: number;
}

/**
 * One payment cycle of a rule: evaluates it as of `asOf`, generates its lists for `cycle` (by
 * maker@test, so checker@test may approve) and returns the first with its entries in registry-id
 * order and their ids.
 */
export async function generateCycle(store: Store, ruleId: string, asOf: string, cycle: string) {
  await evaluateActivations(store, { ruleId, asOf });
  const [activation] = await listActivations(store, { ruleId, status: 'open' });
  if (!activation) throw new Error(`${ruleId} has no open activation as of ${asOf}`);
  const [list] = await generateLists(store, activation.id, 'maker@test', { cycle });
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<CycleEntry>(
      `SELECT registry_id AS id, pcode, amount::float8 AS amount, payments FROM payment_list_entries WHERE list_id = $1 ORDER BY registry_id COLLATE "C"`,
      [list.id],
    ),
  );
  return { ...list, entries: rows, ids: rows.map((r) => r.id) };
}
