import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as turf from '@turf/turf';
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeActivation, confirmActivation, evaluateActivations, forceActivation, getActivation, listActivations, rejectActivation,
} from '../../src/engine/activations.ts';
import { recordDeclaration } from '../../src/engine/declarations.ts';
import { gdacsAdapter } from '../../src/feeds/adapters/gdacs.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { retireRule } from '../../src/rules/versions.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { approveRuleText, publishMonth } from '../support/rules.ts';
import { projectRoot } from '../support/paths.ts';

/**
 * Activations through the real store: rules loaded and approved, feed payloads ingested as they
 * would be published, `evaluateActivations` as the scheduler and `asp evaluate` run it.
 */

const HEADER = `title: Test rule
country: XDL
programme: CT
owner: Test ministry
effective: { from: 2020-01-01 }
agreed_text: A rule written for this test.
response:
  - mode: vertical
    households: { eligibility: { enrolled_in: [CT] } }
    benefit: { kind: flat, amount: 1000, currency: KES }
    payments: { frequency: monthly, count: 3, start: { days_after_activation: 7 } }
budget:
  envelope: { amount: 100000000, currency: KES, per: activation }
  over_budget: [stop_when_exhausted]
`;

const VCI = `name: vci3m
        source: NDMA (test)
        version: any
        unit: VCI
        spatial_unit: { admin_level: 2 }
        period: monthly`;

/** Two tiers on VCI-3M like HSNP: extreme < 10 ≤ severe < 20; VCI ≥ 20 stops payments. */
const droughtRule = (id: string, extra = '') => `id: ${id}
${HEADER}areas: { admin_level: 2, within: [XD01] }
stages:
  activation:
    when:
      indicator:
        id: vci
        ${VCI}
        bands: [{ name: extreme, max: 10 }, { name: severe, min: 10, max: 20 }, { name: normal, min: 20 }]
        triggering_bands: [extreme, severe]
tiers:
  - { id: severe, severity: 1, when: { in_band: { trigger: vci, bands: [severe] } } }
  - { id: extreme, severity: 2, when: { in_band: { trigger: vci, bands: [extreme] } } }
scale_down:
  when:
    indicator:
      ${VCI.replace(/\n {8}/g, '\n      ')}
      threshold: { op: gte, value: 20 }
  effect: stop_payments
${extra}`;

/** Readiness on VCI < 20; activation also needs a coordinator's confirmation. */
const gatedRule = `id: test-gated
${HEADER}areas: { admin_level: 2, within: [XD02] }
stages:
  readiness:
    when:
      indicator:
        ${VCI}
        threshold: { op: lt, value: 20 }
  activation:
    when:
      all:
        - indicator:
            ${VCI.replace(/\n {8}/g, '\n            ')}
            threshold: { op: lt, value: 20 }
        - gate: { kind: coordinator_confirmation, by: county coordinator, description: field check confirms crop failure }
`;

const eventRule = `id: test-gdacs
${HEADER}areas: { admin_level: 2, within: [XD01, XD02, XD03, XD04] }
stages:
  activation:
    when: { event: { source: gdacs, hazard: drought, min_alert_level: orange } }
tiers:
  - { id: orange, severity: 1, when: { event: { source: gdacs, hazard: drought, min_alert_level: orange } } }
  - { id: red, severity: 2, when: { event: { source: gdacs, hazard: drought, min_alert_level: red } } }
`;

const declarationRule = `id: test-declared
${HEADER}areas: { admin_level: 2, within: [XD03, XD04] }
stages:
  activation:
    when: { declaration: { kinds: [state_of_calamity], hazards: [flood] } }
`;

const publishVci = (t: TestDatabase, month: string, values: Record<string, number>) => publishMonth(t.store, month, values);
const approve = (t: TestDatabase, _name: string, yaml: string) => approveRuleText(t.store, yaml);

const open = async (t: TestDatabase, ruleId: string) => listActivations(t.store, { status: 'open', ruleId });

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
});
afterAll(() => t?.drop());

describe('activations from an indicator rule (HSNP-like VCI tiers)', () => {
  beforeAll(async () => {
    await approve(t, 'test-drought.yaml', droughtRule('test-drought'));
    await publishVci(t, '2026-06', { XD01001: 25, XD01002: 30 });
    await publishVci(t, '2026-07', { XD01001: 15, XD01002: 30 });
    await publishVci(t, '2026-08', { XD01001: 9.9, XD01002: 19.99 });
    await publishVci(t, '2026-09', { XD01001: 10, XD01002: 20 });
    await publishVci(t, '2026-10', { XD01001: 22, XD01002: 20 });
    await publishVci(t, '2026-11', { XD01001: 12, XD01002: 21 });
  });

  it('uses only what was published by the date: July is unknown on 4 August, known on 6 August', async () => {
    const early = await evaluateActivations(t.store, { asOf: '2026-08-04T23:59:59Z', ruleId: 'test-drought' });
    expect(early.opened).toBe(0);
    const known = await evaluateActivations(t.store, { asOf: '2026-08-06T00:00:00Z', ruleId: 'test-drought' });
    expect(known.opened).toBe(1);
    const [a] = await open(t, 'test-drought');
    expect(a).toMatchObject({ pcode: 'XD01001', stage: 'activation', tier: 'severe', shockKey: 'indicator:vci3m:2026-07-01' });
    expect(a.evidence).toContainEqual(expect.objectContaining({ kind: 'indicator', value: 15, periodStart: '2026-07-01', test: '10 ≤ 15 < 20 → severe (triggering)' }));
  });

  it('evaluating again with nothing new creates nothing and changes nothing', async () => {
    const before = await getActivation(t.store, (await open(t, 'test-drought'))[0].id);
    const again = await evaluateActivations(t.store, { asOf: '2026-08-20T00:00:00Z', ruleId: 'test-drought' });
    expect(again).toMatchObject({ opened: 0, updated: 0, closed: 0, unchanged: 1 });
    const after = await getActivation(t.store, before.id);
    expect(after.changes).toEqual(before.changes);
    expect(await listActivations(t.store, { ruleId: 'test-drought' })).toHaveLength(1);
  });

  it('the same episode moves on: severe → extreme (scale-up) keeps the activation; a second area opens its own', async () => {
    const summary = await evaluateActivations(t.store, { asOf: '2026-09-06T00:00:00Z', ruleId: 'test-drought' });
    expect(summary).toMatchObject({ opened: 1, updated: 1 });
    const rows = await open(t, 'test-drought');
    expect(rows.map((a) => [a.pcode, a.tier, a.shockKey])).toEqual([
      ['XD01001', 'extreme', 'indicator:vci3m:2026-07-01'],
      ['XD01002', 'severe', 'indicator:vci3m:2026-08-01'], // 19.99 < 20: severe
    ]);
    const history = await getActivation(t.store, rows[0].id);
    expect(history.changes.map((c) => [c.change, c.fromValue, c.toValue])).toEqual([
      ['opened', null, 'activation (severe)'],
      ['tier', 'severe', 'extreme'],
    ]);
  });

  it('on the band edges: 10 is severe (scale-down tier), 20 stops payments and closes the activation with the reason', async () => {
    const summary = await evaluateActivations(t.store, { asOf: '2026-10-06T00:00:00Z', ruleId: 'test-drought' });
    expect(summary).toMatchObject({ opened: 0, updated: 1, closed: 1 });
    const [xd01001] = await open(t, 'test-drought');
    expect(xd01001).toMatchObject({ pcode: 'XD01001', tier: 'severe' });
    const [closed] = await listActivations(t.store, { status: 'closed', ruleId: 'test-drought' });
    expect(closed.pcode).toBe('XD01002');
    expect(closed.closedReason).toMatch(/scale_down condition holds → stop_payments/);
  });

  it('after the stop, a new drought in the same area is a new activation (a new shock)', async () => {
    await evaluateActivations(t.store, { asOf: '2026-11-06T00:00:00Z', ruleId: 'test-drought' }); // October: 22 → closes
    expect(await open(t, 'test-drought')).toHaveLength(0);
    await evaluateActivations(t.store, { asOf: '2026-12-06T00:00:00Z', ruleId: 'test-drought' }); // November: 12 → severe
    const [again] = await open(t, 'test-drought');
    expect(again).toMatchObject({ pcode: 'XD01001', tier: 'severe', shockKey: 'indicator:vci3m:2026-11-01' });
    expect(await listActivations(t.store, { ruleId: 'test-drought' })).toHaveLength(3);
  });

  it('a cool-down keeps a closed area from opening again too soon', async () => {
    await approve(t, 'test-cooldown.yaml', droughtRule('test-cooldown', 'cool_down: { days: 60 }\n'));
    await evaluateActivations(t.store, { asOf: '2026-10-06T00:00:00Z', ruleId: 'test-cooldown' }); // XD01001 severe (10)
    await evaluateActivations(t.store, { asOf: '2026-11-06T00:00:00Z', ruleId: 'test-cooldown' }); // 22 → closed
    const within = await evaluateActivations(t.store, { asOf: '2026-12-06T00:00:00Z', ruleId: 'test-cooldown' });
    expect(within.opened).toBe(0);
    expect(within.coolingDown).toEqual([{ ruleId: 'test-cooldown', pcode: 'XD01001', until: '2027-01-05T00:00:00Z' }]);
    const after = await evaluateActivations(t.store, { asOf: '2027-01-06T00:00:00Z', ruleId: 'test-cooldown' });
    expect(after.opened).toBe(1);
  });

  it('a retired rule version evaluates no more and its open activations close', async () => {
    await retireRule(t.store, 'test-cooldown', 'rule.approver@test');
    const summary = await evaluateActivations(t.store, { asOf: '2027-01-07T00:00:00Z', ruleId: 'test-cooldown' });
    expect(summary.rules).toEqual([]);
    expect(await open(t, 'test-cooldown')).toEqual([]);
    const [last] = (await listActivations(t.store, { ruleId: 'test-cooldown' })).slice(-1);
    expect(last.closedReason).toMatch(/no longer approved/);
  });
});

describe('a manual gate: coordinators confirm, reject or force', () => {
  beforeAll(async () => {
    await approve(t, 'test-gated.yaml', gatedRule);
    await publishVci(t, '2026-05', { XD02001: 12, XD02002: 14, XD02003: 16 });
  });

  it('waits at readiness, naming the gate, until a coordinator confirms; then it activates', async () => {
    await evaluateActivations(t.store, { asOf: '2026-06-10T00:00:00Z', ruleId: 'test-gated' });
    const rows = await open(t, 'test-gated');
    expect(rows.map((a) => [a.pcode, a.stage, a.waitingFor])).toEqual([
      ['XD02001', 'readiness', ['coordinator_confirmation: county coordinator']],
      ['XD02002', 'readiness', ['coordinator_confirmation: county coordinator']],
      ['XD02003', 'readiness', ['coordinator_confirmation: county coordinator']],
    ]);
    await expect(confirmActivation(t.store, rows[0].id, 'coordinator@test', '')).rejects.toThrow(/--reason/);
    const confirmed = await confirmActivation(t.store, rows[0].id, 'coordinator@test', 'field check report 2026-06-09');
    expect(confirmed).toMatchObject({ stage: 'activation', waitingFor: [], confirmedBy: 'coordinator@test' });
    expect(confirmed.evidence).toContainEqual(expect.objectContaining({ kind: 'gate', satisfied: true }));
    // The confirmation is for that area only.
    const others = (await open(t, 'test-gated')).filter((a) => a.pcode !== 'XD02001');
    expect(others.every((a) => a.stage === 'readiness')).toBe(true);
  });

  it('a rejected activation stays rejected when the rule is evaluated again', async () => {
    const target = (await open(t, 'test-gated')).find((a) => a.pcode === 'XD02002')!;
    await rejectActivation(t.store, target.id, 'coordinator@test', 'pasture fine on the ground');
    const summary = await evaluateActivations(t.store, { asOf: '2026-06-11T00:00:00Z', ruleId: 'test-gated' });
    expect(summary.opened).toBe(0);
    const after = await getActivation(t.store, target.id);
    expect(after).toMatchObject({ status: 'rejected', closedBy: 'coordinator@test', closedReason: 'pasture fine on the ground' });
    await expect(confirmActivation(t.store, target.id, 'coordinator@test', 'changed my mind')).rejects.toThrow(/is rejected/);
  });

  it('a forced activation overrides the gate and keeps its stage through evaluation', async () => {
    const target = (await open(t, 'test-gated')).find((a) => a.pcode === 'XD02003')!;
    const forced = await forceActivation(t.store, target.id, 'coordinator@test', 'assessment delayed, needs are clear');
    expect(forced).toMatchObject({ stage: 'activation', forced: true, waitingFor: [] });
    await evaluateActivations(t.store, { asOf: '2026-06-12T00:00:00Z', ruleId: 'test-gated' });
    expect(await getActivation(t.store, target.id)).toMatchObject({ status: 'open', stage: 'activation', forced: true, waitingFor: [] });
    const closed = await closeActivation(t.store, target.id, 'coordinator@test', 'response finished');
    expect(closed).toMatchObject({ status: 'closed', closedReason: 'response finished' });
    const history = (await getActivation(t.store, target.id)).changes.map((c) => [c.change, c.actor]);
    expect(history).toEqual([['opened', 'engine'], ['forced', 'coordinator@test'], ['closed', 'coordinator@test']]);
  });

  it('the history cannot be rewritten', async () => {
    await expect(t.store.transaction(({ raw }) => raw.query(`UPDATE activation_changes SET actor = 'someone else'`))).rejects.toThrow(/append-only/);
    await expect(t.store.transaction(({ raw }) => raw.query(`DELETE FROM gate_confirmations`))).rejects.toThrow(/append-only/);
  });
});

describe('an event rule: a new episode of the same event moves the existing activation', () => {
  let geometry: FeatureCollection;
  const episode = async (n: number, alert: 'Orange' | 'Red', modified: string) => {
    const payload = structuredClone(geometry);
    for (const f of payload.features) Object.assign(f.properties!, { episodeid: n, alertlevel: alert, episodealertlevel: alert, datemodified: modified });
    await ingestPayload(t.store, gdacsAdapter, {
      source: 'gdacs', bytes: Buffer.from(JSON.stringify(payload)), url: `test://gdacs-ep${n}.json`, fetchedAt: new Date(`${modified}Z`),
    });
  };
  beforeAll(async () => {
    geometry = JSON.parse(await readFile(path.join(projectRoot, 'data/demo/feeds/gdacs-dr9900001-ep3-geometry.json'), 'utf8'));
    await approve(t, 'test-gdacs.yaml', eventRule);
  });

  it('opens one activation per district the footprint touches, then moves them to red on the next episode', async () => {
    await episode(3, 'Orange', '2026-11-20T09:00:00');
    const first = await evaluateActivations(t.store, { asOf: '2026-11-21T00:00:00Z', ruleId: 'test-gdacs' });
    const rows = await open(t, 'test-gdacs');
    // Independent check: the districts whose polygons intersect the drought footprint, by turf.
    const districts = JSON.parse(await readFile(path.join(projectRoot, 'data/demo/demoland-adm2.geojson'), 'utf8')) as FeatureCollection<Polygon | MultiPolygon>;
    const footprint = geometry.features.find((f) => f.properties!.Class === 'Poly_area') as Feature<Polygon | MultiPolygon>;
    const expected = districts.features.filter((d) => turf.booleanIntersects(d, footprint)).map((d) => String(d.properties!.ADM2_PCODE)).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(rows.map((a) => a.pcode)).toEqual(expected);
    expect(first.opened).toBe(expected.length);
    expect(rows.every((a) => a.shockKey === 'gdacs:DR9900001' && a.tier === 'orange')).toBe(true);

    await episode(4, 'Red', '2026-11-27T09:00:00');
    const second = await evaluateActivations(t.store, { asOf: '2026-11-28T00:00:00Z', ruleId: 'test-gdacs' });
    expect(second).toMatchObject({ opened: 0, updated: expected.length });
    const moved = await open(t, 'test-gdacs');
    expect(moved.map((a) => a.id)).toEqual(rows.map((a) => a.id));
    expect(moved.every((a) => a.tier === 'red')).toBe(true);
    expect(moved[0].evidence).toContainEqual(expect.objectContaining({ kind: 'event', externalId: 'DR9900001', version: '4', alert: 'red' }));
  });
});

describe('declarations', () => {
  beforeAll(async () => {
    await approve(t, 'test-declared.yaml', declarationRule);
  });

  it('a state of calamity for flood, naming districts, activates exactly those districts', async () => {
    await recordDeclaration(t.store, {
      id: 'XD-NDRRMC-2026-001', kind: 'state_of_calamity', hazard: 'flood', issuer: 'Demoland disaster council', date: '2026-11-01',
      document: { reference: 'Proclamation 14 s. 2026' }, areas: { pcodes: ['XD03001', 'XD03002'] },
    }, 'coordinator@test');
    await evaluateActivations(t.store, { ruleId: 'test-declared' });
    const rows = await open(t, 'test-declared');
    expect(rows.map((a) => [a.pcode, a.shockKey])).toEqual([
      ['XD03001', 'declaration:XD-NDRRMC-2026-001'],
      ['XD03002', 'declaration:XD-NDRRMC-2026-001'],
    ]);
  });

  it('a declaration for another hazard does not count; a bad P-code is refused and nothing is stored', async () => {
    await recordDeclaration(t.store, {
      id: 'XD-DROUGHT-1', kind: 'state_of_calamity', hazard: 'drought', issuer: 'Demoland disaster council', date: '2026-11-02',
      document: { reference: 'Proclamation 15' }, areas: { pcodes: ['XD04001'] },
    }, 'coordinator@test');
    await evaluateActivations(t.store, { ruleId: 'test-declared' });
    expect((await open(t, 'test-declared')).map((a) => a.pcode)).toEqual(['XD03001', 'XD03002']);
    await expect(recordDeclaration(t.store, {
      id: 'XD-BAD', kind: 'state_of_calamity', hazard: 'flood', issuer: 'x', date: '2026-11-02', document: { reference: 'y' }, areas: { pcodes: ['XD09999'] },
    }, 'coordinator@test')).rejects.toThrow(/unknown P-code\(s\) XD09999/);
    await expect(recordDeclaration(t.store, { id: 'XD-BAD2', kind: 'rumour' }, 'coordinator@test')).rejects.toThrow(/not valid/);
  });

  it('asp declare with a drawn polygon and asp activations on the command line', async () => {
    // A polygon over the middle of XD04's first district only: take its centroid and draw a small square.
    const districts = JSON.parse(await readFile(path.join(projectRoot, 'data/demo/demoland-adm2.geojson'), 'utf8')) as FeatureCollection<Polygon>;
    const target = districts.features.find((d) => d.properties!.ADM2_PCODE === 'XD04003')!;
    const [x, y] = turf.centroid(target).geometry.coordinates;
    const square = turf.bboxPolygon([x - 0.05, y - 0.05, x + 0.05, y + 0.05]);
    const polygonFile = await tempFile('drawn.geojson', JSON.stringify(square));
    await t.store.close();
    try {
      const declared = await runAsp([...t.cliArgs, '--json', 'declare', '--id', 'XD-FLOOD-DRAWN', '--kind', 'state_of_calamity', '--hazard', 'flood',
        '--issuer', 'Demoland disaster council', '--date', '2026-11-03', '--document', 'Proclamation 16', '--polygon', polygonFile, '--by', 'coordinator@test']);
      expect(declared.stderr).toBe('');
      expect(declared.code).toBe(0);
      expect(JSON.parse(declared.stdout).evaluation.opened).toBe(1);
      const list = await runAsp([...t.cliArgs, 'activations', 'list', '--rule', 'test-declared', '--status', 'open']);
      expect(list.stdout).toMatch(/XD04003 .*declaration:XD-FLOOD-DRAWN {2}activation/);
      const id = /#(\d+) {2}test-declared {2}XD04003/.exec(list.stdout)![1];
      const show = await runAsp([...t.cliArgs, 'activations', 'show', id]);
      expect(show.stdout).toMatch(/declaration state_of_calamity for flood: satisfied 2026-11-03/);
      const noReason = await runAsp([...t.cliArgs, 'activations', 'reject', id, '--by', 'coordinator@test']);
      expect(noReason.code).toBe(2);
      expect(noReason.stderr).toMatch(/--reason/);
      const again = await runAsp([...t.cliArgs, '--json', 'evaluate', '--rule', 'test-declared']);
      expect(JSON.parse(again.stdout)).toMatchObject({ opened: 0, closed: 0, unchanged: 3 });
    } finally {
      await t.reopen();
    }
  });
});
