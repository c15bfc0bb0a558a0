import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRuleText } from '../../src/rules/load.ts';
import { runAsp, runAspOn } from '../support/cli.ts';
import { createTestDatabase } from '../support/db.ts';
import { projectRoot } from '../support/paths.ts';
import { tempFile } from '../support/files.ts';
import { yamlAliasBomb, yamlDeepFlow } from '../support/hostile-yaml.ts';

// Issue 11, defect 8: rule files written to hurt the reader get a clear problem, never a crash.

describe('a hostile rule file is a problem with its place, never a crash', () => {
  it('an alias bomb ("billion laughs") is refused at its first alias, at once', () => {
    const text = `id: bomb\ntitle: laughs\n${yamlAliasBomb()}\n`;
    const started = Date.now();
    const { problems, rule } = parseRuleText(text, 'bomb.yaml');
    expect(rule).toBeUndefined();
    expect(problems).toEqual([
      expect.objectContaining({ line: 4, column: 10, message: expect.stringMatching(/aliases \(\*name\) expand past 100 copies, as an alias bomb/) }),
    ]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('`asp rules check` on an alias bomb prints file:line:column and exits 2, without a stack trace', async () => {
    const file = await tempFile('laughs.yaml', `id: bomb\n${yamlAliasBomb()}\n`);
    const result = await runAsp(['rules', 'check', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/laughs\.yaml:3:\d+: not a usable rule: its YAML aliases/);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
  });

  it('nesting thousands of levels deep is "nested too deeply", with the line', () => {
    const { problems } = parseRuleText(`id: deep\nareas: ${yamlDeepFlow(5000)}\n`, 'deep.yaml');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ line: 2, message: expect.stringMatching(/nested too deeply to read/) });
  });

  it('nesting that YAML reads but no rule has is refused before the checks walk it', () => {
    const { problems } = parseRuleText(`id: deep\nareas: ${yamlDeepFlow(300)}\n`, 'deep.yaml');
    expect(problems).toEqual([expect.objectContaining({ message: expect.stringMatching(/nested more than 32 levels deep/) })]);
  });

  it('a NUL in a rule (YAML writes it "\\0") is a problem at its line; `asp rules load` exits 2 and stores nothing', async () => {
    const severe = await readFile(path.join(projectRoot, 'rules/examples/ke-hsnp-vci-severe.yaml'), 'utf8');
    const text = severe.replace(/^title: (.*)$/m, 'title: "$1 \\0 x"');
    const titleLine = text.split('\n').findIndex((l) => l.startsWith('title:')) + 1;
    expect(parseRuleText(text, 'nul.yaml').problems).toEqual([
      expect.objectContaining({ line: titleLine, path: 'title', message: expect.stringMatching(/contains a NUL character/) }),
    ]);
    const t = await createTestDatabase();
    try {
      const result = await runAspOn(t, ['rules', 'load', await tempFile('ke-nul.yaml', text), '--by', 'author@test']);
      expect(result.code).toBe(2);
      expect(result.stdout + result.stderr).toMatch(new RegExp(`ke-nul\\.yaml:${titleLine}:\\d+: .*contains a NUL character`));
      expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
      expect(await t.store.db.selectFrom('rule_versions').select('id').execute()).toEqual([]);
    } finally {
      await t.drop();
    }
  });
});
