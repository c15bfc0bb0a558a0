import fc from 'fast-check';
import YAML from 'yaml';
import type { Budget, Coverage, HouseholdCondition, ResponseComponent, Rule } from '../../../src/rules/schema.ts';
import { ORACLE_AREAS, ORACLE_DISTRICTS, type OracleHousehold } from '../../support/oracle-world.ts';
import { avoidKnownDefects } from './known-defects.ts';
import type { FootprintShape } from './oracle.ts';

/**
 * Scenarios for the oracle's property tests: a registry over the fixed world of
 * test/support/oracle-world.ts, indicator values or an event's footprints, and a rule. A scenario
 * prints itself as the rule's YAML and a table of households, so a counterexample can be replayed
 * by hand (or pasted into a regression test).
 */
export interface Scenario {
  rule: Rule;
  households: OracleHousehold[];
  vci: Record<string, number>;
  footprints?: FootprintShape[];
  /** An earlier episode's footprints: the classes the current episode does not carry still count. */
  earlierFootprints?: FootprintShape[];
}

/** The rule's id is given when the scenario runs (each run needs its own). */
export function ruleYaml(rule: Rule, id: string): string {
  return YAML.stringify({ ...rule, id }, { lineWidth: 0 });
}

export function describeScenario(s: Scenario): string {
  const rows = s.households.map((h) =>
    `  ${h.id.padEnd(6)} ${h.pcode.padEnd(11)} size=${String(h.size).padEnd(4)} pmt=${String(h.pmt).padEnd(4)} loc=${h.location ? `[${h.location.join(', ')}]` : 'none'} attrs=${JSON.stringify(h.attributes)} enrol=${JSON.stringify(h.enrolments)}`,
  );
  return [
    `vci: ${JSON.stringify(s.vci)}`,
    ...(s.footprints ? [`footprints: ${JSON.stringify(s.footprints)}`] : []),
    ...(s.earlierFootprints ? [`earlier episode's footprints: ${JSON.stringify(s.earlierFootprints)}`] : []),
    `households (${s.households.length}):`, ...rows,
    'rule:', ruleYaml(s.rule, 'oracle-repro'),
  ].join('\n');
}

/** Gives a scenario a readable form in fast-check's counterexample report. */
export function printable(s: Scenario): Scenario {
  return Object.defineProperty(s, fc.toStringMethod, { value: () => `\n${describeScenario(s)}`, enumerable: false });
}

// --------------------------------------------------------------------------------------------
// Households
// --------------------------------------------------------------------------------------------

// Most households in three districts (and XO01001's wards), so that shares, caps and budgets bite.
const HOUSEHOLD_AREAS = [
  'XO01001', 'XO01001001', 'XO01001002', 'XO01002', 'XO01002', 'XO01002', 'XO01003', 'XO01003', 'XO01003',
  'XO01004', 'XO01005', 'XO01006', 'XO02001',
  'XO01', // registered to the region only (no district known)
];

/** A point strictly inside, on an edge, or on a corner of the household's area (for area rules, irrelevant). */
function pointIn(pcode: string): fc.Arbitrary<[number, number]> {
  const [w, s, e, n] = ORACLE_AREAS.find((a) => a.pcode === pcode)!.bbox;
  const coord = (lo: number, hi: number) => fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 19 }).map((k) => round6(lo + ((hi - lo) * k) / 20)) },
    { weight: 1, arbitrary: fc.constantFrom(lo, hi) },
  );
  return fc.tuple(coord(w, e), coord(s, n));
}

/** `arbitrary` in `percent` % of the cases, else undefined. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: percent, arbitrary }, { weight: 100 - percent, arbitrary: fc.constant(undefined) });
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

const enrolmentStatus = fc.constantFrom<'none' | 'active' | 'suspended'>('none', 'none', 'active', 'suspended');

export const householdArb = (idRange: number): fc.Arbitrary<OracleHousehold> =>
  fc.record({
    n: fc.integer({ min: 1, max: idRange }),
    pcode: fc.constantFrom(...HOUSEHOLD_AREAS),
    size: fc.option(fc.integer({ min: 1, max: 9 }), { nil: null, freq: 6 }),
    pmt: fc.option(fc.integer({ min: 0, max: 40 }), { nil: null, freq: 5 }),
    hasPoint: fc.boolean(),
    disability: fc.constantFrom('yes', 'no', undefined),
    children: fc.constantFrom('0', '1', '2', '3', '12', '', 'many', undefined),
    ct: enrolmentStatus,
    opg: enrolmentStatus,
  }).chain((h) =>
    (h.hasPoint ? pointIn(h.pcode).map((p): [number, number] | null => p) : fc.constant(null)).map((location): OracleHousehold => ({
      // Registry ids whose byte order differs from their numeric and case-insensitive order (H10 < H2 < HH3 < h5).
      id: `${['H', 'h', 'HH', 'H0'][h.n % 4]}${h.n}`,
      pcode: h.pcode,
      size: h.size,
      pmt: h.pmt,
      location,
      attributes: Object.fromEntries(Object.entries({ disability: h.disability, children: h.children }).filter(([, v]) => v !== undefined)) as Record<string, string>,
      enrolments: [
        ...(h.ct === 'none' ? [] : [['CT', h.ct] as [string, 'active' | 'suspended']]),
        ...(h.opg === 'none' ? [] : [['OPG', h.opg] as [string, 'active' | 'suspended']]),
      ],
    })),
  );

export const householdsArb = (max = 40): fc.Arbitrary<OracleHousehold[]> =>
  fc.uniqueArray(householdArb(3 * max + 10), { selector: (h) => h.id, maxLength: max, size: 'large' });

// --------------------------------------------------------------------------------------------
// Area (indicator) rules
// --------------------------------------------------------------------------------------------

/** VCI values around the band edges (extreme < 10 ≤ severe < 20 ≤ normal), or none published. */
const vciValue = fc.constantFrom(3, 3, 9.99, 10, 14, 14, 19.99, 20, 35);
export const vciArb: fc.Arbitrary<Record<string, number>> = fc
  .tuple(...ORACLE_DISTRICTS.map(() => fc.option(vciValue, { nil: undefined, freq: 8 })))
  .map((values) => Object.fromEntries(ORACLE_DISTRICTS.flatMap((p, i) => (values[i] === undefined ? [] : [[p, values[i]!]]))));

const TIERS = ['severe', 'extreme'] as const;

const programmes = fc.constantFrom('OPG', 'CT', 'CT+OPG').map((p) => p.split('+'));

const condition: fc.Arbitrary<HouseholdCondition> = fc.letrec<{ c: HouseholdCondition; leaf: HouseholdCondition }>((tie) => ({
  leaf: fc.oneof(
    fc.record({ field: fc.constant('pmt_score' as const), op: fc.constantFrom('lt' as const, 'lte' as const, 'gt' as const, 'gte' as const), value: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ field: fc.constant('size' as const), op: fc.constantFrom('gte' as const, 'lt' as const, 'eq' as const), value: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ attribute: fc.constant('disability'), op: fc.constantFrom('eq' as const, 'ne' as const), value: fc.constantFrom('yes', 'no') }),
    fc.record({ attribute: fc.constant('children'), op: fc.constantFrom('gte' as const, 'lt' as const), value: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ field: fc.constantFrom('pmt_score' as const, 'size' as const), op: fc.constantFrom('exists' as const, 'missing' as const) }),
    fc.record({ attribute: fc.constantFrom('disability', 'children'), op: fc.constantFrom('exists' as const, 'missing' as const) }),
    fc.record({ enrolled_in: programmes, status: fc.constantFrom('active' as const, 'suspended' as const) }),
    fc.record({ percentile: fc.record({ field: fc.constant('pmt_score' as const), within_admin_level: fc.constantFrom(1, 2, 3), op: fc.constantFrom('lte' as const, 'lt' as const, 'gt' as const), value: fc.constantFrom(0, 10, 25, 40, 50, 100) }) }),
    fc.record({ attribute: fc.constant('children'), op: fc.constantFrom('in' as const, 'not_in' as const), value: fc.constantFrom([1, 2], [0], [3, 12]) }),
    fc.record({ attribute: fc.constant('disability'), op: fc.constantFrom('in' as const, 'not_in' as const), value: fc.constant(['yes']) }),
    fc.record({ field: fc.constant('size' as const), op: fc.constantFrom('in' as const, 'not_in' as const), value: fc.constant([1, 2, 3]) }),
  ) as fc.Arbitrary<HouseholdCondition>,
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: tie('leaf') },
    fc.record({ not: tie('leaf') }),
    fc.record({ any: fc.array(tie('leaf'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ all: fc.array(tie('c'), { minLength: 1, maxLength: 2 }) }),
  ),
})).c;

const percent = fc.constantFrom(10, 25, 33, 50, 62.5, 75, 100);

type Tiered = number | { by_tier: Record<string, number> };
const tiered = (value: fc.Arbitrary<number>): fc.Arbitrary<Tiered> =>
  fc.oneof(value, fc.record({ severe: value, extreme: value }).map((by_tier) => ({ by_tier })));
const highest = (t: Tiered) => (typeof t === 'number' ? t : Math.max(...Object.values(t.by_tier)));

const priorityArb: fc.Arbitrary<NonNullable<ResponseComponent['households']['priority']> | undefined> = fc.option(
  fc.array(
    fc.oneof(
      fc.record({ field: fc.constantFrom('pmt_score' as const, 'size' as const), order: fc.constantFrom('ascending' as const, 'descending' as const) }),
      fc.record({ attribute: fc.constantFrom('children', 'disability'), order: fc.constantFrom('ascending' as const, 'descending' as const) }),
    ),
    { minLength: 1, maxLength: 2 },
  ),
  { nil: undefined, freq: 4 },
);

const componentArb = (withTiers: boolean): fc.Arbitrary<ResponseComponent> => fc
  .record({
    mode: fc.constantFrom('horizontal' as const, 'horizontal' as const, 'vertical' as const),
    eligibility: sometimes(condition, 35),
    excludeOf: sometimes(programmes, 40),
    excludeWhen: sometimes(condition, 20),
    priority: priorityArb,
    requirements: sometimes(fc.array(fc.record({ condition, otherwise: fc.constantFrom('exclude' as const, 'exclude' as const, 'hold' as const), reason: fc.constantFrom('requirement A', 'requirement B') }), { minLength: 1, maxLength: 2 }), 20),
    coverage: fc.oneof(
      fc.record({ kind: fc.constant('share' as const), percent: withTiers ? tiered(percent) : percent, of: fc.constantFrom('registered_households' as const, 'eligible_households' as const), basis: fc.constantFrom('total' as const, 'additional' as const), counting: sometimes(programmes, 30) }),
      fc.record({ kind: fc.constant('households' as const), count: withTiers ? tiered(fc.integer({ min: 1, max: 6 })) : fc.integer({ min: 1, max: 6 }), basis: fc.constantFrom('total' as const, 'additional' as const) }),
      fc.record({ kind: fc.constant('all_eligible' as const) }),
    ),
    capPercent: sometimes(fc.constantFrom(25, 50, 62.5, 75, 100), 30),
    capHouseholds: sometimes(fc.integer({ min: 1, max: 5 }), 30),
    overallHouseholds: sometimes(fc.integer({ min: 1, max: 20 }), 25),
    overallAmount: sometimes(fc.integer({ min: 1, max: 40 }).map((k) => k * 500), 15),
    benefit: fc.oneof(
      fc.record({ kind: fc.constant('flat' as const), amount: fc.constantFrom(1000, 1250, 2700) }),
      fc.record({ kind: fc.constant('share_of_base' as const), percent: fc.constantFrom(50, 33.3, 12.5, 7.5, 100), programme: fc.constantFrom(undefined, 'OPG') }),
      ...(withTiers ? [fc.record({ kind: fc.constant('by_tier' as const), amounts: fc.record({ severe: fc.constantFrom(1000, 2700), extreme: fc.constantFrom(1500, 3500) }) })] : []),
      fc.record({ kind: fc.constant('per_member' as const), amount: fc.constantFrom(100, 350), base: fc.option(fc.constantFrom(0, 500), { nil: undefined }), max_members: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }), max_amount: fc.option(fc.constantFrom(1000, 2000), { nil: undefined }) }),
    ),
    payments: fc.oneof(
      fc.constant({ frequency: 'once' as const, count: 1 as const }),
      fc.record({ frequency: fc.constant('monthly' as const), count: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant('while_triggered' as const)) }),
    ),
    tiers: withTiers ? sometimes(fc.constantFrom('severe', 'extreme', 'severe+extreme').map((t) => t.split('+')), 12) : fc.constant(undefined),
    withoutLocation: withTiers ? fc.constant('left_out' as const) : fc.constantFrom('left_out' as const, 'by_area' as const),
  })
  .map((g): ResponseComponent => {
    let eligibility = g.eligibility;
    // A vertical response tops up current beneficiaries: its eligibility includes enrolled_in.
    const ct: HouseholdCondition = { enrolled_in: ['CT'], status: 'active' };
    if (g.mode === 'vertical') eligibility = eligibility ? { all: [ct, eligibility] } : ct;
    const coverage: Coverage =
      g.coverage.kind === 'share'
        ? { kind: 'share', percent: g.coverage.percent, of: g.coverage.of, basis: g.coverage.basis, ...(g.coverage.counting && g.coverage.basis === 'total' ? { counting_beneficiaries_of: g.coverage.counting } : {}) }
        : g.coverage.kind === 'households' ? { kind: 'households', count: g.coverage.count, basis: g.coverage.basis } : { kind: 'all_eligible' };
    // The rule checker refuses a share of registered households above the per-area percentage cap.
    let capPercent: number | undefined = g.capPercent;
    if (capPercent !== undefined && coverage.kind === 'share' && coverage.of === 'registered_households' && highest(coverage.percent) > capPercent) capPercent = highest(coverage.percent);
    const perArea = { ...(capPercent !== undefined ? { percent_of_registered: capPercent } : {}), ...(g.capHouseholds !== undefined ? { households: g.capHouseholds } : {}) };
    const overall = { ...(g.overallHouseholds !== undefined ? { households: g.overallHouseholds } : {}), ...(g.overallAmount !== undefined ? { amount: g.overallAmount } : {}) };
    const caps = { ...(Object.keys(perArea).length ? { per_area: perArea } : {}), ...(Object.keys(overall).length ? { overall } : {}) };
    const benefit: ResponseComponent['benefit'] =
      g.benefit.kind === 'flat' ? { kind: 'flat', amount: g.benefit.amount, currency: 'KES' }
        : g.benefit.kind === 'share_of_base' ? { kind: 'share_of_base', percent: g.benefit.percent, currency: 'KES', ...(g.benefit.programme ? { programme: g.benefit.programme } : {}) }
        : g.benefit.kind === 'by_tier' ? { kind: 'by_tier', amounts: g.benefit.amounts, currency: 'KES' }
          : {
            kind: 'per_member', amount: g.benefit.amount, currency: 'KES', count_of: 'size',
            ...(g.benefit.base !== undefined ? { base: g.benefit.base } : {}),
            ...(g.benefit.max_members !== undefined ? { max_members: g.benefit.max_members } : {}),
            ...(g.benefit.max_amount !== undefined && g.benefit.max_amount >= (g.benefit.base ?? 0) ? { max_amount: g.benefit.max_amount } : {}),
          };
    return {
      mode: g.mode,
      ...(g.tiers ? { tiers: g.tiers } : {}),
      households: {
        ...(eligibility ? { eligibility } : {}),
        ...(g.excludeOf || g.excludeWhen ? { exclude: { ...(g.excludeOf ? { current_beneficiaries_of: g.excludeOf } : {}), ...(g.excludeWhen ? { when: g.excludeWhen } : {}) } } : {}),
        ...(g.priority ? { priority: g.priority } : {}),
        ...(g.requirements ? { requirements: g.requirements } : {}),
        frozen_list: false,
        without_location: g.withoutLocation,
      },
      // A vertical top-up has no coverage unless the scenario gives an additional one (a total one would count the very beneficiaries it tops up).
      ...(g.mode === 'horizontal' || coverage.kind !== 'share' || coverage.basis === 'additional' ? { coverage } : {}),
      ...(Object.keys(caps).length ? { caps } : {}),
      benefit,
      payments: { ...g.payments, start: { days_after_activation: 7 } },
    } as ResponseComponent;
  });

const budgetArb = (withTiers: boolean): fc.Arbitrary<Budget> => fc
  .record({
    amount: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: withTiers ? 40 : 12 }).map((k) => k * 500) }, { weight: 2, arbitrary: fc.constant(100_000_000) }),
    per: fc.constantFrom('cycle' as const, 'activation' as const),
    steps: fc.constantFrom<Budget['over_budget']>(
      ['fund_most_severe_first', 'reduce_caseload_pro_rata'],
      ['fund_most_severe_first', 'stop_when_exhausted'],
      ['fund_most_severe_first'],
      ['reduce_caseload_pro_rata'],
      ['stop_when_exhausted'],
      ['fund_most_severe_first', 'reduce_value_pro_rata'],
      ['reduce_value_pro_rata'],
    ).filter((steps) => withTiers || !steps.includes('fund_most_severe_first')),
    proRataBy: fc.constantFrom('registered_households' as const, 'eligible_households' as const, 'targeted_households' as const),
  })
  .map((b): Budget => ({
    envelope: { amount: b.amount, currency: 'KES', per: b.per },
    over_budget: b.steps,
    ...(b.steps.some((s) => s.startsWith('reduce')) ? { pro_rata_by: b.proRataBy } : {}),
    allow_value_reduction: b.steps.includes('reduce_value_pro_rata'),
  }));

/** README "overlap": exclusive or additive with another programme. */
const overlapArb = sometimes(
  fc.constantFrom('exclusive', 'additive').map((policy) => [{ with: { programme: 'OPG' }, policy: policy as 'exclusive' | 'additive', scope: 'same_period' as const }]),
  25,
);

const withinArb = fc.oneof(
  fc.constant({ within: ['XO01'] }),
  fc.constant({ within: ['XO01', 'XO02'] }),
  fc.subarray(ORACLE_DISTRICTS, { minLength: 2 }).map((within) => ({ within })),
  fc.constantFrom('XO01001', 'XO01004', 'XO01001002').map((exclude) => ({ within: ['XO01'], exclude: [exclude] })),
);

export const ruleHeader = (programme = 'CT') => ({
  id: 'placeholder',
  title: 'Oracle scenario',
  country: 'XOC',
  programme,
  owner: 'Oracle tests',
  effective: { from: '2020-01-01' },
  agreed_text: 'A rule generated by the oracle property test.',
});

export const vciStages = (triggering: string[]): Pick<Rule, 'stages' | 'tiers'> => ({
  stages: {
    activation: {
      when: {
        indicator: {
          id: 'vci', name: 'vci3m', source: 'NDMA (test)', version: 'any', unit: 'VCI', spatial_unit: { admin_level: 2 }, period: 'monthly',
          bands: [{ name: 'extreme', max: 10 }, { name: 'severe', min: 10, max: 20 }, { name: 'normal', min: 20 }], triggering_bands: triggering,
        },
      },
    },
  } as Rule['stages'],
  tiers: [
    { id: 'severe', severity: 1, when: { in_band: { trigger: 'vci', bands: ['severe'] } } },
    { id: 'extreme', severity: 2, when: { in_band: { trigger: 'vci', bands: ['extreme'] } } },
  ],
});

export const areaRuleArb: fc.Arbitrary<Rule> = fc
  .record({
    areas: withinArb,
    triggering: fc.constantFrom('extreme+severe', 'extreme+severe', 'extreme').map((t) => t.split('+')),
    components: fc.oneof({ weight: 3, arbitrary: componentArb(true).map((c) => [c]) }, { weight: 1, arbitrary: fc.tuple(componentArb(true), componentArb(true)) }),
    budget: budgetArb(true),
    overlap: overlapArb,
  })
  .map(({ areas, triggering, components, budget, overlap }) => ({
    ...ruleHeader(),
    ...(overlap ? { overlap } : {}),
    areas: { admin_level: 2, ...areas },
    ...vciStages(triggering),
    response: components,
    budget,
  }) as unknown as Rule);

export const areaScenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ rule: areaRuleArb, households: householdsArb(60), vci: vciArb })
  .map((s) => printable(avoidKnownDefects(s)));

export { TIERS };

/** A household for a hand-written scenario: defaults for what the case does not need. */
export function household(id: string, pcode: string, fields: Partial<OracleHousehold> = {}): OracleHousehold {
  return { id, pcode, size: 3, pmt: 10, location: null, attributes: {}, enrolments: [], ...fields };
}

/** A VCI rule over Oceania (extreme and severe trigger) with the given response and budget. */
export function vciRule(response: ResponseComponent[], budget: Budget, areas: Partial<Rule['areas']> = {}): Rule {
  return { ...ruleHeader(), areas: { admin_level: 2, within: ['XO01'], ...areas }, ...vciStages(['extreme', 'severe']), response, budget } as unknown as Rule;
}

export const bigBudget: Budget = { envelope: { amount: 100_000_000, currency: 'KES', per: 'cycle' }, over_budget: ['stop_when_exhausted'], allow_value_reduction: false };

export const everyone = (fields: Partial<ResponseComponent> = {}): ResponseComponent => ({
  mode: 'horizontal',
  households: { frozen_list: false, without_location: 'left_out' },
  coverage: { kind: 'all_eligible' },
  benefit: { kind: 'flat', amount: 1000, currency: 'KES' },
  payments: { frequency: 'once', count: 1, start: { days_after_activation: 7 } },
  ...fields,
} as ResponseComponent);

// --------------------------------------------------------------------------------------------
// Footprint (event) rules
// --------------------------------------------------------------------------------------------

/**
 * Coordinates are multiples of 1/8 degree (exact in binary), so a point on an edge is exactly on
 * it for turf and for PostGIS alike, diagonal edges included.
 */
const grid = (lo: number, hi: number, step = 0.25) => fc.integer({ min: Math.round(lo / step), max: Math.round(hi / step) }).map((k) => k * step);
type Ring = [number, number][];
const rectRing = (x0: number, y0: number, x1: number, y1: number): Ring => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];

const rectArb = fc.tuple(grid(-0.5, 4.25), grid(-0.5, 2.25), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }))
  .map(([x, y, w, h]) => ({ x0: x, y0: y, x1: x + w * 0.25, y1: y + h * 0.25 }));

const shapeArb: fc.Arbitrary<FootprintShape['geometry']> = fc.oneof(
  { weight: 4, arbitrary: rectArb.map((r) => ({ type: 'Polygon' as const, coordinates: [rectRing(r.x0, r.y0, r.x1, r.y1)] })) },
  // A rectangle with a rectangular hole strictly inside it.
  {
    weight: 2,
    arbitrary: rectArb.filter((r) => r.x1 - r.x0 >= 0.75 && r.y1 - r.y0 >= 0.75).chain((r) =>
      fc.tuple(grid(r.x0 + 0.25, r.x1 - 0.5), grid(r.y0 + 0.25, r.y1 - 0.5)).chain(([hx, hy]) =>
        fc.tuple(grid(hx + 0.25, r.x1 - 0.25), grid(hy + 0.25, r.y1 - 0.25)).map(([hx1, hy1]) => ({
          type: 'Polygon' as const, coordinates: [rectRing(r.x0, r.y0, r.x1, r.y1), rectRing(hx, hy, hx1, hy1).reverse() as Ring],
        })),
      ),
    ),
  },
  // A triangle (diagonal edges).
  {
    weight: 2,
    arbitrary: fc.tuple(...[0, 1, 2].map(() => fc.tuple(grid(-0.25, 4.25), grid(-0.25, 2.25))))
      .filter(([a, b, c]) => (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) !== 0)
      .map(([a, b, c]) => ({ type: 'Polygon' as const, coordinates: [[a, b, c, a] as Ring] })),
  },
  // Two rectangles apart from each other (a valid multipolygon).
  {
    weight: 2,
    arbitrary: fc.tuple(rectArb, rectArb)
      .filter(([a, b]) => a.x1 < b.x0 || b.x1 < a.x0 || a.y1 < b.y0 || b.y1 < a.y0)
      .map(([a, b]) => ({ type: 'MultiPolygon' as const, coordinates: [[rectRing(a.x0, a.y0, a.x1, a.y1)], [rectRing(b.x0, b.y0, b.x1, b.y1)]] })),
  },
  // Degenerate: a polygon of zero area (its ring on one line), a point, a line.
  {
    weight: 1,
    arbitrary: fc.tuple(grid(-0.25, 4), grid(-0.25, 2), fc.integer({ min: 1, max: 8 })).map(([x, y, w]) => ({
      type: 'Polygon' as const, coordinates: [[[x, y], [x + w * 0.25, y], [x + w * 0.125, y], [x, y]] as Ring],
    })),
  },
  { weight: 1, arbitrary: fc.tuple(grid(0, 4), grid(0, 2)).map((p) => ({ type: 'Point' as const, coordinates: p as [number, number] })) },
  { weight: 1, arbitrary: fc.tuple(grid(0, 4), grid(0, 2), grid(0, 4), grid(0, 2)).filter(([a, b, c, d]) => a !== c || b !== d).map(([a, b, c, d]) => ({ type: 'LineString' as const, coordinates: [[a, b], [c, d]] as [number, number][] })) },
);

export const footprintsArb: fc.Arbitrary<FootprintShape[]> = fc.array(
  fc.record({ class: fc.constantFrom('Poly_area', 'Poly_area', 'Poly_area', 'Poly_buffer'), value: fc.constantFrom(null, null, 60, 90, 120), geometry: shapeArb }),
  { minLength: 1, maxLength: 3 },
);

/** Points a household may have: on the footprints' vertices and edge midpoints, or anywhere on the 1/8° grid. */
function interestingPoints(footprints: FootprintShape[]): [number, number][] {
  const points: [number, number][] = [];
  for (const f of footprints) {
    const rings = f.geometry.type === 'Polygon' ? f.geometry.coordinates : f.geometry.type === 'MultiPolygon' ? f.geometry.coordinates.flat() : f.geometry.type === 'LineString' ? [f.geometry.coordinates] : [[f.geometry.coordinates]];
    for (const ring of rings as [number, number][][]) {
      // Inside (the mean of a convex ring's vertices; for a hole, a point in it), on the 1/8° grid.
      const mean = ring.slice(0, -1).reduce((m, p) => [m[0] + p[0] / (ring.length - 1), m[1] + p[1] / (ring.length - 1)], [0, 0]);
      if (ring.length > 2) points.push([Math.round(mean[0] * 8) / 8, Math.round(mean[1] * 8) / 8], [Math.round(mean[0] * 8) / 8, Math.round(mean[1] * 8) / 8]);
      ring.forEach((p, i) => {
        points.push([p[0], p[1]]);
        const q = ring[i + 1];
        if (q) points.push([(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]);
      });
    }
  }
  return points;
}

const footprintHouseholdsArb = (footprints: FootprintShape[], max: number): fc.Arbitrary<OracleHousehold[]> => {
  const special = interestingPoints(footprints);
  return fc.uniqueArray(
    fc.tuple(householdArb(3 * max + 10), fc.nat(), fc.integer({ min: 0, max: 9 }), grid(0, 4, 0.125), grid(0, 2, 0.125)).map(([h, pick, how, x, y]) => {
      if (h.location === null) return h;
      const inArea = ORACLE_AREAS.find((a) => a.pcode === h.pcode)!.bbox;
      // Half inside or on a footprint's vertex or edge, the rest on the grid inside their own admin area.
      const location: [number, number] = how < 5 && special.length ? special[pick % special.length]
        : [Math.min(inArea[2], Math.max(inArea[0], x)), Math.min(inArea[3], Math.max(inArea[1], y))];
      return { ...h, location };
    }),
    { selector: (h) => h.id, maxLength: max, size: 'large' },
  );
};

export const footprintStages = (cls = 'Poly_area', minValue?: number): Pick<Rule, 'stages'> => ({
  stages: { activation: { when: { event: { source: 'gdacs', hazard: 'drought', min_alert_level: 'orange', footprint: { class: cls, ...(minValue !== undefined ? { min_value: minValue } : {}) } } } } } as Rule['stages'],
});

export const footprintRuleArb: fc.Arbitrary<Rule> = fc
  .record({
    within: fc.constantFrom('XO01', 'XO01+XO02').map((w) => w.split('+')),
    components: fc.oneof({ weight: 3, arbitrary: componentArb(false).map((c) => [c]) }, { weight: 1, arbitrary: fc.tuple(componentArb(false), componentArb(false)) }),
    budget: budgetArb(false),
    overlap: overlapArb,
    minValue: sometimes(fc.constantFrom(90, 100), 30),
  })
  .map(({ within, components, budget, overlap, minValue }) => ({
    ...ruleHeader(),
    ...(overlap ? { overlap } : {}), areas: { admin_level: 2, within }, ...footprintStages('Poly_area', minValue), response: components, budget,
  }) as unknown as Rule);

export const footprintScenarioArb: fc.Arbitrary<Scenario> = fc.tuple(footprintsArb, sometimes(footprintsArb, 25))
  .chain(([footprints, earlier]) => fc.record({
    rule: footprintRuleArb,
    households: footprintHouseholdsArb(earlier ? [...footprints, ...earlier] : footprints, 50),
    vci: fc.constant({}),
    footprints: fc.constant(footprints),
    earlierFootprints: fc.constant(earlier),
  }))
  .map((s) => printable(avoidKnownDefects(s.earlierFootprints === undefined ? { rule: s.rule, households: s.households, vci: s.vci, footprints: s.footprints } : s)));

/** A footprint rule over Oceania for hand-written scenarios. */
export function footprintRule(response: ResponseComponent[], budget: Budget = bigBudget): Rule {
  return { ...ruleHeader(), areas: { admin_level: 2, within: ['XO01', 'XO02'] }, ...footprintStages(), response, budget } as unknown as Rule;
}
