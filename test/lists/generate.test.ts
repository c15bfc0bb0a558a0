import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FeatureCollection } from 'geojson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateActivations, listActivations } from '../../src/engine/activations.ts';
import { gdacsAdapter } from '../../src/feeds/adapters/gdacs.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { generateLists, type GeneratedList } from '../../src/engine/targeting/generate-lists.ts';
import { approveList, cancelList, getList, listContentHash } from '../../src/lists/lifecycle.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { insertHouseholds, type TestHousehold } from '../support/households.ts';
import { projectRoot } from '../support/paths.ts';
import { approveRuleText, publishMonth, VCI_STAGES_AND_TIERS, ruleHeader } from '../support/rules.ts';

/**
 * Payment lists on a handful of households whose right list is worked out by hand: Northaven
 * Acacia (XD01001) in extreme drought, Northaven Baobab (XD01002) severe. CT is the regular programme.
 */
const HOUSEHOLDS: TestHousehold[] = [
  { id: 'A1', pcode: 'XD01001', pmt: 10, size: 3, location: [38.1, 3.5], enrolments: [['CT', 'active']] },
  { id: 'A2', pcode: 'XD01001', pmt: 20, size: 2, location: [38.5, 3.5] },
  { id: 'A3', pcode: 'XD01001', pmt: 30, size: 4, location: [38.25, 3.5] }, // on the footprint's edge
  { id: 'A4', pcode: 'XD01001', pmt: 30, size: 1, location: [38.2, 3.3] }, // ties with A3: A3 first by registry id
  { id: 'A5', pcode: 'XD01001', pmt: 40, size: 5, location: [38.6, 3.9], enrolments: [['CT', 'active']] },
  { id: 'A6', pcode: 'XD01001', pmt: 50, size: 6, location: [38.05, 3.75] },
  { id: 'A7', pcode: 'XD01001', pmt: 60, size: 2, location: null }, // no point: left out under a footprint, matched by its area otherwise
  { id: 'A8', pcode: 'XD01001', pmt: 70, size: 3, location: [38.4, 3.1] },
  { id: 'B1', pcode: 'XD01002', pmt: 15, size: 2, location: [39, 3.5], enrolments: [['CT', 'active']] },
  { id: 'B2', pcode: 'XD01002', pmt: 25, size: 3, location: [39.1, 3.5] },
  { id: 'B3', pcode: 'XD01002', pmt: 35, size: 4, location: [39.2, 3.5] },
  { id: 'B4', pcode: 'XD01002', pmt: 45, size: 5, location: [39.3, 3.5] },
  { id: 'C1', pcode: 'XD02001', pmt: 5, size: 2, location: [40.3, 3.5] }, // not in an affected area
];

/** A VCI rule over XD01001/XD01002 with the given response (YAML lines under `response:`) and extras. */
function rule(id: string, response: string, extra = ''): string {
  return `${ruleHeader(id)}
areas: { admin_level: 2, within: [XD01001, XD01002] }
${VCI_STAGES_AND_TIERS}response:
${response}
${extra}`;
}

const horizontal = (coverage: string, extra = '') => `  - mode: horizontal
    households:
      exclude: { current_beneficiaries_of: [CT] }
      priority: [{ field: pmt_score, order: ascending }]
    coverage: ${coverage}
${extra}    benefit: { kind: flat, amount: 1000, currency: KES }
    payments: { frequency: monthly, count: while_triggered, start: { days_after_activation: 7 } }`;

const noBudget = `budget:
  envelope: { amount: 100000000, currency: KES, per: cycle }
  over_budget: [fund_most_severe_first, reduce_caseload_pro_rata]
  pro_rata_by: registered_households`;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  await insertHouseholds(t.store, HOUSEHOLDS);
  await publishMonth(t.store, '2026-10', { XD01001: 5, XD01002: 15 });
});
afterAll(() => t?.drop());

/** Loads and approves the rule, evaluates it, generates its lists; returns them with their entries. */
async function generate(yaml: string, by = 'coordinator@test') {
  const ruleId = await approveRuleText(t.store, yaml);
  await evaluateActivations(t.store, { ruleId, asOf: '2026-11-10T00:00:00Z' });
  const [first] = await listActivations(t.store, { ruleId, status: 'open' });
  const lists = await generateLists(t.store, first.id, by, { cycle: '2026-11' });
  return Promise.all(lists.map(async (list) => ({ ...list, entries: await entries(list.id) })));
}

async function entries(listId: number) {
  const { rows } = await t.store.transaction(({ raw }) =>
    raw.query<{ id: string; pcode: string; amount: number; rank: number; tier: string | null; reason: string }>(
      `SELECT registry_id AS id, pcode, amount::float8 AS amount, rank, tier, reason FROM payment_list_entries WHERE list_id = $1 ORDER BY pcode, rank`,
      [listId],
    ),
  );
  return rows;
}

const ids = (list: { entries: { id: string }[] }) => list.entries.map((e) => e.id);

describe('horizontal: coverage, caps, ties', () => {
  it('coverage total counts current beneficiaries in the target; additional comes on top of them', async () => {
    // XD01001: 8 registered, 50 % → 4, of which 2 are CT beneficiaries (A1, A5) → 2 more: A2, A3.
    // XD01002: 4 registered → 2, one is CT (B1) → 1 more: B2.
    const [total] = await generate(rule('test-total', horizontal('{ kind: share, percent: 50, of: registered_households, basis: total }'), noBudget));
    expect(ids(total)).toEqual(['A2', 'A3', 'B2']);
    expect(total.areas.map((a) => [a.pcode, a.registered, a.target, a.listed])).toEqual([['XD01001', 8, 2, 2], ['XD01002', 4, 1, 1]]);
    expect(total.excluded).toMatchObject({ 'current beneficiary of CT': 3, 'beyond the coverage target': 6 });
    // Additional: 4 more in XD01001 (A2, A3, A4, A6 by PMT, A3 before A4 on the tie), 2 in XD01002.
    const [additional] = await generate(rule('test-additional', horizontal('{ kind: share, percent: 50, of: registered_households, basis: additional }'), noBudget));
    expect(ids(additional)).toEqual(['A2', 'A3', 'A4', 'A6', 'B2', 'B3']);
    expect(additional.totalAmount).toBe(6000);
    expect(additional.entries[0]).toMatchObject({ rank: 1, tier: 'extreme', reason: expect.stringMatching(/^horizontal: rank 1 in XD01001 at tier extreme/) });
  });

  it('a per-area cap cuts the lowest-priority households; a tie is broken by the registry id', async () => {
    const [capped] = await generate(rule('test-cap', horizontal('{ kind: share, percent: 50, of: registered_households, basis: additional }', '    caps: { per_area: { households: 2 } }\n'), noBudget));
    expect(ids(capped)).toEqual(['A2', 'A3', 'B2', 'B3']); // A4 ties with A3 on PMT and comes after it
    expect(capped.excluded['beyond the per-area cap']).toBe(2);
  });

  it('by tier: 75 % in extreme areas, 25 % in severe ones', async () => {
    const [tiered] = await generate(rule('test-tiered', horizontal('{ kind: share, percent: { by_tier: { severe: 25, extreme: 75 } }, of: registered_households, basis: additional }'), noBudget));
    expect(ids(tiered)).toEqual(['A2', 'A3', 'A4', 'A6', 'A7', 'A8', 'B2']); // 6 of 8, 1 of 4
  });
});

describe('budget', () => {
  it('exhausted mid-area: the extreme area is funded first and cut pro rata, the severe area gets nothing; the cuts say where and why', async () => {
    const budget = `budget:
  envelope: { amount: 3500, currency: KES, per: cycle }
  over_budget: [fund_most_severe_first, reduce_caseload_pro_rata]
  pro_rata_by: registered_households`;
    const [list] = await generate(rule('test-budget', horizontal('{ kind: share, percent: 50, of: registered_households, basis: additional }'), budget));
    expect(ids(list)).toEqual(['A2', 'A3', 'A4']); // 3 × 1000 ≤ 3500; A6 would make 4000
    expect(list.totalAmount).toBe(3000);
    expect(list.cuts).toEqual([
      { pcode: 'XD01001', step: 'pro_rata', households: 1, amount: 1000, reason: expect.stringMatching(/pro rata/) },
      { pcode: 'XD01002', step: 'severity', households: 2, amount: 2000, reason: expect.stringMatching(/more severe areas/) },
    ]);
    expect(list.excluded['over budget']).toBe(3);
  });

  it('the value per household is reduced only when the rule allows it', async () => {
    const budget = `budget:
  envelope: { amount: 3000, currency: KES, per: cycle }
  over_budget: [reduce_value_pro_rata]
  pro_rata_by: registered_households
  allow_value_reduction: true`;
    const [list] = await generate(rule('test-value', horizontal('{ kind: share, percent: 50, of: registered_households, basis: additional }'), budget));
    expect(list.entries).toHaveLength(6);
    expect(list.entries.every((e) => e.amount === 500)).toBe(true); // 6 × 1000 scaled to 3000
  });
});

describe('vertical and overlap', () => {
  const vertical = `  - mode: vertical
    households: { eligibility: { enrolled_in: [CT] } }
    benefit: { kind: per_member, amount: 100, base: 200, max_members: 2, currency: KES }
    payments: { frequency: monthly, count: 2, start: { days_after_activation: 14 } }`;

  it('vertical: the active CT beneficiaries of the areas, per member up to the maximum', async () => {
    const [list] = await generate(rule('test-vertical', vertical, noBudget));
    expect(list.entries.map((e) => [e.id, e.amount])).toEqual([['A1', 400], ['A5', 400], ['B1', 400]]);
    expect(list.kind).toBe('vertical');
  });

  it('exclusive with another rule leaves out its households this cycle; additive does not; one entry per household', async () => {
    const base = await generate(rule('test-overlap-base', horizontal('{ kind: households, count: 2, basis: additional }'), noBudget));
    expect(ids(base[0])).toEqual(['A2', 'A3', 'B2', 'B3']);
    const overlap = (policy: string) => `${noBudget}\noverlap:\n  - { with: { rule: test-overlap-base }, policy: ${policy} }`;
    const [exclusive] = await generate(rule('test-overlap-exclusive', horizontal('{ kind: households, count: 2, basis: additional }'), overlap('exclusive')));
    expect(ids(exclusive)).toEqual(['A4', 'A6', 'B4']);
    expect(exclusive.excluded['already on a list of test-overlap-base this cycle']).toBe(4);
    const [additive] = await generate(rule('test-overlap-additive', horizontal('{ kind: households, count: 2, basis: additional }'), overlap('additive')));
    expect(ids(additive)).toEqual(['A2', 'A3', 'B2', 'B3']);
    const all = [...ids(exclusive), ...ids(additive)];
    expect(new Set(ids(additive)).size).toBe(ids(additive).length);
    expect(all).toHaveLength(7);
  });
});

/** All eligible households of Northaven touched by a GDACS drought's Poly_area (plus `reach`, e.g. a buffer). */
const footprintRule = (id: string, reach = '', households = '{}') => `${ruleHeader(id, { title: `Footprint test ${id}` })}
areas: { admin_level: 2, within: [XD01] }
stages:
  activation:
    when: { event: { source: gdacs, hazard: drought, min_alert_level: orange, footprint: { class: Poly_area }${reach} } }
response:
  - mode: horizontal
    households: ${households}
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 500, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 3 } }
budget:
  envelope: { amount: 100000, currency: KES, per: activation }
  over_budget: [stop_when_exhausted]`;

describe('a footprint rule: households inside the footprint, on its edge, or without a point', () => {
  it('matches points in the polygon (edge included); a household without a point is left out with the reason', async () => {
    const geometry = JSON.parse(await readFile(path.join(projectRoot, 'data/demo/feeds/gdacs-dr9900001-ep3-geometry.json'), 'utf8')) as FeatureCollection;
    const area = geometry.features.find((f) => f.properties!.Class === 'Poly_area')!;
    // The west of Northaven Acacia only: lon 38–38.25, lat 3.2–3.8.
    area.geometry = { type: 'Polygon', coordinates: [[[38, 3.2], [38.25, 3.2], [38.25, 3.8], [38, 3.8], [38, 3.2]]] };
    for (const f of geometry.features) Object.assign(f.properties!, { eventid: 9900777, episodeid: 1 });
    await ingestPayload(t.store, gdacsAdapter, { source: 'gdacs', bytes: Buffer.from(JSON.stringify(geometry)), url: 'test://fp.json', fetchedAt: new Date('2026-11-20T09:00:00Z') });
    const ruleId = await approveRuleText(t.store, footprintRule('test-footprint'));
    await evaluateActivations(t.store, { ruleId, asOf: '2026-11-21T00:00:00Z' });
    const activations = await listActivations(t.store, { ruleId, status: 'open' });
    expect(activations.map((a) => a.pcode)).toEqual(['XD01001']);
    const [list] = await generateLists(t.store, activations[0].id, 'coordinator@test', { cycle: '2026-11' });
    const listed = (await entries(list.id)).map((e) => e.id).sort();
    expect(listed).toEqual(['A1', 'A3', 'A4', 'A6']); // A2, A5, A8 lie east of the footprint
    // A7 has no point: whether it is in the footprint is unknown, so it is not paid by default.
    expect(list.excluded).toEqual({ 'no location: the rule pays households inside the footprint': 1 });
    expect(list.areas).toEqual([expect.objectContaining({ pcode: 'XD01001', registered: 4, listed: 4 })]);
  });

  it('with households.without_location: by_area a household without a point is matched by its admin area', async () => {
    const ruleId = await approveRuleText(t.store, footprintRule('test-footprint-by-area', '', '{ without_location: by_area }'));
    await evaluateActivations(t.store, { ruleId, asOf: '2026-11-21T00:00:00Z' });
    const activations = await listActivations(t.store, { ruleId, status: 'open' });
    const [list] = await generateLists(t.store, activations[0].id, 'coordinator@test', { cycle: '2026-11' });
    expect((await entries(list.id)).map((e) => e.id).sort()).toEqual(['A1', 'A3', 'A4', 'A6', 'A7']);
    expect(list.excluded).toEqual({});
  });

  it('with buffer_km the areas and households within that distance of the footprint count too', async () => {

    const ruleId = await approveRuleText(t.store, footprintRule('test-footprint-buffer', ', buffer_km: 30'));
    await evaluateActivations(t.store, { ruleId, asOf: '2026-11-21T00:00:00Z' });
    const activations = await listActivations(t.store, { ruleId, status: 'open' });
    // XD01004 begins 0.2° (about 22 km) south of the footprint; XD01002 about 46 km east of it.
    expect(activations.map((a) => a.pcode)).toEqual(['XD01001', 'XD01004']);
    const [list] = await generateLists(t.store, activations[0].id, 'coordinator@test', { cycle: '2026-11' });
    const listed = (await entries(list.id)).map((e) => e.id).sort();
    // A2 is about 28 km east and A8 about 20 km away: inside 30 km; A5 is about 39 km away; A7 has no point.
    expect(listed).toEqual(['A1', 'A2', 'A3', 'A4', 'A6', 'A8']);
  });
});

describe('lifecycle', () => {
  let list: GeneratedList;
  beforeAll(async () => {
    [list] = await generate(rule('test-lifecycle', horizontal('{ kind: share, percent: 50, of: registered_households, basis: additional }'), noBudget), 'maker@test');
  });

  it('regenerating a draft replaces it with the same content: same id, same hash', async () => {
    const before = await t.store.transaction(({ raw }) => listContentHash(raw, list.id));
    const [activation] = await listActivations(t.store, { ruleId: 'test-lifecycle', status: 'open' });
    const [again] = await generateLists(t.store, activation.id, 'maker@test', { cycle: '2026-11' });
    expect(again).toMatchObject({ id: list.id, replaced: true, households: 6 });
    expect(await t.store.transaction(({ raw }) => listContentHash(raw, list.id))).toBe(before);
    expect(again).toMatchObject({ version: list.version + 1, sha256: before });
    list = again; // what an approver is shown now
  });

  it('an entry names a registered household, and a listed household cannot be deleted or renumbered', async () => {
    const sqlOn = (text: string) => t.store.transaction(({ raw }) => raw.query(text, [list.id]));
    const fk = /violates foreign key constraint "payment_list_entries_household_id_fkey"/;
    await expect(sqlOn(`UPDATE payment_list_entries SET household_id = -1
                          WHERE list_id = $1 AND household_id = (SELECT min(household_id) FROM payment_list_entries WHERE list_id = $1)`)).rejects.toThrow(fk);
    await expect(sqlOn(
      `INSERT INTO payment_list_entries (list_id, household_id, region, registry_id, admin_pcode, pcode, activation_id, tier, rank, size, amount, currency, reason)
       SELECT list_id, -1, region, 'NOBODY', admin_pcode, pcode, activation_id, tier, 999, size, amount, currency, 'added by SQL'
         FROM payment_list_entries WHERE list_id = $1 LIMIT 1`,
    )).rejects.toThrow(fk);
    // An entry is stored in its household's region (joins on the household rely on it).
    await expect(sqlOn(`UPDATE payment_list_entries SET region = 'elsewhere'
                          WHERE list_id = $1 AND household_id = (SELECT min(household_id) FROM payment_list_entries WHERE list_id = $1)`)).rejects.toThrow(fk);
    await expect(sqlOn(`DELETE FROM households WHERE id IN (SELECT household_id FROM payment_list_entries WHERE list_id = $1)`)).rejects.toThrow(fk);
    // (one without enrolments, whose own foreign key would refuse first)
    await expect(sqlOn(`UPDATE households h SET id = DEFAULT WHERE id IN (SELECT household_id FROM payment_list_entries WHERE list_id = $1)
                          AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.household_id = h.id)`))
      .rejects.toThrow(fk);
    await expect(t.store.transaction(({ raw }) => raw.query(`TRUNCATE households CASCADE`))).rejects.toThrow(/cannot truncate table "households": enrolments, lists, releases, payments or disbursements refer to its households/);
    // The guard looks for what refers to households: under an older snapshot it is refused first (0024).
    await expect(t.store.transaction(async ({ raw }) => {
      await raw.query(`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
      await raw.query(`TRUNCATE households CASCADE`);
    })).rejects.toThrow(/table "households" is truncated under READ COMMITTED only \(this transaction is repeatable read\)/);
    // The check sees the statement's snapshot: a longer one could miss an entry committed since.
    await expect(t.store.transaction(async ({ raw }) => {
      await raw.query(`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
      await raw.query(`DELETE FROM households WHERE id IN (SELECT household_id FROM payment_list_entries WHERE list_id = $1)`, [list.id]);
    })).rejects.toThrow(/under READ COMMITTED only \(this transaction is repeatable read\)/);
    const { rows } = await sqlOn(`SELECT count(*)::int AS n FROM payment_list_entries e JOIN households h ON h.id = e.household_id WHERE e.list_id = $1`);
    expect(rows[0]).toEqual({ n: list.households });
  });

  it('an entry names an existing list and activation; a deleted draft list takes its entries; a named activation stays', async () => {
    const sqlOn = (text: string) => t.store.transaction(({ raw }) => raw.query(text, [list.id]));
    const oneEntry = `list_id = $1 AND household_id = (SELECT min(household_id) FROM payment_list_entries WHERE list_id = $1)`;
    await expect(sqlOn(`UPDATE payment_list_entries SET list_id = -1 WHERE ${oneEntry}`))
      .rejects.toThrow(/violates foreign key constraint "payment_list_entries_list_id_fkey"/);
    await expect(sqlOn(`UPDATE payment_list_entries SET activation_id = -1 WHERE ${oneEntry}`))
      .rejects.toThrow(/violates foreign key constraint "payment_list_entries_activation_id_fkey"/);
    // Inserted: a household not on the list yet, under a list or an activation that does not exist.
    const inserted = (listId: string, activationId: string) => sqlOn(
      `INSERT INTO payment_list_entries (list_id, household_id, region, registry_id, admin_pcode, pcode, activation_id, tier, rank, size, amount, currency, reason)
       SELECT ${listId}, h.id, h.region, h.registry_id, e.admin_pcode, e.pcode, ${activationId}, e.tier, 999, e.size, e.amount, e.currency, 'added by SQL'
         FROM (SELECT * FROM payment_list_entries WHERE list_id = $1 LIMIT 1) e
        CROSS JOIN LATERAL (SELECT id, region, registry_id FROM households WHERE id NOT IN (SELECT household_id FROM payment_list_entries WHERE list_id = $1) LIMIT 1) h`,
    );
    await expect(inserted('-1', 'e.activation_id')).rejects.toMatchObject({ code: '23503', detail: 'Key (list_id)=(-1) is not present in table "payment_lists".' });
    await expect(inserted('e.list_id', '-7')).rejects.toMatchObject({ code: '23503', detail: 'Key (activation_id)=(-7) is not present in table "activations".' });
    const truncate = (table: string) => t.store.transaction(({ raw }) => raw.query(`TRUNCATE ${table} CASCADE`));
    await expect(truncate('payment_lists')).rejects.toThrow(/cannot truncate table "payment_lists": payment list entries refer to it/);
    await expect(truncate('activations')).rejects.toThrow(/cannot truncate table "activations": payment list entries refer to it/);

    // Rolled back at the end: what the deletes did is read inside the transaction.
    const rolledBack = new Error('rolled back');
    const inside = async (work: (query: (text: string) => Promise<Record<string, unknown>[]>) => Promise<void>) => {
      await expect(t.store.transaction(async ({ raw }) => {
        await work(async (text) => (await raw.query(text, text.includes('$1') ? [list.id] : [])).rows);
        throw rolledBack;
      })).rejects.toBe(rolledBack);
    };
    // An activation named by an entry alone (no list area, change or confirmation refers to it).
    for (const change of ['DELETE FROM activations WHERE id = $copy', 'UPDATE activations SET id = DEFAULT WHERE id = $copy']) {
      await inside(async (query) => {
        const [copy] = await query(`INSERT INTO activations (rule_version_id, rule_id, shock_key, pcode, stage, evidence, opened_as_of, evaluated_as_of)
                                    SELECT rule_version_id, rule_id, shock_key || ' (copy)', pcode, stage, evidence, opened_as_of, evaluated_as_of
                                      FROM activations WHERE id = (SELECT activation_id FROM payment_list_entries WHERE ${oneEntry}) RETURNING id`);
        await query(`UPDATE payment_list_entries SET activation_id = ${copy.id} WHERE ${oneEntry}`);
        await expect(query(change.replace('$copy', String(copy.id))))
          .rejects.toThrow(`update or delete on table "activations" violates foreign key constraint "payment_list_entries_activation_id_fkey" on table "payment_list_entries"`);
      });
    }
    // A list renumbered (its areas, whose own foreign key would refuse first, removed).
    await inside(async (query) => {
      await query(`DELETE FROM payment_list_areas WHERE list_id = $1`);
      await expect(query(`UPDATE payment_lists SET id = DEFAULT WHERE id = $1`))
        .rejects.toThrow(`update or delete on table "payment_lists" violates foreign key constraint "payment_list_entries_list_id_fkey" on table "payment_list_entries"`);
    });
    await inside(async (query) => {
      expect(await query(`SELECT count(*)::int AS n FROM payment_list_entries WHERE list_id = $1`)).toEqual([{ n: list.households }]);
      await query(`DELETE FROM payment_lists WHERE id = $1`);
      expect(await query(`SELECT count(*)::int AS n FROM payment_list_entries WHERE list_id = $1`)).toEqual([{ n: 0 }]);
    });
    // Deleting a list reads the entries in the statement's snapshot: READ COMMITTED only.
    await expect(t.store.transaction(async ({ raw }) => {
      await raw.query(`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
      await raw.query(`DELETE FROM payment_lists WHERE id = $1`, [list.id]);
    })).rejects.toThrow(/under READ COMMITTED only \(this transaction is repeatable read\)/);
    expect((await sqlOn(`SELECT count(*)::int AS n FROM payment_list_entries WHERE list_id = $1`)).rows).toEqual([{ n: list.households }]);
  });

  it('the one who generated cannot approve; above the threshold two different approvers are needed; the hash is stored', async () => {
    await expect(approveList(t.store, list.id, 'maker@test', list)).rejects.toThrow(/four eyes/);
    process.env.ASP_SECOND_APPROVAL_ABOVE = '5000'; // the list totals 6000
    try {
      const first = await approveList(t.store, list.id, 'checker@test', list);
      expect(first).toMatchObject({ status: 'draft', approvedBy: 'checker@test', needsSecondApproval: true });
      await expect(approveList(t.store, list.id, 'checker@test', list)).rejects.toThrow(/second must come from someone else/);
      const second = await approveList(t.store, list.id, 'director@test', list);
      expect(second).toMatchObject({ status: 'approved', secondApprovedBy: 'director@test' });
      expect(second.contentSha256).toBe(await t.store.transaction(({ raw }) => listContentHash(raw, list.id)));
    } finally {
      delete process.env.ASP_SECOND_APPROVAL_ABOVE;
    }
  });

  it('an approved list cannot be regenerated or edited, not even by SQL', async () => {
    const [activation] = await listActivations(t.store, { ruleId: 'test-lifecycle', status: 'open' });
    await expect(generateLists(t.store, activation.id, 'maker@test', { cycle: '2026-11' })).rejects.toThrow(/is approved: an approved list is never regenerated/);
    await expect(t.store.transaction(({ raw }) => raw.query(`UPDATE payment_list_entries SET amount = 1 WHERE list_id = $1`, [list.id]))).rejects.toThrow(/cannot change/);
    // The freeze is checked once per statement: every kind of statement on the entries and areas is refused whole.
    const sqlOn = (text: string) => t.store.transaction(({ raw }) => raw.query(text, [list.id]));
    const entriesBefore = await sqlOn(`SELECT household_id, amount::text FROM payment_list_entries WHERE list_id = $1 ORDER BY household_id`);
    await expect(sqlOn(`DELETE FROM payment_list_entries WHERE list_id = $1`)).rejects.toThrow(`payment list ${list.id} is approved: its entries cannot change`);
    await expect(sqlOn(`DELETE FROM payment_list_areas WHERE list_id = $1`)).rejects.toThrow(/cannot change/);
    await expect(sqlOn(`UPDATE payment_list_areas SET registered = 0 WHERE list_id = $1`)).rejects.toThrow(/cannot change/);
    const offList = await sqlOn(`SELECT count(*)::int AS n FROM households WHERE id NOT IN (SELECT household_id FROM payment_list_entries WHERE list_id = $1)`);
    expect(offList.rows[0]).toMatchObject({ n: expect.any(Number) });
    expect((offList.rows[0] as { n: number }).n).toBeGreaterThan(0);
    await expect(sqlOn(
      `INSERT INTO payment_list_entries (list_id, household_id, region, registry_id, admin_pcode, pcode, activation_id, tier, rank, size, amount, currency, reason)
       SELECT e.list_id, h.id, h.region, h.registry_id, e.admin_pcode, e.pcode, e.activation_id, e.tier, 999, e.size, e.amount, e.currency, 'added by SQL'
         FROM (SELECT * FROM payment_list_entries WHERE list_id = $1 LIMIT 1) e
        CROSS JOIN LATERAL (SELECT id, region, registry_id FROM households WHERE id NOT IN (SELECT household_id FROM payment_list_entries WHERE list_id = $1) LIMIT 1) h`,
    )).rejects.toThrow(/cannot change/);
    expect(await sqlOn(`SELECT household_id, amount::text FROM payment_list_entries WHERE list_id = $1 ORDER BY household_id`)).toEqual(entriesBefore);
    await expect(t.store.transaction(({ raw }) => raw.query(`UPDATE payment_lists SET total_amount = 1 WHERE id = $1`, [list.id]))).rejects.toThrow(/cannot be regenerated or edited/);
    await expect(t.store.transaction(({ raw }) => raw.query(`DELETE FROM payment_lists WHERE id = $1`, [list.id]))).rejects.toThrow(/cannot be deleted/);
  });

  it('a cancelled list stays on record and a new one can be generated for the cycle', async () => {
    await cancelList(t.store, list.id, 'director@test', 'wrong registry extract');
    expect(await getList(t.store, list.id)).toMatchObject({ status: 'cancelled', cancelledReason: 'wrong registry extract' });
    const [activation] = await listActivations(t.store, { ruleId: 'test-lifecycle', status: 'open' });
    const [fresh] = await generateLists(t.store, activation.id, 'maker@test', { cycle: '2026-11' });
    expect(fresh.id).not.toBe(list.id);
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ action: string }>(`SELECT action FROM audit_log WHERE subject = $1 ORDER BY id`, [`list:${list.id}`]),
    );
    expect(rows.map((r) => r.action)).toEqual(['list.generated', 'list.generated', 'list.approved', 'list.approved', 'list.cancelled']);
  });
});

describe('a household on the border between two affected areas', () => {
  it('is listed once, in the area the registry puts it in', async () => {
    // Exactly on the line between Northaven Acacia (XD01001) and Baobab (XD01002).
    await insertHouseholds(t.store, [{ id: 'E1', pcode: 'XD01002', pmt: 1, size: 2, location: [38.666667, 3.5] }]);
    const [list] = await generate(rule('test-border', `  - mode: horizontal
    households: {}
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 100, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 3 } }`, noBudget));
    expect(list.entries.filter((e) => e.id === 'E1')).toEqual([expect.objectContaining({ pcode: 'XD01002', rank: 5 })]);
    expect(list.entries).toHaveLength(13); // the twelve of XD01001 and XD01002, and E1 (after B1…B4 by registry id: no priority given)
  });
});

describe('a stop that applies only before the first notification', () => {
  const stopRule = (id: string) => rule(id, horizontal('{ kind: households, count: 1, basis: additional }'), `${noBudget}
stop:
  - when:
      indicator: { name: vci3m, source: NDMA (test), version: any, unit: VCI, spatial_unit: { admin_level: 2 }, period: monthly, threshold: { op: gte, value: 20 } }
    effect: cancel
    only_before: first_notification`);

  it('cancels an activation nobody was told about, and leaves one whose list was approved', async () => {
    await generate(stopRule('test-stop-silent'));
    const [notified] = await generate(stopRule('test-stop-notified'), 'maker@test');
    await approveList(t.store, notified.id, 'checker@test', notified);
    await publishMonth(t.store, '2026-11', { XD01001: 25, XD01002: 26 }); // the drought breaks, known on 5 December
    await evaluateActivations(t.store, { ruleId: 'test-stop-silent', asOf: '2026-12-10T00:00:00Z' });
    await evaluateActivations(t.store, { ruleId: 'test-stop-notified', asOf: '2026-12-10T00:00:00Z' });
    const silent = await listActivations(t.store, { ruleId: 'test-stop-silent' });
    expect(silent.map((a) => [a.status, a.closedReason])).toEqual([
      ['closed', expect.stringMatching(/stop condition holds → cancel/)],
      ['closed', expect.stringMatching(/stop condition holds → cancel/)],
    ]);
    const kept = await listActivations(t.store, { ruleId: 'test-stop-notified' });
    expect(kept.map((a) => a.status)).toEqual(['open', 'open']);
  });
});
