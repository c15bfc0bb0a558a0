import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ruleJsonSchema } from '../../src/rules/json-schema.ts';
import { describeValue, didYouMean, editDistance, withValue } from '../../src/rules/messages.ts';
import { benefitSchema, householdConditionSchema, isRealDate, ruleSchema, triggerConditionSchema } from '../../src/rules/schema.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '../../rules/examples');

/** The smallest rule the format accepts. */
const minimalRule = () => ({
  id: 'xx-minimal',
  title: 'Minimal',
  country: 'KEN',
  programme: 'HSNP',
  owner: 'NDMA',
  effective: { from: '2025-01-01' },
  agreed_text: 'Pay KES 1,000 once where VCI-3M < 10.',
  areas: { admin_level: 2, within: ['KE023'] },
  stages: {
    activation: {
      when: {
        indicator: {
          name: 'vci3m',
          source: 'NDMA',
          version: 'any',
          unit: 'VCI',
          spatial_unit: { admin_level: 2 },
          period: 'monthly',
          bands: [{ name: 'extreme', max: 10 }],
        },
      },
    },
  },
  response: [
    {
      mode: 'horizontal',
      households: {},
      coverage: { kind: 'all_eligible' },
      benefit: { kind: 'flat', amount: 1000, currency: 'KES' },
      payments: { frequency: 'once', count: 1, start: { days_after_activation: 7 } },
    },
  ],
  budget: { envelope: { amount: 1e6, currency: 'KES', per: 'shock' }, over_budget: ['stop_when_exhausted'] },
});

describe('the rule schema', () => {
  it('accepts a minimal rule and fills in the documented defaults', () => {
    const rule = ruleSchema.parse(minimalRule());
    const when = rule.stages.activation.when;
    expect('indicator' in when && when.indicator).toMatchObject({ status: 'final', band_edges: 'min_inclusive' });
    expect(rule.response[0].households.frozen_list).toBe(false);
    expect(rule.budget?.allow_value_reduction).toBe(false);
  });

  it('rejects unknown fields everywhere (strict objects)', () => {
    for (const change of [
      (r: any) => (r.treshold = 1),
      (r: any) => (r.areas.level = 2),
      (r: any) => (r.stages.activation.when.indicator.treshold = 1),
      (r: any) => (r.response[0].benefit.per = 'household'),
      (r: any) => (r.budget.envelope.note = 'x'),
    ]) {
      const rule = minimalRule();
      change(rule);
      const result = ruleSchema.safeParse(rule);
      expect(result.success).toBe(false);
    }
  });

  it('takes every kind of trigger condition, composed with all / any / not / k_of_n', () => {
    const indicator = minimalRule().stages.activation.when;
    const gate = { gate: { kind: 'coordinator_confirmation', by: 'NDMA', description: 'confirmed' } };
    const event = { event: { source: 'usgs', hazard: 'earthquake', footprint: { class: 'mmi', min_value: 6 }, buffer_km: 10 } };
    const declaration = { declaration: { kinds: ['state_of_calamity'], hazards: ['flood'] } };
    const tree = {
      all: [
        indicator,
        { any: [event, declaration] },
        { not: gate },
        { k_of_n: { k: 2, of: [indicator, event, declaration] } },
        { in_band: { trigger: 'vci', bands: ['extreme'] } },
      ],
    };
    expect(triggerConditionSchema.safeParse(tree).success).toBe(true);
    expect(triggerConditionSchema.safeParse({ not: [gate, gate] }).success).toBe(false);
    expect(triggerConditionSchema.safeParse({ all: [indicator], any: [indicator] }).success).toBe(false);
    expect(triggerConditionSchema.safeParse({ event: { ...event.event, min_alert_level: 'purple' } }).success).toBe(false);
  });

  it('takes household conditions on fields, attributes, enrolment and percentiles, but no expressions', () => {
    const condition = {
      all: [
        { field: 'pmt_score', op: 'lte', value: 35 },
        { attribute: 'disability', op: 'eq', value: 'yes' },
        { any: [{ enrolled_in: ['CT'] }, { not: { attribute: 'foster_family', op: 'exists' } }] },
        { percentile: { field: 'pmt_score', within_admin_level: 3, op: 'lte', value: 40 } },
      ],
    };
    const parsed = householdConditionSchema.parse(condition) as any;
    expect(parsed.all[2].any[0]).toEqual({ enrolled_in: ['CT'], status: 'active' });
    expect(householdConditionSchema.safeParse({ expression: 'pmt_score <= 35' }).success).toBe(false);
    expect(householdConditionSchema.safeParse({ field: 'income', op: 'lte', value: 35 }).success).toBe(false);
  });

  it('has one benefit formula per kind', () => {
    const formulas = [
      { kind: 'flat', amount: 2700, currency: 'KES' },
      { kind: 'per_member', amount: 450, currency: 'MRU' },
      { kind: 'per_member', base: 240, amount: 135, count_of: { attribute: 'children' }, max_amount: 645, currency: 'XCD' },
      { kind: 'share_of_base', percent: 100, currency: 'ETB' },
      { kind: 'share_of_reference', percent: 75, currency: 'PHP', reference: { label: 'daily minimum wage', amount: 443 }, times: { count: 30, unit: 'days' } },
      { kind: 'by_tier', currency: 'KES', amounts: { severe: 2700, extreme: 2700 } },
      { kind: 'by_class', currency: 'PHP', attribute: 'house_damage', amounts: { totally_damaged: 10000 } },
      { kind: 'none' },
    ];
    for (const formula of formulas) expect(benefitSchema.safeParse(formula).success, JSON.stringify(formula)).toBe(true);
    expect(benefitSchema.safeParse({ kind: 'flat', amount: 2700 }).success).toBe(false); // no currency
    expect(benefitSchema.safeParse({ kind: 'flat', amount: -1, currency: 'KES' }).success).toBe(false);
    expect(benefitSchema.safeParse({ kind: 'formula', expression: '2700 * size', currency: 'KES' }).success).toBe(false);
  });

  it('checks dates are real days', () => {
    expect(isRealDate('2024-02-29')).toBe(true);
    expect(isRealDate('2025-02-29')).toBe(false);
    expect(isRealDate('2025-13-01')).toBe(false);
    expect(isRealDate('1 May 2025')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// A small JSON Schema (2020-12) validator for the keywords the derived schema uses; ajv is not a
// dependency of the project. Unknown keywords fail the test, so the validator cannot silently
// skip something the schema relies on.
// ---------------------------------------------------------------------------------------------

const KNOWN_KEYWORDS = new Set([
  '$schema', '$id', '$defs', '$ref', 'title', 'description', 'default', 'type', 'enum', 'const', 'properties', 'required',
  'additionalProperties', 'propertyNames', 'items', 'prefixItems', 'minItems', 'maxItems', 'minLength', 'maxLength',
  'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'anyOf', 'oneOf', 'allOf',
]);

function validate(schema: any, value: unknown, root: any, at = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${at}: not allowed`];
  for (const key of Object.keys(schema)) if (!KNOWN_KEYWORDS.has(key)) throw new Error(`validator does not know keyword ${key}`);
  const errors: string[] = [];
  if (schema.$ref) {
    const target = schema.$ref === '#' ? root : schema.$ref.replace(/^#\//, '').split('/').reduce((node: any, part: string) => node[part], root);
    errors.push(...validate(target, value, root, at));
  }
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const ok = types.some((t: string) => t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && actual === 'number'));
    if (!ok) return [...errors, `${at}: expected ${types.join('|')}, got ${actual}`];
  }
  if (schema.enum && !schema.enum.some((v: unknown) => v === value)) errors.push(`${at}: not in enum`);
  if ('const' in schema && schema.const !== value) errors.push(`${at}: not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: too long`);
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above maximum`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) errors.push(`${at}: not above exclusiveMinimum`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) errors.push(`${at}: not below exclusiveMaximum`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: too many items`);
    const prefix: any[] = schema.prefixItems ?? [];
    value.forEach((item, i) => {
      if (i < prefix.length) errors.push(...validate(prefix[i], item, root, `${at}[${i}]`));
      else if (schema.items !== undefined) errors.push(...validate(schema.items, item, root, `${at}[${i}]`));
    });
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) errors.push(`${at}.${key}: required`);
    for (const [key, item] of Object.entries(record)) {
      if (schema.propertyNames) errors.push(...validate(schema.propertyNames, key, root, `${at}.${key} (name)`));
      if (schema.properties && key in schema.properties) errors.push(...validate(schema.properties[key], item, root, `${at}.${key}`));
      else if (schema.additionalProperties !== undefined) errors.push(...validate(schema.additionalProperties, item, root, `${at}.${key}`));
    }
  }
  if (schema.allOf) for (const part of schema.allOf) errors.push(...validate(part, value, root, at));
  if (schema.anyOf && !schema.anyOf.some((option: any) => validate(option, value, root, at).length === 0)) errors.push(`${at}: matches no anyOf option`);
  if (schema.oneOf && schema.oneOf.filter((option: any) => validate(option, value, root, at).length === 0).length !== 1) errors.push(`${at}: does not match exactly one oneOf option`);
  return errors;
}

describe('the JSON Schema for editors', () => {
  let schema: any;
  let examples: { file: string; data: any }[];

  beforeAll(async () => {
    schema = ruleJsonSchema();
    const files = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yaml'));
    examples = await Promise.all(files.map(async (file) => ({ file, data: parse(await readFile(path.join(EXAMPLES, file), 'utf8')) })));
  });

  it('is derived from the zod schema, with named recursive conditions and strict objects', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.title).toBe('asp-engine shock rule');
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['id', 'title', 'country', 'programme', 'owner', 'effective', 'agreed_text', 'areas', 'stages', 'response']));
    expect(Object.keys(schema.$defs)).toEqual(expect.arrayContaining(['TriggerCondition', 'HouseholdCondition']));
    expect(schema.properties.stages.properties.activation.properties.when).toEqual({ $ref: '#/$defs/TriggerCondition' });
    expect(schema.properties.id.description).toMatch(/kebab-case/);
    expect(JSON.stringify(schema)).not.toContain('__schema');
    expect(() => JSON.parse(JSON.stringify(schema))).not.toThrow();
  });

  it('accepts all nineteen examples (the fifteen of §6, forecast issues by month, end of season, two BISP payment rules)', () => {
    expect(examples).toHaveLength(19);
    for (const { file, data } of examples) expect(validate(schema, data, schema), file).toEqual([]);
  });

  it('refuses what the zod schema refuses: unknown fields, wrong types, bad enums, bad dates', () => {
    const base = examples.find((e) => e.file === 'ke-hsnp-vci-severe.yaml')!.data;
    const broken = [
      (r: any) => (r.stages.activation.when.indicator.treshold = { op: 'lt', value: 20 }),
      (r: any) => (r.response[0].coverage.percent = 'fifty'),
      (r: any) => (r.response[0].mode = 'horizontl'),
      (r: any) => (r.effective.from = '1 July 2024'),
      (r: any) => delete r.response[0].benefit.currency,
      (r: any) => (r.stages.activation.when = { not: [{ gate: { kind: 'declaration', by: 'x', description: 'y' } }] }),
    ];
    for (const change of broken) {
      const rule = structuredClone(base);
      change(rule);
      expect(validate(schema, rule, schema).length, change.toString()).toBeGreaterThan(0);
      expect(ruleSchema.safeParse(rule).success).toBe(false);
    }
  });
});

describe('plain words', () => {
  it('finds the word that was meant', () => {
    expect(editDistance('treshold', 'threshold')).toBe(1);
    expect(editDistance('feild', 'field')).toBe(1);
    expect(didYouMean('treshold', ['threshold', 'bands'])).toBe('threshold');
    expect(didYouMean('Admin-Level', ['admin_level', 'station'])).toBe('admin_level');
    expect(didYouMean('colour', ['envelope', 'sources'])).toBeUndefined();
  });

  it('reads values back as a person would', () => {
    expect(describeValue('abc')).toBe('"abc"');
    expect(describeValue(null)).toBe('empty');
    expect(describeValue([1, 2])).toBe('a list of 2 items');
    expect(describeValue({ a: 1 })).toBe('a set of fields (a)');
    expect(withValue('must be a number', '2,700', true)).toBe('must be a number (it is "2,700") — write numbers without thousands separators, e.g. 2700');
    expect(withValue('must be a number between 0 and 100', '50%', true)).toBe('must be a number between 0 and 100 (it is "50%") — write the number without the % sign');
  });
});
