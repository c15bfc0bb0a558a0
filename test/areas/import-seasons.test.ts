import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importSeasons } from '../../src/areas/import-seasons.ts';
import { evaluationInput } from '../../src/engine/evaluation-input.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { evaluateRule } from '../../src/rules/evaluate.ts';
import { ruleSchema } from '../../src/rules/schema.ts';
import { UserError } from '../../src/errors.ts';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';

// `asp areas seasons FILE`: season calendars per area for end_of_season rules, all rows or none.

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
});
afterAll(() => t?.drop());

const stored = async () =>
  (await t.store.transaction(({ raw }) => raw.query<{ pcode: string; season: string; start_md: string; end_md: string }>(
    `SELECT pcode, season, start_md, end_md FROM area_seasons ORDER BY pcode, season`))).rows;

describe('asp areas seasons', () => {
  it('loads a calendar (any column order, extra columns ignored), says which seasons cross the new year, and replaces the calendars of the areas it names', async () => {
    const first = await tempFile('seasons.csv', 'Season,PCODE,start,end,note\nmain,XD01,06-01,10-31,rains\nshort_rains,XD02,10-01,02-28,\nlong_rains,XD02,03-01,05-31,\n');
    expect(await importSeasons(t.store, first)).toEqual({ seasons: 3, areas: ['XD01', 'XD02'], crossingYear: ['XD02 short_rains'] });
    const second = await tempFile('seasons-2.csv', 'pcode,season,start,end\nXD02,main,11-01,03-31\n');
    expect(await importSeasons(t.store, second)).toEqual({ seasons: 1, areas: ['XD02'], crossingYear: ['XD02 main'] });
    expect(await stored()).toEqual([
      { pcode: 'XD01', season: 'main', start_md: '06-01', end_md: '10-31' },
      { pcode: 'XD02', season: 'main', start_md: '11-01', end_md: '03-31' },
    ]);
  });

  it('an end_of_season rule over a district reads its region\'s calendar from the store', async () => {
    // XD01's main season runs 06-01 to 10-31 (loaded above); the October dekad's value is read.
    const csv = 'pcode,indicator,period_start,period_end,value,status,source\n'
      + 'XD01001,wrsi,2025-10-11,2025-10-20,70,final,FEWS NET\nXD01001,wrsi,2025-10-21,2025-10-31,55,final,FEWS NET\nXD01001,wrsi,2025-11-01,2025-11-10,95,final,FEWS NET\n';
    await ingestPayload(t.store, indicatorsAdapter, { source: 'indicators', bytes: Buffer.from(csv), url: 'test://wrsi.csv', fetchedAt: new Date('2025-11-12T00:00:00Z') });
    const rule = ruleSchema.parse({
      id: 'xd-wrsi', title: 'test', country: 'XDL', programme: 'CT', owner: 'test', effective: { from: '2025-01-01' }, agreed_text: 'test',
      areas: { admin_level: 2, within: ['XD01001'] },
      stages: { activation: { when: { indicator: {
        name: 'wrsi', source: 'FEWS NET', version: 'any', unit: '%', spatial_unit: { admin_level: 2 }, period: 'dekadal',
        aggregation: { method: 'end_of_season', season: 'main' }, threshold: { op: 'lt', value: 60 },
      } } } },
      response: [{ mode: 'design_tweak', households: {}, tweak: { kind: 'advance_next_payment', within_days: 10 }, benefit: { kind: 'none' } }],
    });
    const [decision] = evaluateRule(await evaluationInput(t.store, rule, '2025-11-15T00:00:00Z'));
    expect(decision.stage).toBe('activation');
    expect(decision.evidence).toContainEqual(expect.objectContaining({ kind: 'indicator', value: 55, season: { season: 'main', start: '2025-06-01', end: '2025-10-31', calendarOf: 'XD01' } }));
  });

  it('names the line and column of every bad row and loads nothing', async () => {
    const before = await stored();
    const file = await tempFile('bad-seasons.csv', [
      'pcode,season,start,end',
      'XD03,main,06-01,10-31',
      'xd04,Main Season,6-1,10-31',
      'XD03,main,07-01,02-29',
      'XD04,dry,04-31,',
    ].join('\n'));
    const error = await importSeasons(t.store, file).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`${file}: 7 problem(s); nothing was loaded`);
    expect(error.details).toEqual([
      `${file}: line 3, column pcode: "xd04" is not a P-code (two capital letters then capitals or digits, e.g. NE003)`,
      `${file}: line 3, column season: "Main Season" must be lower-case letters, digits and _, starting with a letter (e.g. main, long_rains)`,
      `${file}: line 3, column start: "6-1" is not a day of the year written MM-DD (e.g. 06-01)`,
      `${file}: line 4, column end: 02-29 does not occur every year; use 02-28 or 03-01`,
      `${file}: line 4, column season: XD03 main is already given on line 2`,
      `${file}: line 5, column start: "04-31" is not a day of the year written MM-DD (e.g. 06-01)`,
      `${file}: line 5, column end: is empty`,
    ]);
    expect(await stored()).toEqual(before);
  });

  it('refuses areas that are not loaded, and a file without the columns, loading nothing', async () => {
    const before = await stored();
    const unknown = await tempFile('unknown-seasons.csv', 'pcode,season,start,end\nXD03,main,06-01,10-31\nXD99,main,06-01,10-31\n');
    const error = await importSeasons(t.store, unknown).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.details).toEqual([`${unknown}: line 3, column pcode: XD99 is not an admin area (load the boundaries first: asp areas import)`]);
    const noEnd = await importSeasons(t.store, await tempFile('no-end.csv', 'pcode,season,start\nXD03,main,06-01\n')).catch((e) => e);
    expect(noEnd.message).toMatch(/the header has no end column\(s\); it must have pcode,season,start,end/);
    expect(await stored()).toEqual(before);
  });

  it('runs from the command line: exit 0 with a summary, exit 2 with the problems', async () => {
    const good = await tempFile('cli-seasons.csv', 'pcode,season,start,end\nXD03,main,06-01,10-31\n');
    const bad = await tempFile('cli-bad-seasons.csv', 'pcode,season,start,end\nXD03,main,13-01,10-31\n');
    await t.store.close();
    try {
      const ok = await runAsp([...t.cliArgs, 'areas', 'seasons', good]);
      expect(ok).toMatchObject({ code: 0, stderr: '' });
      expect(ok.stdout).toContain(`${good}: 1 season(s) for 1 area(s)`);
      const refused = await runAsp([...t.cliArgs, 'areas', 'seasons', bad]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`line 2, column start: "13-01" is not a day of the year written MM-DD`);
    } finally {
      await t.reopen();
    }
  });
});
