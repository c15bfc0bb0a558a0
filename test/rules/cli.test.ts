import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsp } from '../support/cli.ts';
import { projectRoot } from '../support/paths.ts';

describe('asp rules check / schema', () => {
  it('accepts the shipped rules, with their hashes', async () => {
    const result = await runAsp(['--json', 'rules', 'check']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { rules: { id: string; hash: string }[]; problems: unknown[] };
    expect(report.problems).toEqual([]);
    expect(report.rules).toHaveLength(20); // nineteen examples and the Demoland demo rule
    expect(report.rules.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
  });

  it('prints every problem of several files with file:line:column and exits 2', async () => {
    const folder = path.join(projectRoot, 'test/fixtures/rules/many-mistakes');
    const result = await runAsp(['rules', 'check', folder]);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/bad-indent\.yaml:7:3: not valid YAML/);
    expect(result.stdout).toMatch(/many-mistakes\.yaml:28:13: .*unknown field "treshold" — did you mean "threshold"\?/);
    expect(result.stdout).toMatch(/many-mistakes\.yaml:29:11: .*"not" takes exactly one condition/);
    expect(result.stdout).toMatch(/0 rule\(s\) valid, 8 problem\(s\)/);
  });

  it('prints the JSON Schema for editors', async () => {
    const result = await runAsp(['rules', 'schema']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' });
  });
});
