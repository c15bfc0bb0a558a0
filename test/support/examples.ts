import path from 'node:path';
import { beforeAll, expect } from 'vitest';
import { loadRules } from '../../src/rules/load.ts';
import type { Rule } from '../../src/rules/schema.ts';
import { projectRoot } from './paths.ts';

/** The example rules (the fifteen of §6 and the further ones), loaded once per test file (call at the top level): `example(id)` gives one, `examples()` all. */
export function useExampleRules(): { example: (id: string) => Rule; examples: () => Rule[] } {
  const byId = new Map<string, Rule>();
  beforeAll(async () => {
    const { rules, problems } = await loadRules(path.join(projectRoot, 'rules/examples'));
    expect(problems).toEqual([]);
    for (const { rule } of rules) byId.set(rule.id, rule);
  });
  return {
    example(id: string): Rule {
      const rule = byId.get(id);
      if (!rule) throw new Error(`no example ${id}`);
      return rule;
    },
    examples: () => [...byId.values()],
  };
}
