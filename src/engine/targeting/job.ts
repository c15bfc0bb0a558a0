import type { Benefit, ResponseComponent, Rule } from '../../rules/schema.ts';

/** What one list's generation works on: shared by matching, the budget and the entries. */

/** One area of the list, from the rule version's open activations at the activation stage. */
export interface ActivationArea {
  activationId: number;
  pcode: string;
  tier: string | null;
  shockKey: string;
  /** Every open shock of the area in activation: a household in any of their footprints counts. */
  shockKeys: string[];
  openedAt: string;
}

export interface Job {
  rule: Rule;
  ruleVersionId: number;
  index: number;
  component: ResponseComponent;
  benefit: Exclude<Benefit, { kind: 'none' }>;
  areas: ActivationArea[];
  cycle: string;
  actor: string;
  now: Date;
  /** Generated for an estimate inside a transaction the caller rolls back. */
  estimate: boolean;
}

/** Households or money cut by a cap or the budget, per area and step, with the reason. */
export interface Cut {
  pcode: string;
  step: string;
  households: number;
  amount: number;
  reason: string;
}
