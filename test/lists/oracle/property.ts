import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/db/store.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { loadOracleWorld } from '../../support/oracle-world.ts';
import { runScenario } from './engine-run.ts';
import { differences } from './oracle.ts';
import type { Scenario } from './scenario.ts';
import { testBackend } from '../../support/backend.ts';

/**
 * Seeded, reproducible property runs: FC_SEED (default fixed) and FC_RUNS (default 1,000 on the
 * server, 100 on the embedded back end, where each scenario costs more). A failure names the seed
 * and fast-check's replay path, so `FC_SEED=… FC_PATH=… npx vitest run test/lists/oracle` reproduces it.
 */
export const FC_SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 20_261_206;

export function fcRuns(serverDefault = 1000, embeddedDefault = 100): number {
  if (process.env.FC_RUNS !== undefined) return Number(process.env.FC_RUNS);
  return testBackend() === 'server' ? serverDefault : embeddedDefault;
}

export async function assertProperty<T>(arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>, runs: number, tag = 'oracle'): Promise<void> {
  const started = Date.now();
  // FC_PATH replays one counterexample straight away (the path a failure prints).
  const path = process.env.FC_PATH;
  const details = await fc.check(fc.asyncProperty(arbitrary, check), { seed: FC_SEED, numRuns: runs, endOnFailure: false, ...(path ? { path } : {}) });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.info(`[${tag}] ${runs} runs on ${testBackend()} in ${seconds} s (FC_SEED=${FC_SEED})`);
  if (details.failed) {
    const report = fc.defaultReportMessage(details) ?? 'failed';
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    expect.fail(`FC_SEED=${FC_SEED} FC_RUNS=${runs} (replay path ${details.counterexamplePath})\n${report}\n\nError: ${error}`);
  }
}

/**
 * The property both suites state: every generated scenario, run through the engine's real path,
 * gives the oracle's activations and lists. Over a whole run the generator must also reach the
 * cases that matter (activations, entries, budget cuts, caps, targets), or the property proves little.
 */
export async function engineMatchesOracle(store: Store, arbitrary: fc.Arbitrary<Scenario>, kind: string, runs: number): Promise<void> {
  const seen = { activated: 0, listed: 0, overBudget: 0, cap: 0, target: 0 };
  await assertProperty(arbitrary, async (scenario: Scenario) => {
    const { got, want } = await runScenario(store, scenario);
    const diff = differences(got, want);
    if (diff) throw new Error(diff);
    expect(got).toEqual(want);
    if (want.activations.length) seen.activated++;
    if (Array.isArray(want.lists)) {
      for (const list of want.lists) {
        if (list.entries.length) seen.listed++;
        if (list.excluded['over budget']) seen.overBudget++;
        if (list.excluded['beyond the per-area cap'] || list.excluded['beyond the overall cap']) seen.cap++;
        if (list.excluded['beyond the coverage target']) seen.target++;
      }
    }
  }, runs);
  console.info(`[oracle] ${kind} scenarios exercised:`, seen);
  // Measured over a whole run, not a replayed counterexample (FC_PATH).
  if (runs < 50 || process.env.FC_PATH) return;
  expect(seen.activated).toBeGreaterThan(runs / 3);
  expect(seen.listed).toBeGreaterThan(runs / 5);
  for (const key of ['overBudget', 'cap', 'target'] as const) expect(seen[key]).toBeGreaterThanOrEqual(Math.ceil(runs / 100));
}

/** A test file's property: its own database with the oracle's world, and `engineMatchesOracle` over `runs` scenarios. */
export function describeOracleProperty(kind: string, arbitrary: fc.Arbitrary<Scenario>): void {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await loadOracleWorld(t.store);
  });
  afterAll(() => t?.drop());
  const runs = fcRuns();
  describe(`${kind} rules: the engine gives the oracle's list`, () => {
    it(`for ${runs} generated scenarios`, async () => {
      await engineMatchesOracle(t.store, arbitrary, kind, runs);
    }, 60 * 60_000);
  });
}
