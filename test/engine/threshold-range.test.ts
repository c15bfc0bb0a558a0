import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { thresholdsOutsideRange } from '../../src/engine/rule-data-check.ts';
import { loadIndicatorCatalogue } from '../../src/feeds/indicator-catalogue.ts';
import { parseRuleText } from '../../src/rules/load.ts';
import { vciTopUpRule } from '../support/rules.ts';

const EXAMPLES = new URL('../../rules/examples/', import.meta.url);
const ruleOf = (text: string) => {
  const { rule, problems } = parseRuleText(text, 'rule.yaml');
  expect(problems).toEqual([]);
  return rule!;
};

describe('a threshold no plausible value can cross is named before the rule is approved', () => {
  it('a percentage threshold (10) on the 0–1 IPC share: the condition could never hold', async () => {
    const shipped = readFileSync(new URL('mw-lean-season-ipc.yaml', EXAMPLES), 'utf8');
    const onShare = shipped.replaceAll('ipc_p3plus_percent', 'ipc_p3plus_share');
    expect(thresholdsOutsideRange(ruleOf(onShare), await loadIndicatorCatalogue())).toEqual([
      expect.stringMatching(/^the threshold gte 10 on ipc_p3plus_share is outside its plausible values 0\.\.1 .*indicator catalogue.*check the unit$/),
    ]);
  });

  it("VCI: a threshold past the catalogue's 0..100, or past the range the rule's unit states", async () => {
    const catalogue = await loadIndicatorCatalogue();
    const base = vciTopUpRule('vci-range');
    expect(base).toContain('threshold: { op: lt, value: 20 }');
    expect(thresholdsOutsideRange(ruleOf(base), catalogue)).toEqual([]);
    expect(thresholdsOutsideRange(ruleOf(base.replace('value: 20 }', 'value: 120 }')), catalogue)).toEqual([
      expect.stringMatching(/^the threshold lt 120 on vci3m is outside its plausible values 0\.\.100 .*indicator catalogue/),
    ]);
    const stated = base.replace('unit: VCI,', 'unit: VCI (0-15),');
    expect(thresholdsOutsideRange(ruleOf(stated), catalogue)).toEqual([expect.stringMatching(/lt 20 on vci3m .*0\.\.15.*the rule's range/)]);
  });

  it('every shipped example rule is consistent with the catalogue and its own units', async () => {
    const catalogue = await loadIndicatorCatalogue();
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      expect(thresholdsOutsideRange(ruleOf(readFileSync(new URL(file, EXAMPLES), 'utf8')), catalogue), file).toEqual([]);
    }
  });
});
