import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importAreas } from '../../src/areas/import-areas.ts';
import { recordDeclaration } from '../../src/engine/declarations.ts';
import { approveList } from '../../src/lists/lifecycle.ts';
import { upsertProgramme } from '../../src/registry/programmes.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';
import { insertHouseholds, type TestHousehold } from '../support/households.ts';
import { generateCycle } from '../support/list-cycle.ts';
import { projectRoot } from '../support/paths.ts';
import { approveRuleText } from '../support/rules.ts';

/**
 * The two BISP flood-relief examples (rules/examples/pk-bisp-*.yaml, used as written) over a
 * constructed history of the 2022 floods whose right lists are worked out by hand below.
 *
 * Places (fixtures: boxes, not the real boundaries): country PK, a province PK8, a district PK801,
 * two tehsils PK80101 and PK80102, both notified calamity-hit by one NDMA notification of 25 August.
 *
 * NSER families, ranked by PMT score (lower is poorer); the bottom 60 % of each tehsil qualify
 * (percent_rank ≤ 0.6 among the tehsil's families with a score):
 *   PK80101: N1 10, N2 20, N3 30, N4 40, N5 50 → ranks 0, .25, .5, .75, 1 → N1, N2, N3
 *   PK80102: M1 10, M2 20, M3 30                → ranks 0, .5, 1          → M1, M2
 * N2 and M1 are one family registered in both tehsils (the same CNIC 42101-0000002-1): M1 is
 * poorer, so M1 is paid and N2 is the duplicate.
 */
const EXAMPLES = path.join(projectRoot, 'rules/examples');
const cnic = (n: number) => `42101-${String(n).padStart(7, '0')}-1`;

const NSER: TestHousehold[] = [
  { id: 'N1', pcode: 'PK80101', pmt: 10, attributes: { cnic: cnic(1) } },
  { id: 'N2', pcode: 'PK80101', pmt: 20, attributes: { cnic: cnic(2) } },
  { id: 'N3', pcode: 'PK80101', pmt: 30, attributes: { cnic: cnic(3) } },
  { id: 'N4', pcode: 'PK80101', pmt: 40, attributes: { cnic: cnic(4) } },
  { id: 'N5', pcode: 'PK80101', pmt: 50, attributes: { cnic: cnic(5) } },
  { id: 'M1', pcode: 'PK80102', pmt: 10, attributes: { cnic: cnic(2) } },
  { id: 'M2', pcode: 'PK80102', pmt: 20, attributes: { cnic: cnic(7) } },
  { id: 'M3', pcode: 'PK80102', pmt: 30, attributes: { cnic: cnic(8) } },
];

function box(pcode: string, level: number, parent: string | null, [west, south, east, north]: number[]) {
  return {
    type: 'Feature',
    properties: { [`ADM${level}_PCODE`]: pcode, [`ADM${level}_EN`]: `Test ${pcode}`, ...(parent ? { [`ADM${level - 1}_PCODE`]: parent } : {}), ISO3: 'PAK' },
    geometry: { type: 'Polygon', coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]] },
  };
}

async function importLevel(level: number, features: object[]) {
  const file = await tempFile(`pk-adm${level}.json`, JSON.stringify({ type: 'FeatureCollection', features }));
  await importAreas(t.store, file, { level, ...(level === 1 ? { parentField: 'ADM0_PCODE' } : {}) });
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await importLevel(0, [box('PK', 0, null, [66, 24, 70, 28])]);
  await importLevel(1, [box('PK8', 1, 'PK', [66, 24, 70, 28])]);
  await importLevel(2, [box('PK801', 2, 'PK8', [67, 25, 69, 27])]);
  await importLevel(3, [box('PK80101', 3, 'PK801', [67, 25, 68, 27]), box('PK80102', 3, 'PK801', [68, 25, 69, 27])]);
  await upsertProgramme(t.store, { code: 'BISP', name: 'Benazir Income Support Programme', currency: 'PKR', base_amount: 8500, frequency: 'quarterly' });
  await insertHouseholds(t.store, NSER);
  await recordDeclaration(t.store, {
    id: 'NDMA-FLOOD-2022-08-25', kind: 'notified_calamity', hazard: 'flood', issuer: 'NDMA', date: '2022-08-25',
    document: { reference: 'NDMA notification of calamity-hit tehsils, 25 August 2022' }, areas: { pcodes: ['PK80101', 'PK80102'] },
  }, 'coordinator@test');
  // Recorded when it was issued (the history is replayed; a declaration counts from its recording).
  await t.store.transaction(({ raw }) => raw.query(`UPDATE declarations SET recorded_at = '2022-08-25T12:00:00Z'`));
});
afterAll(() => t?.drop());


const example = async (id: string) => approveRuleText(t.store, await readFile(path.join(EXAMPLES, `${id}.yaml`), 'utf8'));

describe('pk-bisp-flood-relief: PKR 25,000 once per family for the 2022 floods, over two cycles', () => {
  it('August: the bottom 60 % of each notified tehsil, one payment per CNIC', async () => {
    const ruleId = await example('pk-bisp-flood-relief');
    const august = await generateCycle(t.store, ruleId, '2022-08-26T00:00:00Z', '2022-08');
    expect(august.ids).toEqual(['M1', 'M2', 'N1', 'N3']);
    expect(august.excluded).toEqual({ 'duplicate cnic': 1, 'not eligible': 3 });
    expect(august.totalAmount).toBe(100000);
    await approveList(t.store, august.id, 'bisp.checker@test', august);
  });

  it('September: a newly surveyed poorest family is paid; the August families are not paid again; the envelope is what August left', async () => {
    // N6 (PMT 5) enters NSER: PK80101's ranks become N6 0, N1 .2, N2 .4, N3 .6, N4 .8, N5 1.
    await insertHouseholds(t.store, [{ id: 'N6', pcode: 'PK80101', pmt: 5, attributes: { cnic: cnic(6) } }]);
    const september = await generateCycle(t.store, 'pk-bisp-flood-relief', '2022-09-05T00:00:00Z', '2022-09');
    expect(september.ids).toEqual(['N6']);
    expect(september.excluded).toEqual({ 'already paid 1 of 1 payments for this shock': 4, 'duplicate cnic': 1, 'not eligible': 3 });
    expect(september.totalAmount).toBe(25000);
    expect(september.notes).toContain('envelope per shock (shock declaration:NDMA-FLOOD-2022-08-25): 70000000000 PKR, of which 100000 taken by earlier approved lists of pk-bisp-flood-relief; 69999900000 left for this list');
    await approveList(t.store, september.id, 'bisp.checker@test', september);
  });
});

describe('pk-bisp-8171-intake: the SMS intake, one entry per CNIC, exclusive with the NSER list for the same floods', () => {
  it('leaves out a CNIC already paid from NSER, keeps one of two SMS with the same CNIC, and pays only verified registrations', async () => {
    await insertHouseholds(t.store, [
      { id: 'S1', pcode: 'PK80101', attributes: { cnic: cnic(1), registered_via: 'sms_8171', intake_verified: 'yes' } }, // N1's family, paid in August
      { id: 'S2', pcode: 'PK80102', attributes: { cnic: cnic(20), registered_via: 'sms_8171', intake_verified: 'yes' } },
      { id: 'S3', pcode: 'PK80102', attributes: { cnic: cnic(20), registered_via: 'sms_8171', intake_verified: 'yes' } }, // S2 sent a second SMS
      { id: 'S4', pcode: 'PK80101', attributes: { cnic: cnic(21), registered_via: 'sms_8171', intake_verified: 'no' } },
      { id: 'S5', pcode: 'PK80101', attributes: { cnic: cnic(22), registered_via: 'sms_8171', intake_verified: 'yes' } },
    ]);
    const ruleId = await example('pk-bisp-8171-intake');
    const intake = await generateCycle(t.store, ruleId, '2022-09-20T00:00:00Z', '2022-09');
    expect(intake.ids).toEqual(['S2', 'S5']);
    expect(intake.excluded).toEqual({
      'already on a list of pk-bisp-flood-relief for this shock': 1, 'duplicate cnic': 1, 'not eligible': 10,
    });
    expect(intake.totalAmount).toBe(50000);
  });
});
