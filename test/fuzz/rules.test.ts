import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRuleText } from '../../src/rules/load.ts';
import { projectRoot } from '../support/paths.ts';
import { assertProperty, FC_SEED, fcRuns } from '../lists/oracle/property.ts';
import { mutate, mutationArbitrary, Outcomes } from './mutate.ts';

/**
 * Issue 11, item 10: the shipped example rules, mutated (byte flips, cuts, NUL, nesting thousands
 * deep, hostile numbers, a year 0000, alias bombs), through the rule loader. Whatever the text:
 * a valid rule with its hash, or problems each with a line, a column and words; never an
 * exception, never a long wait. Seeded: FC_SEED / FC_RUNS.
 */

const EXAMPLES = path.join(projectRoot, 'rules/examples');
const rules = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ name: f, bytes: readFileSync(path.join(EXAMPLES, f)) }));

describe('fuzz: mutated rule files through the loader', () => {
  it('a rule or problems with their place, never a crash', async () => {
    const outcomes = new Outcomes();
    const runs = fcRuns(150, 100);
    await assertProperty(fc.tuple(fc.constantFrom(...rules), mutationArbitrary), async ([rule, mutation]) => {
      const text = mutate(rule.bytes, mutation, 'yaml').toString('utf8');
      const started = Date.now();
      const result = parseRuleText(text, rule.name);
      expect(Date.now() - started, 'read in under 5 s').toBeLessThan(5000);
      if (result.problems.length === 0) {
        expect(result.hash).toMatch(/^[0-9a-f]{64}$/);
        return outcomes.add('a valid rule');
      }
      for (const problem of result.problems) {
        expect(problem.line).toBeGreaterThanOrEqual(1);
        expect(problem.column).toBeGreaterThanOrEqual(1);
        expect(problem.message.length).toBeGreaterThan(0);
        expect(problem.message).not.toMatch(/\n\s+at /);
      }
      outcomes.add(result.problems.some((p) => /alias/.test(p.message)) ? 'refused: alias bomb' : /nested/.test(result.problems[0].message) ? 'refused: nesting' : 'problems with line and column');
    }, runs, 'fuzz rules');
    console.info(`[fuzz rules] ${runs} cases (FC_SEED=${FC_SEED}): ${outcomes}`);
    expect(outcomes.counts.get('refused: alias bomb')).toBeGreaterThan(0);
  }, 300_000);
});
