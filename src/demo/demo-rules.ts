import { fileURLToPath } from 'node:url';
import type { Store } from '../db/store.ts';
import { approveRuleVersion, listRuleVersions, storeRuleVersions } from '../rules/versions.ts';

/** The demo's rules (rules/demo/), for the synthetic Demoland only. */
export const DEMO_RULES_DIR = fileURLToPath(new URL('../../rules/demo/', import.meta.url));
export const DEMO_RULE_AUTHOR = 'demo.rule-author@demoland.example';
export const DEMO_RULE_APPROVER = 'demo.approver@demoland.example';

/**
 * Loads the demo rules and approves them with two different demo people (four eyes), so that
 * the feeds the demo ingests open activations through the real flow. A rule that already has an
 * approved version is left as it is.
 */
export async function approveDemoRules(store: Store): Promise<string[]> {
  await storeRuleVersions(store, DEMO_RULES_DIR, DEMO_RULE_AUTHOR);
  const versions = await listRuleVersions(store);
  const approved = new Set(versions.filter((v) => v.status === 'approved').map((v) => v.ruleId));
  const drafts = [...new Set(versions.filter((v) => v.status === 'draft' && v.createdBy === DEMO_RULE_AUTHOR).map((v) => v.ruleId))];
  const newlyApproved: string[] = [];
  for (const ruleId of drafts) {
    if (approved.has(ruleId)) continue;
    await approveRuleVersion(store, ruleId, DEMO_RULE_APPROVER);
    newlyApproved.push(ruleId);
  }
  return newlyApproved;
}
