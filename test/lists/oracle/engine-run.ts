import type { Store } from '../../../src/db/store.ts';
import { evaluateActivations, listActivations } from '../../../src/engine/activations.ts';
import { generateLists } from '../../../src/engine/targeting/generate-lists.ts';
import { insertOracleHouseholds, readStoredList, resetOracleWorld } from '../../support/oracle-world.ts';
import { approveRuleText, publishMonth } from '../../support/rules.ts';
import { ORACLE_AREAS } from '../../support/oracle-world.ts';
import { oracle, sortKeys, standingFootprints, type Expected, type OracleInput } from './oracle.ts';
import { ingestFootprints } from './footprint-feed.ts';
import { ruleYaml, type Scenario } from './scenario.ts';

/**
 * One scenario through the engine's real path — the registry written, the indicator values (or
 * the event) ingested, the rule stored and approved by a second person, `evaluateActivations`,
 * `generateLists` — and the same scenario through the oracle.
 */
export const AS_OF = '2026-11-10T00:00:00Z';
export const EVENT_AS_OF = '2026-11-21T00:00:00Z';

let counter = 0;

export async function runScenario(store: Store, scenario: Scenario, name = 'oracle'): Promise<{ got: Expected; want: Expected }> {
  const want = oracle(toOracleInput(scenario));
  const ruleId = `${name}-${process.pid}-${++counter}`;
  await resetOracleWorld(store);
  await insertOracleHouseholds(store, scenario.households);
  const isEvent = scenario.footprints !== undefined;
  if (isEvent) {
    // An earlier episode of the same event, superseded by the scenario's footprints (the current version).
    if (scenario.earlierFootprints) await ingestFootprints(store, scenario.earlierFootprints, counter, 1);
    await ingestFootprints(store, scenario.footprints!, counter, 2);
  }
  else if (Object.keys(scenario.vci).length > 0) await publishMonth(store, '2026-10', scenario.vci);
  await approveRuleText(store, ruleYaml(scenario.rule, ruleId));
  await evaluateActivations(store, { ruleId, asOf: isEvent ? EVENT_AS_OF : AS_OF });
  const open = (await listActivations(store, { ruleId, status: 'open' })).filter((a) => a.stage === 'activation');
  const got: Expected = { activations: open.map((a) => ({ pcode: a.pcode, tier: a.tier })), lists: [] };
  if (open.length > 0) {
    try {
      const lists = await generateLists(store, open[0].id, 'oracle@test', { cycle: '2026-11' });
      got.lists = await Promise.all(lists.map(async (list) => {
        const stored = await readStoredList(store, list);
        return { ...stored, excluded: sortKeys(stored.excluded) };
      }));
    } catch (error) {
      if (!/has no paying response component/.test((error as Error).message)) throw error;
      got.lists = 'no paying component';
    }
  }
  return { got, want };
}

export function toOracleInput(scenario: Scenario): OracleInput {
  return { rule: scenario.rule, areas: ORACLE_AREAS, households: scenario.households, vci: scenario.vci, footprints: scenario.footprints && standingFootprints(scenario.footprints, scenario.earlierFootprints) };
}
