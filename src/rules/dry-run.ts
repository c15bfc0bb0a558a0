import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { evaluateRule, type AreaDecision } from './evaluate.ts';
import { estimateCost, type CostEstimate } from '../engine/estimate.ts';
import { evaluationInput } from '../engine/evaluation-input.ts';
import { formatProblem, loadRules } from './load.ts';

export interface DryRunReport {
  ruleId: string;
  hash: string;
  asOf: string;
  /** Every area the rule covers, with its decision and evidence. */
  decisions: AreaDecision[];
  /** How many areas are at each stage. */
  stages: Record<AreaDecision['stage'], number>;
  /** What paying the areas in activation (at their tiers) would cost, from the registry as it is now. */
  estimate: CostEstimate;
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
  const activated = decisions.filter((d) => d.stage === 'activation').map((d) => ({ pcode: d.pcode, tier: d.tier }));
  const estimate = await estimateCost(store, rule, activated);
  return { ruleId: rule.id, hash, asOf, decisions, stages, estimate };
}
