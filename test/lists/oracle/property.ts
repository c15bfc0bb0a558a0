import fc from 'fast-check';
import { expect } from 'vitest';
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

export async function assertProperty<T>(arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>, runs: number): Promise<void> {
  const started = Date.now();
  // FC_PATH replays one counterexample straight away (the path a failure prints).
  const path = process.env.FC_PATH;
  const details = await fc.check(fc.asyncProperty(arbitrary, check), { seed: FC_SEED, numRuns: runs, endOnFailure: false, ...(path ? { path } : {}) });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.info(`[oracle] ${runs} runs on ${testBackend()} in ${seconds} s (FC_SEED=${FC_SEED})`);
  if (details.failed) {
    const report = fc.defaultReportMessage(details) ?? 'failed';
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    expect.fail(`FC_SEED=${FC_SEED} FC_RUNS=${runs} (replay path ${details.counterexamplePath})\n${report}\n\nError: ${error}`);
  }
}
