import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { evaluateRule, type AreaDecision } from '../rules/evaluate.ts';
import { formatProblem, loadRules } from '../rules/load.ts';
import { shockKey } from './activations.ts';
import { estimateCost, holdingEvents, type CostEstimate } from './estimate.ts';
import { evaluationInput } from './evaluation-input.ts';
import { ruleDataWarnings, storedLaterNote } from './rule-data-check.ts';

export interface DryRunReport {
  ruleId: string;
  hash: string;
  asOf: string;
  /** Every area the rule covers, with its decision and evidence. */
  decisions: AreaDecision[];
  /** How many areas are at each stage. */
  stages: Record<AreaDecision['stage'], number>;
  /** The list the areas in activation (at their tiers) would get from the registry as it is now: generation, rolled back. */
  estimate: CostEstimate;
  /** What the rule names that the store does not have (no silent zeros). */
  warnings: string[];
  /** Values for periods before `asOf` that were stored after it (an as-of run does not see them), or null. */
  storedLater: string | null;
}

/**
 * What a rule would decide now (or as of a date), from the indicator values and hazard events in
 * the store, without writing anything: `asp rules dry-run FILE [--at DATE]`.
 */
export async function dryRunRule(store: Store, file: string, asOf: string): Promise<DryRunReport> {
  const { rules, problems } = await loadRules(file);
  if (problems.length > 0) throw new UserError(`${file}: the rule has problems`, problems.map(formatProblem));
  if (rules.length !== 1) throw new UserError(`${file}: give one rule file (found ${rules.length} rules)`);
  const [{ rule, hash }] = rules;
  const decisions = evaluateRule(await evaluationInput(store, rule, asOf));
  const stages = { none: 0, readiness: 0, activation: 0 };
  for (const d of decisions) stages[d.stage]++;
  // The estimate is the list the activated areas would get, under the shocks they would belong to.
  const { rows: open } = await store.transaction(({ raw }) =>
    raw.query<{ pcode: string; shock_key: string }>(`SELECT pcode, shock_key FROM activations WHERE rule_id = $1 AND status = 'open'`, [rule.id]),
  );
  const activated = decisions.filter((d) => d.stage === 'activation').map((d) => ({
    pcode: d.pcode, tier: d.tier, events: holdingEvents(d), shockKey: shockKey(d, open.filter((o) => o.pcode === d.pcode)),
  }));
  const estimate = await estimateCost(store, rule, activated, { asOf });
  const { warnings, storedLater } = await store.transaction(async ({ raw }) => ({
    warnings: await ruleDataWarnings(raw, rule),
    storedLater: await storedLaterNote(raw, rule, asOf),
  }));
  return { ruleId: rule.id, hash, asOf, decisions, stages, estimate, warnings, storedLater };
}
