import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, formatProblem, loadRules, parseRuleText, ruleHash, type RuleProblem } from '../../src/rules/load.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/rules');
const EXAMPLES = path.resolve(import.meta.dirname, '../../rules/examples');
const SEVERE = path.join(EXAMPLES, 'ke-hsnp-vci-severe.yaml');

let scratch: string;
let severeText: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'asp-rules-'));
  severeText = await readFile(SEVERE, 'utf8');
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const summary = (problems: RuleProblem[]) => problems.map((p) => ({ file: path.basename(p.file), line: p.line, column: p.column, path: p.path }));

/** The HSNP severe example, changed by `mutate`, written back to YAML and checked. */
function checkMutated(mutate: (rule: any) => void): RuleProblem[] {
  const rule = parse(severeText);
  mutate(rule);
  return parseRuleText(stringify(rule), 'mutated.yaml').problems;
}

const indicator = (rule: any) => rule.stages.activation.when.indicator;

describe('asp rules check: every mistake at once, with its place', () => {
  it('reports all mistakes of a file, and a YAML error in a second file, with exact lines, columns and field paths', async () => {
    const { rules, problems } = await loadRules(path.join(FIXTURES, 'many-mistakes'));
    expect(rules).toEqual([]);
    expect(summary(problems)).toEqual([
      { file: 'bad-indent.yaml', line: 7, column: 3, path: '' },
      { file: 'many-mistakes.yaml', line: 8, column: 9, path: 'effective.from' },
      { file: 'many-mistakes.yaml', line: 27, column: 38, path: 'stages.activation.when.all[0].indicator.bands[1].min' },
      { file: 'many-mistakes.yaml', line: 28, column: 13, path: 'stages.activation.when.all[0].indicator' },
      { file: 'many-mistakes.yaml', line: 29, column: 11, path: 'stages.activation.when.all[1].not' },
      { file: 'many-mistakes.yaml', line: 33, column: 11, path: 'response[0].mode' },
      { file: 'many-mistakes.yaml', line: 35, column: 39, path: 'response[0].coverage.percent' },
      { file: 'many-mistakes.yaml', line: 36, column: 5, path: 'response[0].benefit.currency' },
    ]);
    const messages = problems.map((p) => p.message);
    expect(messages[0]).toMatch(/^not valid YAML: this line is indented further than the field above it/);
    expect(messages[1]).toBe('is not a real date (it is "2025-02-30")');
    expect(messages[2]).toBe('band "severe" (8 ≤ x < 20) overlaps band "extreme" (x < 10); bands are half-open, so it should start at 10');
    expect(messages[3]).toBe('unknown field "treshold" — did you mean "threshold"?');
    expect(messages[4]).toBe('"not" takes exactly one condition (it has 2); to negate several, put them in one "any" or "all" inside "not"');
    expect(messages[5]).toBe('must be one of: vertical, horizontal, design_tweak, piggyback (it is "horizontl") — did you mean "horizontal"?');
    expect(messages[6]).toBe('must be a number between 0 and 100, or one value per tier, written { by_tier: { severe: 50, extreme: 75 } } (it is "fifty")');
    expect(messages[7]).toBe('required field "currency" is missing');
  });

  it('formats a problem as file:line:column: path: message', () => {
    expect(formatProblem({ file: 'rules/a.yaml', line: 3, column: 7, path: 'areas.admin_level', message: 'must be a whole number between 0 and 6 (it is "two")' })).toBe(
      'rules/a.yaml:3:7: areas.admin_level: must be a whole number between 0 and 6 (it is "two")',
    );
    expect(formatProblem({ file: 'rules/a.yaml', line: 1, column: 1, path: '', message: 'the file is empty' })).toBe('rules/a.yaml:1:1: the file is empty');
  });

  it('loads a single file as well as a folder, and reports a path that does not exist instead of throwing', async () => {
    const single = await loadRules(SEVERE);
    expect(single.problems).toEqual([]);
    expect(single.rules.map((r) => r.rule.id)).toEqual(['ke-hsnp-vci-severe']);
    const missing = await loadRules(path.join(scratch, 'nowhere'));
    expect(missing.rules).toEqual([]);
    expect(missing.problems).toEqual([expect.objectContaining({ line: 1, column: 1, message: 'cannot read: no such file or folder' })]);
  });

  it('requires rule ids to be unique across files, pointing at the second one', async () => {
    const folder = path.join(scratch, 'duplicates');
    await mkdir(path.join(folder, 'sub'), { recursive: true });
    await writeFile(path.join(folder, 'a.yaml'), severeText);
    await writeFile(path.join(folder, 'sub', 'b.yml'), severeText);
    const { rules, problems } = await loadRules(folder);
    expect(rules.map((r) => path.basename(r.file))).toEqual(['a.yaml']);
    const idLine = severeText.split('\n').findIndex((l) => l.startsWith('id:')) + 1;
    expect(problems).toEqual([
      { file: path.join(folder, 'sub', 'b.yml'), line: idLine, column: 5, path: 'id', message: `rule id "ke-hsnp-vci-severe" is already used by ${path.join(folder, 'a.yaml')} (line ${idLine}); every rule needs its own id` },
    ]);
  });
});

describe('the content hash', () => {
  it('ignores comments, layout and key order but changes when a threshold changes', () => {
    const original = parseRuleText(severeText, 'a.yaml');
    expect(original.problems).toEqual([]);
    // Same rule: no comments, flow style everywhere, keys in reverse order.
    const data = parse(severeText);
    const reversed = Object.fromEntries(Object.entries(data).reverse());
    const reformatted = parseRuleText(stringify(reversed, { collectionStyle: 'flow', lineWidth: 0 }), 'b.yaml');
    expect(reformatted.problems).toEqual([]);
    expect(reformatted.hash).toBe(original.hash);
    // Severe band edge 20 → 21.
    const changed = parseRuleText(severeText.replace('{ name: severe, min: 10, max: 20 }', '{ name: severe, min: 10, max: 21 }').replace('{ name: moderate, min: 20,', '{ name: moderate, min: 21,'), 'c.yaml');
    expect(changed.problems).toEqual([]);
    expect(changed.hash).not.toBe(original.hash);
    expect(original.hash).toBe(ruleHash(original.rule!));
  });

  it('is the sha256 of a canonical JSON with sorted keys', () => {
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], e: undefined })).toBe('{"a":[{"c":"x","d":null}],"b":1}');
  });
});

describe('YAML mistakes', () => {
  const yamlProblems = (text: string) => parseRuleText(text, 'x.yaml').problems.map((p) => [p.line, p.column, p.message] as const);

  it('names a field written twice, tabs, several documents and a field indented too little', () => {
    expect(yamlProblems('id: a\ntitle: b\nid: c\n')).toEqual([[3, 1, expect.stringContaining('this field is written twice in the same place')]]);
    expect(yamlProblems('id: a\n\ttitle: b\n')).toEqual([[2, 1, expect.stringContaining('tabs are not allowed for indentation')]]);
    expect(yamlProblems('id: a\n---\nid: b\n')).toEqual([[2, 1, expect.stringContaining('put one rule per file')]]);
    expect(yamlProblems('id: a\nareas:\n  admin_level: 2\n within: [KE]\n')).toEqual([[4, 2, expect.stringContaining('the indentation is wrong here')]]);
  });

  it('says so when the file is empty or not a set of fields', () => {
    expect(yamlProblems('# only a comment\n')).toEqual([[1, 1, 'the file is empty; a rule starts with "id:", "title:", …']]);
    expect(yamlProblems('- id: a\n')).toEqual([[1, 1, 'the file must hold one rule written as fields ("id: …", "title: …", …)']]);
  });
});

describe('mistakes in plain words', () => {
  const messagesAt = (problems: RuleProblem[], at: string) => problems.filter((p) => p.path === at).map((p) => p.message);

  it('suggests the condition meant by a misspelt one, and refuses two conditions in one item', () => {
    let problems = checkMutated((r) => {
      r.stages.activation.when = { indicatr: indicator(r) };
    });
    expect(messagesAt(problems, 'stages.activation.when')).toEqual(['unknown field "indicatr" — did you mean "indicator"?']);

    problems = checkMutated((r) => {
      r.stages.activation.when = { all: [{ indicator: indicator(r) }], any: [{ indicator: indicator(r) }] };
    });
    expect(messagesAt(problems, 'stages.activation.when')).toContain('has "all" and "any" together; only one of them may be used here (write each as its own item)');

    problems = checkMutated((r) => {
      r.stages.activation.when = { threshold: 3 };
    });
    expect(messagesAt(problems, 'stages.activation.when')).toEqual([
      'unknown field "threshold"; one of these is expected here: all, any, not, k_of_n, indicator, event, declaration, gate, in_band',
    ]);
  });

  it('reports mistakes inside a condition it recognises, not the other forms', () => {
    const problems = checkMutated((r) => {
      r.response[0].households.eligibility = { feild: 'pmt_score', op: 'lte', value: 35 };
      indicator(r).spatial_unit = { admin_levl: 2 };
      r.areas.admin_level = 'two';
      r.response[0].benefit.amount = '2,700';
    });
    expect(messagesAt(problems, 'response[0].households.eligibility')).toEqual(['unknown field "feild" — did you mean "field"?']);
    expect(messagesAt(problems, 'stages.activation.when.indicator.spatial_unit')).toEqual(['unknown field "admin_levl" — did you mean "admin_level"?']);
    expect(messagesAt(problems, 'areas.admin_level')).toEqual(['must be a whole number between 0 and 6 (it is "two")']);
    expect(messagesAt(problems, 'response[0].benefit.amount')).toEqual(['must be a number of at least 0 (it is "2,700") — write numbers without thousands separators, e.g. 2700']);
  });

  it('lists the allowed fields when an unknown one resembles none, and says which benefit kinds exist', () => {
    const problems = checkMutated((r) => {
      r.budget.colour = 'blue';
      r.response[0].benefit = { kind: 'flatt', amount: 2700, currency: 'KES' };
    });
    expect(messagesAt(problems, 'budget')).toEqual(['unknown field "colour"; the fields allowed here are: envelope, sources, over_budget, pro_rata_by, allow_value_reduction']);
    expect(messagesAt(problems, 'response[0].benefit.kind')).toEqual([
      'must be one of: flat, per_member, share_of_base, share_of_reference, by_tier, by_class, none (it is "flatt") — did you mean "flat"?',
    ]);
  });
});

describe('checks across fields', () => {
  const cases: { name: string; mutate: (rule: any) => void; path: string; message: string }[] = [
    {
      name: 'effective.to before effective.from',
      mutate: (r) => (r.effective.to = '2024-01-01'),
      path: 'effective.to',
      message: 'must not be before effective.from (2024-07-01) (it is 2024-01-01)',
    },
    {
      name: 'bands out of order',
      mutate: (r) => (indicator(r).bands = [{ name: 'severe', min: 10, max: 20 }, { name: 'extreme', min: 0, max: 10 }]),
      path: 'stages.activation.when.indicator.bands[1].min',
      message: 'bands must be listed from the lowest values to the highest: "extreme" (0 ≤ x < 10) comes after "severe" (10 ≤ x < 20)',
    },
    {
      name: 'a band whose max is not above its min',
      mutate: (r) => (indicator(r).bands[1] = { name: 'severe', min: 20, max: 10 }),
      path: 'stages.activation.when.indicator.bands[1].max',
      message: 'must be greater than min (20) (it is 10)',
    },
    {
      name: 'an open max before the last band',
      mutate: (r) => (indicator(r).bands[1] = { name: 'severe', min: 10 }),
      path: 'stages.activation.when.indicator.bands[1]',
      message: 'only the last band may leave "max" open; "severe" would overlap the bands after it',
    },
    {
      name: 'a triggering band that does not exist',
      mutate: (r) => (indicator(r).triggering_bands = ['sever']),
      path: 'stages.activation.when.indicator.triggering_bands[0]',
      message: 'there is no band "sever" — did you mean "severe"?; the bands are: extreme, severe, moderate, normal',
    },
    {
      name: 'threshold and bands together',
      mutate: (r) => (indicator(r).threshold = { op: 'lt', value: 20 }),
      path: 'stages.activation.when.indicator.threshold',
      message: 'cannot be used together with "bands"; an indicator condition has exactly one of threshold, bands or probability',
    },
    {
      name: 'forecast lead times on final figures',
      mutate: (r) => (indicator(r).forecast = { max_lead_days: 5 }),
      path: 'stages.activation.when.indicator.forecast',
      message: 'gives forecast lead times, but "status" is final (the default); set status: forecast or any',
    },
    {
      name: 'forecast issues chosen on a trigger that also takes final figures',
      mutate: (r) => Object.assign(indicator(r), { status: 'any', forecast: { issued_in_months: [8, 9] } }),
      path: 'stages.activation.when.indicator.forecast.issued_in_months',
      message: 'chooses which forecast periods or issues count, so "status" must be forecast, not any',
    },
    {
      name: 'issue months and successive issues together',
      mutate: (r) => Object.assign(indicator(r), { status: 'forecast', forecast: { issued_in_months: [8], successive_issues: 2 } }),
      path: 'stages.activation.when.indicator.forecast.successive_issues',
      message: 'cannot be used together with "issued_in_months"; say which issues count in one way',
    },
    {
      name: 'an issue month listed twice',
      mutate: (r) => Object.assign(indicator(r), { status: 'forecast', forecast: { issued_in_months: [8, 9, 8] } }),
      path: 'stages.activation.when.indicator.forecast.issued_in_months[2]',
      message: 'month 8 is listed twice',
    },
    {
      name: 'issue months with persistence',
      mutate: (r) => Object.assign(indicator(r), { status: 'forecast', forecast: { issued_in_months: [8] }, persistence: { periods: 2 } }),
      path: 'stages.activation.when.indicator.persistence',
      message: 'cannot be used with issued_in_months or successive_issues: those test several issues of one period, persistence several periods; use one or the other',
    },
    {
      name: 'end_of_season with a window',
      mutate: (r) => (indicator(r).aggregation = { method: 'end_of_season', window: { count: 3, unit: 'months' } }),
      path: 'stages.activation.when.indicator.aggregation.window',
      message: "end_of_season takes the value of the period in which the season ends, from the area's season calendar; it has no window",
    },
    {
      name: 'a season named for another method',
      mutate: (r) => (indicator(r).aggregation = { method: 'mean', window: { count: 3, unit: 'months' }, season: 'main' }),
      path: 'stages.activation.when.indicator.aggregation.season',
      message: 'names a season, which only method end_of_season reads (the method is mean)',
    },
    {
      name: 'an indicator read finer than the areas',
      mutate: (r) => (indicator(r).spatial_unit = { admin_level: 3 }),
      path: 'stages.activation.when.indicator.spatial_unit.admin_level',
      message: 'reads the indicator at admin level 3, finer than the areas the rule decides for (level 2); read it at level 2 or coarser',
    },
    {
      name: 'a tier pointing at an unknown trigger',
      mutate: (r) => (r.tiers[0].when = { in_band: { trigger: 'vcci', bands: ['severe'] } }),
      path: 'tiers[0].when.in_band.trigger',
      message: 'there is no trigger with id "vcci" — did you mean "vci"?; give the indicator an "id" to refer to its bands',
    },
    {
      name: 'a tier pointing at an unknown band',
      mutate: (r) => (r.tiers[0].when = { in_band: { trigger: 'vci', bands: ['extrem'] } }),
      path: 'tiers[0].when.in_band.bands[0]',
      message: 'trigger "vci" has no band "extrem" — did you mean "extreme"?; its bands are: extreme, severe, moderate, normal',
    },
    {
      name: 'coverage by tier missing a tier',
      mutate: (r) => {
        r.tiers.push({ id: 'extreme', severity: 2, when: { in_band: { trigger: 'vci', bands: ['extreme'] } } });
        r.response[0].coverage.percent = { by_tier: { severe: 50 } };
      },
      path: 'response[0].coverage.percent.by_tier',
      message: 'has no value for tier "extreme"',
    },
    {
      name: 'two tiers with the same severity',
      mutate: (r) => r.tiers.push({ id: 'extreme', severity: 1, when: { in_band: { trigger: 'vci', bands: ['extreme'] } } }),
      path: 'tiers[1].severity',
      message: 'severity 1 is also given to tier "severe"; each tier needs its own severity',
    },
    {
      name: 'k of n asking for more conditions than listed',
      mutate: (r) => (r.stages.activation.when = { k_of_n: { k: 3, of: [{ indicator: indicator(r) }, { gate: { kind: 'coordinator_confirmation', by: 'NDMA', description: 'x' } }] } }),
      path: 'stages.activation.when.k_of_n.k',
      message: 'asks for 3 conditions but only 2 are listed in "of"',
    },
    {
      name: 'a coverage target above the cap',
      mutate: (r) => (r.response[0].caps = { per_area: { percent_of_registered: 40 } }),
      path: 'response[0].coverage.percent',
      message: 'the coverage target (50 %) is above the cap per area (40 % of registered households)',
    },
    {
      name: 'a horizontal response without a coverage target',
      mutate: (r) => delete r.response[0].coverage,
      path: 'response[0]',
      message: 'a horizontal response enrols more households, so it needs a coverage target ("coverage")',
    },
    {
      name: 'a vertical response not limited to current beneficiaries',
      mutate: (r) => (r.response[0].mode = 'vertical'),
      path: 'response[0].households',
      message: 'a vertical response tops up current beneficiaries: households.eligibility must include an "enrolled_in" condition',
    },
    {
      name: 'two start dates for the payments',
      mutate: (r) => (r.response[0].payments.start = { days_after_activation: 28, next_month: 3 }),
      path: 'response[0].payments.start.next_month',
      message: 'cannot be used together with "days_after_activation"; give only one of days_after_activation, next_month, with_next_regular_payment',
    },
    {
      name: 'a value with exists',
      mutate: (r) => (r.response[0].households.eligibility = { field: 'payment_account', op: 'exists', value: 'yes' }),
      path: 'response[0].households.eligibility.value',
      message: '"exists" takes no value; remove "value"',
    },
    {
      name: 'a number comparison with text',
      mutate: (r) => (r.response[0].households.eligibility = { field: 'pmt_score', op: 'lte', value: 'low' }),
      path: 'response[0].households.eligibility.value',
      message: '"lte" compares numbers, so value must be a number (it is "low")',
    },
    {
      name: 'reducing the value without saying so',
      mutate: (r) => (r.budget.over_budget = ['reduce_value_pro_rata']),
      path: 'budget.over_budget[0]',
      message: 'reduces the value per household, which the rule must allow explicitly with allow_value_reduction: true',
    },
    {
      name: 'a budget in another currency',
      mutate: (r) => (r.budget.envelope.currency = 'USD'),
      path: 'budget.envelope.currency',
      message: 'is USD but benefits are paid in KES (response[0].benefit.currency); use one currency',
    },
    {
      name: 'a rule that pays without a budget',
      mutate: (r) => delete r.budget,
      path: 'budget',
      message: 'required field "budget" is missing: a rule that pays money needs a budget envelope and an over-budget policy',
    },
    {
      name: 'an overlap naming two things',
      mutate: (r) => (r.overlap[0].with = { programme: 'HSNP', list: 'WFP' }),
      path: 'overlap[0].with.list',
      message: 'cannot be used together with "programme"; give only one of programme, rule, list',
    },
    {
      name: 'a version written in the file',
      mutate: (r) => (r.version = 3),
      path: '',
      message: 'unknown field "version": a rule file carries no version; the engine versions each rule by a fingerprint of its content',
    },
    {
      name: 'a cool-down in days and periods',
      mutate: (r) => (r.cool_down = { days: 30, periods: 1 }),
      path: 'cool_down.periods',
      message: 'cannot be used together with "days"; give only one of days, periods',
    },
  ];

  it.each(cases)('$name', ({ mutate, path: at, message }) => {
    const problems = checkMutated(mutate);
    expect(problems.filter((p) => p.path === at).map((p) => p.message)).toContain(message);
  });

  it('reports a cross-field mistake at its line', () => {
    const text = severeText.replace('{ name: severe, min: 10, max: 20 }', '{ name: severe, min: 9, max: 20 }');
    const line = text.split('\n').findIndex((l) => l.includes('{ name: severe, min: 9, max: 20 }')) + 1;
    const { problems } = parseRuleText(text, 'x.yaml');
    expect(problems).toEqual([expect.objectContaining({ line, path: 'stages.activation.when.indicator.bands[1].min' })]);
  });
});
