import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateActivations, listActivations } from '../src/engine/activations.ts';
import { runAsp, type CliResult } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { tempFile } from './support/files.ts';
import { projectRoot } from './support/paths.ts';
import { approveRuleText, publishMonth, vciTopUpRule } from './support/rules.ts';

// Every long command shows progress on stderr only: piped, by default nothing; with
// ASP_PROGRESS=plain whole lines; with ASP_PROGRESS=bar the bar (cli-progress, one line a redraw
// when not on a terminal). Whatever the mode, what the command prints on stdout is the same bytes.

// Each test runs the CLI three to seven times in child processes: minutes on a loaded machine.
const SEVERAL_RUNS = 400_000;

let t: TestDatabase;
let demo: CliResult;
beforeAll(async () => {
  t = await createTestDatabase();
  await t.store.close();
  demo = await asp('plain', ['demo', '--households', '300']);
  const store = await t.reopen();
  await approveRuleText(store, vciTopUpRule('progress-top-up'));
  await publishMonth(store, '2026-10', { XD01001: 5 });
  await evaluateActivations(store, { ruleId: 'progress-top-up' });
  await store.close();
}, SEVERAL_RUNS);
afterAll(() => t?.drop());

// Piped with no setting is `off` (the unit test of the helper covers ASP_PROGRESS=off).
const MODES = ['plain', 'bar'] as const;

type Mode = (typeof MODES)[number] | 'off';

const asp = (mode: Mode | undefined, args: string[]) => runAsp([...t.cliArgs, ...args], mode ? { ASP_PROGRESS: mode } : {});

/** Runs the command piped with no setting (stderr empty), then in each mode: stdout must be byte-identical. */
async function inEveryMode(args: string[]): Promise<Record<(typeof MODES)[number], CliResult>> {
  const piped = await asp(undefined, args);
  expect(piped.code, piped.stderr).toBe(0);
  expect(piped.stderr).toBe('');
  const results = {} as Record<(typeof MODES)[number], CliResult>;
  for (const mode of MODES) {
    results[mode] = await asp(mode, args);
    expect(results[mode].code, results[mode].stderr).toBe(0);
    expect(results[mode].stdout, mode).toBe(piped.stdout);
  }
  // Plain lines are for logs: no carriage returns or escape sequences.
  expect(results.plain.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
  return results;
}

describe('progress of long commands', () => {
  it('asp demo: a line per step (areas, registry, feeds, rules), the registry import counted', () => {
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/^areas level 1: 4\nareas level 2: 24\nhouseholds: 300 new, 0 updated; \d+ enrolments\n$/);
    const steps = demo.stderr.split('\n').filter((line) => /: done in \d/.test(line)).map((line) => line.replace(/: done in .*/, ''));
    expect(steps).toEqual([
      'areas demoland-adm1.geojson', 'areas demoland-adm2.geojson', 'registry: generating households', 'feeds: VCI-3M history', 'rules: approving the demo rules',
    ]);
    expect(demo.stderr).toMatch(/^registry: importing: ([\d.]+)\/\1 MiB \(100%\)$/m);
  });

  it('asp demo again: the same stdout in every mode', async () => {
    const again = await inEveryMode(['demo', '--households', '300']);
    expect(again.plain.stdout).toMatch(/households: 0 new, 0 updated/);
    expect(again.bar.stderr).toMatch(/registry: importing \|.*\| 100% /);
  }, SEVERAL_RUNS);

  it('asp registry import: bytes read', async () => {
    const file = await tempFile('progress-registry.csv', 'registry_id,admin_pcode,size,pmt_score,programmes\nP-1,XD01001,3,20,CT\nP-2,XD01002,5,9,\n');
    const first = await asp('plain', ['registry', 'import', file]);
    expect(first.stdout).toMatch(/2 rows, 2 households new/);
    // Imported again, unchanged: the same lines in every mode.
    const results = await inEveryMode(['registry', 'import', file]);
    expect(results.plain.stderr).toMatch(/^importing: ([\d.]+)\/\1 MiB \(100%\)$/m);
    expect(results.bar.stderr).toMatch(/importing \|.*\| 100% /);
  }, SEVERAL_RUNS);

  it('asp backtest: periods replayed', async () => {
    const results = await inEveryMode(['backtest', path.join(projectRoot, 'rules/demo/xd-ct-vci-drought.yaml'), '--from', '2016-01-01', '--to', '2026-10-31']);
    expect(results.plain.stderr).toMatch(/^backtest: 0\/130 periods \(0%\)$/m);
    expect(results.plain.stderr.trimEnd().split('\n').at(-1)).toBe('backtest: 130/130 periods (100%)');
    expect(results.bar.stderr).toContain('backtest |');
  }, SEVERAL_RUNS);

  let list: { id: number; entriesSha256: string; version: number; households: number };

  it('asp lists generate: the time it takes', async () => {
    const store = await t.reopen();
    const [activation] = await listActivations(store, { status: 'open', ruleId: 'progress-top-up' });
    await store.close();
    expect(activation).toBeDefined();
    const first = await asp('plain', ['--json', 'lists', 'generate', String(activation.id), '--by', 'generator@test']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^generating lists …\ngenerating lists: done in \d+\.\d s\n$/);
    // Regenerating a draft prints the same lines again (draft replaced) in every mode.
    const again = await inEveryMode(['lists', 'generate', String(activation.id), '--by', 'generator@test']);
    expect(again.bar.stderr).toContain('generating lists …');
    const [generated] = JSON.parse(first.stdout) as { id: number }[];
    list = JSON.parse((await asp(undefined, ['--json', 'lists', 'show', String(generated.id)])).stdout);
    expect(list.households).toBeGreaterThan(0);
  }, SEVERAL_RUNS);

  it('asp lists export --out: rows written; to stdout (redirected) too, the data byte-identical', async () => {
    const approved = await asp(undefined, ['lists', 'approve', String(list.id), '--sha256', list.entriesSha256, '--list-version', String(list.version), '--by', 'approver@test']);
    expect(approved.code, approved.stderr).toBe(0);
    const out = path.join(path.dirname(await tempFile('progress-export.keep', '')), 'progress-export.csv');
    const exported = await inEveryMode(['lists', 'export', String(list.id), '--format', 'csv', '--out', out, '--by', 'exporter@test']);
    const lastLine = `exporting csv: ${list.households}/${list.households} rows (100%)`;
    expect(exported.plain.stderr.trimEnd().split('\n').at(-1)).toBe(lastLine);
    expect(exported.bar.stderr).toContain('exporting csv |');
    const file = await readFile(out, 'utf8');
    expect(file.trim().split('\n')).toHaveLength(list.households + 1);
    const streamed = await inEveryMode(['lists', 'export', String(list.id), '--format', 'csv', '--by', 'exporter@test']);
    expect(streamed.plain.stdout).toBe(file);
    expect(streamed.plain.stderr.trimEnd().split('\n').at(-1)).toBe(lastLine);
  }, SEVERAL_RUNS);
});
