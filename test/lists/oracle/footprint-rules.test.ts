import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { loadOracleWorld } from '../../support/oracle-world.ts';
import { engineMatchesOracle, fcRuns } from './property.ts';
import { footprintScenarioArb } from './scenario.ts';

/**
 * Footprint (event) rules, with the target semantics of issue 10: generated GDACS footprints
 * (rectangles, polygons with holes, triangles, multipolygons, zero-area polygons, points, lines;
 * classes the rule selects and others) and registries with points on the footprints' vertices and
 * edges go through the engine's real path (ingest, store and approve, evaluate, generate) and must
 * give the oracle's activations and list. A case the engine got wrong stays in regressions.test.ts.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadOracleWorld(t.store);
});
afterAll(() => t?.drop());

const runs = fcRuns();

describe('footprint rules: the engine gives the oracle\'s list', () => {
  it(`for ${runs} generated scenarios`, async () => {
    await engineMatchesOracle(t.store, footprintScenarioArb, 'footprint', runs);
  }, 60 * 60_000);
});
