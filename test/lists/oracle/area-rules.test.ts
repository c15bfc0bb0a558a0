import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { loadOracleWorld } from '../../support/oracle-world.ts';
import { engineMatchesOracle, fcRuns } from './property.ts';
import { areaScenarioArb } from './scenario.ts';

/**
 * Area (indicator) rules: generated registries, VCI values and rules go through the engine's real
 * path (ingest, store and approve, evaluate, generate) and must give the oracle's list: the same
 * activations and tiers, households, amounts, ranks and left-out counts per reason.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadOracleWorld(t.store);
});
afterAll(() => t?.drop());

const runs = fcRuns();

describe('area rules: the engine gives the oracle\'s list', () => {
  it(`for ${runs} generated scenarios`, async () => {
    await engineMatchesOracle(t.store, areaScenarioArb, 'area', runs);
  }, 60 * 60_000);
});
