import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HouseholdSql, type PriorityKey } from '../../src/engine/household-sql.ts';
import type { HouseholdCondition } from '../../src/rules/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds, type TestHousehold } from '../support/households.ts';


// Six households in Demoland: A, B, F in district XD01001, C and D in XD01002 (both region XD01), E in XD02001.
const HOUSEHOLDS: TestHousehold[] = [
  { id: 'A', pcode: 'XD01001', size: 2, pmt: 10, channel: 'mobile_money', account: '0711', attributes: { children: '3', disability: 'yes', tlu: '4.5', flag: 'true' }, enrolments: [['CT', 'active']] },
  { id: 'B', pcode: 'XD01001', size: 5, pmt: 30, channel: 'bank', account: null, attributes: { children: 'abc', disability: 'no', tlu: '10' }, enrolments: [['CT', 'suspended']] },
  { id: 'C', pcode: 'XD01002', size: 1, pmt: 50, channel: 'cash', account: '', attributes: { children: '0', tlu: ' 2 ', flag: 'false' }, enrolments: [['OPG', 'active']] },
  { id: 'D', pcode: 'XD01002', size: null, pmt: null, channel: null, account: null, attributes: {} },
  { id: 'E', pcode: 'XD02001', size: 8, pmt: 20, channel: 'mobile_money', account: null, attributes: { children: '12', disability: 'yes', tlu: '1e3' }, enrolments: [['CT', 'exited']] },
  { id: 'F', pcode: 'XD01001', size: 3, pmt: 40, channel: 'bank', account: '0722', attributes: { children: '2.0', disability: '', note: "x'; DROP TABLE households; --" } },
];

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, HOUSEHOLDS);
});
afterAll(() => t?.drop());

/** The registry_ids (sorted) of the households meeting the condition, plus the SQL it ran. */
async function matching(condition: HouseholdCondition): Promise<string[]> {
  const q = new HouseholdSql();
  const where = q.condition(condition);
  const sql = `WITH hh AS (${q.households()}) SELECT h.registry_id AS id FROM hh h WHERE ${where} ORDER BY h.registry_id`;
  const { rows } = await t.store.transaction(({ raw }) => raw.query<{ id: string }>(sql, q.params));
  return rows.map((r) => r.id);
}

async function ordered(priority: PriorityKey[]): Promise<string[]> {
  const q = new HouseholdSql();
  const order = q.orderBy(priority);
  const { rows } = await t.store.transaction(({ raw }) =>
    raw.query<{ id: string }>(`WITH hh AS (${q.households()}) SELECT h.registry_id AS id FROM hh h ORDER BY ${order}`, q.params),
  );
  return rows.map((r) => r.id);
}

describe('compiling household conditions to SQL', () => {
  it('compares registry fields: numbers numerically, text as text, missing values never match', async () => {
    expect(await matching({ field: 'size', op: 'gte', value: 3 })).toEqual(['B', 'E', 'F']);
    expect(await matching({ field: 'size', op: 'eq', value: '5' })).toEqual(['B']);
    expect(await matching({ field: 'pmt_score', op: 'lt', value: 25 })).toEqual(['A', 'E']);
    expect(await matching({ field: 'pmt_score', op: 'ne', value: 10 })).toEqual(['B', 'C', 'E', 'F']);
    expect(await matching({ field: 'admin_pcode', op: 'lt', value: 'XD01002' })).toEqual(['A', 'B', 'F']);
    expect(await matching({ field: 'payment_channel', op: 'in', value: ['bank', 'cash'] })).toEqual(['B', 'C', 'F']);
    expect(await matching({ field: 'payment_channel', op: 'not_in', value: ['bank', 'cash'] })).toEqual(['A', 'E']);
  });

  it('compares attributes numerically when the value is a number; non-numbers do not match and do not throw', async () => {
    expect(await matching({ attribute: 'children', op: 'gt', value: 1 })).toEqual(['A', 'E', 'F']);
    expect(await matching({ attribute: 'children', op: 'lte', value: 2 })).toEqual(['C', 'F']);
    expect(await matching({ attribute: 'children', op: 'eq', value: 2 })).toEqual(['F']); // '2.0' = 2
    expect(await matching({ attribute: 'tlu', op: 'gte', value: 10 })).toEqual(['B', 'E']); // '1e3'
    expect(await matching({ attribute: 'tlu', op: 'lt', value: 5 })).toEqual(['A', 'C']); // ' 2 '
    // As text (byte order): '10', ' 2 ' and '1e3' sort before '4'; '4.5' after it.
    expect(await matching({ attribute: 'tlu', op: 'lt', value: '4' })).toEqual(['B', 'C', 'E']);
  });

  it('compares text and booleans as text; an empty attribute counts as missing', async () => {
    expect(await matching({ attribute: 'disability', op: 'eq', value: 'yes' })).toEqual(['A', 'E']);
    expect(await matching({ attribute: 'disability', op: 'ne', value: 'yes' })).toEqual(['B']);
    expect(await matching({ attribute: 'flag', op: 'eq', value: true })).toEqual(['A']);
    expect(await matching({ attribute: 'flag', op: 'eq', value: false })).toEqual(['C']);
  });

  it('keeps `not` of a comparison on a missing or non-numeric value false', async () => {
    // C has 0 children; B's 'abc' and D's missing attribute are unknown, so neither side holds.
    expect(await matching({ not: { attribute: 'children', op: 'gt', value: 1 } })).toEqual(['C']);
    expect(await matching({ not: { attribute: 'disability', op: 'eq', value: 'yes' } })).toEqual(['B']);
    expect(await matching({ not: { not: { attribute: 'disability', op: 'eq', value: 'yes' } } })).toEqual(['A', 'E']);
    expect(await matching({ not: { field: 'size', op: 'lt', value: 3 } })).toEqual(['B', 'E', 'F']);
    // any(unknown, true) holds; all(unknown, true) does not.
    expect(await matching({ any: [{ attribute: 'children', op: 'gt', value: 1 }, { field: 'size', op: 'eq', value: 5 }] })).toEqual(['A', 'B', 'E', 'F']);
    expect(await matching({ all: [{ attribute: 'children', op: 'gt', value: 1 }, { field: 'size', op: 'gte', value: 1 }] })).toEqual(['A', 'E', 'F']);
  });

  it('handles in / not_in with numbers, text and mixed lists', async () => {
    expect(await matching({ attribute: 'children', op: 'in', value: [0, 3] })).toEqual(['A', 'C']);
    expect(await matching({ attribute: 'children', op: 'not_in', value: [0, 3] })).toEqual(['E', 'F']);
    expect(await matching({ attribute: 'children', op: 'in', value: [3, 'abc'] })).toEqual(['A', 'B']);
    expect(await matching({ attribute: 'children', op: 'not_in', value: [3, 'abc'] })).toEqual(['C', 'E', 'F']);
    expect(await matching({ attribute: 'disability', op: 'in', value: 'no' })).toEqual(['B']);
    expect(await matching({ attribute: 'disability', op: 'not_in', value: [] })).toEqual(['A', 'B', 'E']);
  });

  it('tests presence with exists / missing (empty text is missing)', async () => {
    expect(await matching({ field: 'payment_account', op: 'exists' })).toEqual(['A', 'F']);
    expect(await matching({ field: 'payment_account', op: 'missing' })).toEqual(['B', 'C', 'D', 'E']);
    expect(await matching({ attribute: 'disability', op: 'exists' })).toEqual(['A', 'B', 'E']);
    expect(await matching({ attribute: 'flag', op: 'missing' })).toEqual(['B', 'D', 'E', 'F']);
    expect(await matching({ field: 'size', op: 'missing' })).toEqual(['D']);
  });

  it('tests enrolment by programme and status', async () => {
    expect(await matching({ enrolled_in: ['CT'], status: 'active' })).toEqual(['A']);
    expect(await matching({ enrolled_in: ['CT'], status: 'suspended' })).toEqual(['B']);
    expect(await matching({ enrolled_in: ['CT', 'OPG'], status: 'active' })).toEqual(['A', 'C']);
    expect(await matching({ not: { enrolled_in: ['CT'], status: 'active' } })).toEqual(['B', 'C', 'D', 'E', 'F']);
  });

  it('ranks a score within the ancestor area at a level (percent_rank, 0 = lowest); no score, no match', async () => {
    // Region XD01 scores: A 10, B 30, F 40, C 50 → 0, 1/3, 2/3, 1; E is alone in XD02 → 0.
    expect(await matching({ percentile: { field: 'pmt_score', within_admin_level: 1, op: 'lte', value: 40 } })).toEqual(['A', 'B', 'E']);
    // District XD01001: A 0, B 0.5, F 1; alone in their districts C and E are 0.
    expect(await matching({ percentile: { field: 'pmt_score', within_admin_level: 2, op: 'lte', value: 50 } })).toEqual(['A', 'B', 'C', 'E']);
    expect(await matching({ not: { percentile: { field: 'pmt_score', within_admin_level: 2, op: 'lte', value: 50 } } })).toEqual(['F']);
    // Attribute scores, two windows in one query: children in XD01 are A 3, F 2.0, C 0 (B is not a number).
    expect(
      await matching({
        all: [
          { percentile: { attribute: 'children', within_admin_level: 1, op: 'gte', value: 50 } },
          { percentile: { field: 'pmt_score', within_admin_level: 1, op: 'lt', value: 100 } },
        ],
      }),
    ).toEqual(['A', 'F']);
  });

  it('passes every value and name as a bind parameter', async () => {
    expect(await matching({ attribute: 'note', op: 'eq', value: "x'; DROP TABLE households; --" })).toEqual(['F']);
    expect(await matching({ attribute: "x') OR true OR ('", op: 'exists' })).toEqual([]);
    const q = new HouseholdSql([42]);
    const sql = q.condition({ all: [{ attribute: 'disability', op: 'eq', value: 'yes' }, { enrolled_in: ['CT'], status: 'active' }] });
    expect(sql).not.toMatch(/yes|disability|\bCT\b|active/);
    expect(q.params).toEqual([42, 'disability', 'yes', ['CT'], 'active']);
    expect(sql).toContain('$2::text');
  });

  it('orders by priority keys, missing values last, registry_id breaking ties', async () => {
    expect(await ordered([{ field: 'pmt_score', order: 'ascending' }])).toEqual(['A', 'E', 'B', 'F', 'C', 'D']);
    expect(await ordered([{ field: 'pmt_score', order: 'descending' }])).toEqual(['C', 'F', 'B', 'E', 'A', 'D']);
    // Numbers first (12, 3, 2.0, 0), then text ('abc'), then missing.
    expect(await ordered([{ attribute: 'children', order: 'descending' }])).toEqual(['E', 'A', 'F', 'C', 'B', 'D']);
    expect(await ordered([{ attribute: 'disability', order: 'ascending' }])).toEqual(['B', 'A', 'E', 'C', 'D', 'F']);
    expect(await ordered([{ field: 'admin_pcode', order: 'descending' }, { field: 'size', order: 'ascending' }])).toEqual(['E', 'C', 'D', 'A', 'F', 'B']);
    expect(await ordered([])).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });
});
