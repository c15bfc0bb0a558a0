import { readFile, stat } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { UserError } from '../../src/errors.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { registryWorld } from '../support/registry-world.ts';
import { tempFile } from '../support/files.ts';

const world = registryWorld();

const HEADER = 'registry_id,admin_pcode,lat,lon,size,pmt_score,programmes,payment_channel,payment_account,village';
const households = () => world.t.store.db.selectFrom('households').selectAll().orderBy('registry_id').execute();
const enrolments = () =>
  world.t.store.db
    .selectFrom('enrolments').innerJoin('households', 'households.id', 'enrolments.household_id')
    .select(['registry_id', 'programme_code', 'status']).orderBy('registry_id').orderBy('programme_code').execute();

describe('a good file', () => {
  it('imports every household with its fields, extra columns as attributes, and enrolments', async () => {
    const file = await tempFile('good.csv', [
      HEADER,
      'HH-1,XD01001,,,4,12.5,CT,mobile_money,0700000001,Kalacha',
      'HH-2,XD02004,,,1,80,CT;OPG,bank,ACC-2,',
      'HH-3,XD03002,,,7,,,,,"Far, far away"',
    ].join('\n') + '\n');
    const report = await importRegistry(world.t.store, file);
    expect(report).toMatchObject({ rows: 3, inserted: 3, updated: 0, rejected: 0, problems: [] });
    const rows = await households();
    expect(rows.map((h) => [h.registry_id, h.admin_pcode, h.size, h.pmt_score, h.payment_channel, h.payment_account, h.attributes])).toEqual([
      ['HH-1', 'XD01001', 4, 12.5, 'mobile_money', '0700000001', { village: 'Kalacha' }],
      ['HH-2', 'XD02004', 1, 80, 'bank', 'ACC-2', {}],
      ['HH-3', 'XD03002', 7, null, null, null, { village: 'Far, far away' }],
    ]);
    expect(await enrolments()).toEqual([
      { registry_id: 'HH-1', programme_code: 'CT', status: 'active' },
      { registry_id: 'HH-2', programme_code: 'CT', status: 'active' },
      { registry_id: 'HH-2', programme_code: 'OPG', status: 'active' },
    ]);
  });

  it('derives the P-code of a household from lat/lon at the lowest admin level', async () => {
    // Northaven Acacia (XD01001) spans 38–38.67 E, 3–4 N; Westmere's first district starts at 40 E, 1 N.
    const file = await tempFile('located.csv', 'registry_id,lat,lon\nP-1,3.5,38.2\nP-2,0.5,41.9\n');
    await importRegistry(world.t.store, file);
    const rows = await world.t.store.db
      .selectFrom('households')
      .select(['registry_id', 'admin_pcode', sql<number>`ST_X(location)`.as('x'), sql<number>`ST_Y(location)`.as('y')])
      .orderBy('registry_id').execute();
    expect(rows).toEqual([
      { registry_id: 'P-1', admin_pcode: 'XD01001', x: 38.2, y: 3.5 },
      { registry_id: 'P-2', admin_pcode: 'XD04006', x: 41.9, y: 0.5 },
    ]);
  });

  it('upserts by registry_id on re-import: values change, nothing is duplicated, attributes merge', async () => {
    await importRegistry(world.t.store, await tempFile('v1.csv', `${HEADER}\nHH-1,XD01001,,,4,12.5,CT,mobile_money,0700,Kalacha\n`));
    const second = await importRegistry(
      world.t.store,
      await tempFile('v2.csv', 'registry_id,admin_pcode,size,programmes,livestock\nHH-1,XD01002,5,OPG,3\nHH-9,XD01002,2,,\n'),
    );
    expect(second).toMatchObject({ inserted: 1, updated: 1, unchanged: 0 });
    const [hh1, hh9] = await households();
    expect(hh1).toMatchObject({ admin_pcode: 'XD01002', size: 5, pmt_score: 12.5, payment_account: '0700', attributes: { village: 'Kalacha', livestock: '3' } });
    expect(hh9.registry_id).toBe('HH-9');
    // The programmes column is the household's current list: CT ended, OPG began.
    expect(await enrolments()).toEqual([
      { registry_id: 'HH-1', programme_code: 'CT', status: 'exited' },
      { registry_id: 'HH-1', programme_code: 'OPG', status: 'active' },
    ]);
  });

  it('counts a re-import of the same file as unchanged, and changes nothing', async () => {
    const file = await tempFile('same.csv', `${HEADER}\nHH-1,XD01001,,,4,12.5,CT,mobile_money,0700,Kalacha\nHH-2,XD01002,,,2,40,,bank,B-2,\n`);
    await importRegistry(world.t.store, file);
    const before = await households();
    const again = await importRegistry(world.t.store, file);
    expect(again).toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });
    expect(await households()).toEqual(before);
  });

  it('enrols everybody in --programme', async () => {
    const report = await importRegistry(world.t.store, await tempFile('prog.csv', 'registry_id,admin_pcode\nA,XD01001\nB,XD01002\n'), { programme: 'OPG' });
    expect(report.enrolled).toBe(2);
    expect((await enrolments()).map((e) => `${e.registry_id}:${e.programme_code}:${e.status}`)).toEqual(['A:OPG:active', 'B:OPG:active']);
  });

  it('reads a header with a byte-order mark, spaces and capitals, and Windows line ends', async () => {
    const file = await tempFile('bom.csv', '\uFEFFRegistry_ID , Admin_Pcode,Size\r\nW-1,XD01001,3\r\n');
    await importRegistry(world.t.store, file);
    expect((await households()).map((h) => [h.registry_id, h.admin_pcode, h.size])).toEqual([['W-1', 'XD01001', 3]]);
  });
});

describe('a file with bad rows', () => {
  const badFile = () =>
    tempFile('bad.csv', [
      HEADER,
      'OK-1,XD01001,,,4,10,CT,mobile_money,0701,a', // line 2
      'BAD-1,XD01001,,,four,10,,,,b', // line 3: size
      'OK-2,XD01002,,,2,20,,,,"two', // line 4-5: a quoted line break
      'lines"',
      'OK-3,XD99999,,,3,30,,,,c', // line 6: unknown P-code
      'OK-1,XD01003,95.1,38,3,x,NOPE,,,d', // line 7: duplicate id, bad lat, bad pmt, unknown programme
      ',XD01001,,,2,1,,,,e', // line 8: no registry_id
      'OK-4,XD01004,,,2,1,,,,f', // line 9
    ].join('\n') + '\n');

  it('reports every problem with line and column and imports nothing (exit code 2 on the CLI)', async () => {
    const file = await badFile();
    const error = await importRegistry(world.t.store, file).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/7 problem\(s\) in 4 row\(s\); nothing was imported/);
    expect(error.details.map((d: string) => d.replace(`${file}: `, ''))).toEqual([
      'line 3, column size: "four" is not a whole number of at least 1',
      'line 6, column admin_pcode: unknown P-code "XD99999"',
      'line 7, column lat: "95.1" is not a latitude in decimal degrees (-90..90)',
      'line 7, column pmt_score: "x" is not a number',
      'line 7, column programmes: unknown programme "NOPE"',
      'line 7, column registry_id: the same registry_id is already on line 2',
      'line 8, column registry_id: is required',
    ]);
    expect(await households()).toEqual([]);
    expect(await enrolments()).toEqual([]);
  });

  it('with skipInvalid imports the good rows and writes the bad ones, with their problems, to a rejects file', async () => {
    const file = await badFile();
    const rejectsFile = `${file}.rejects.csv`;
    const report = await importRegistry(world.t.store, file, { skipInvalid: true, rejectsFile });
    expect(report).toMatchObject({ rows: 7, inserted: 3, rejected: 4, rejectsFile });
    expect((await households()).map((h) => h.registry_id)).toEqual(['OK-1', 'OK-2', 'OK-4']);
    expect((await households()).find((h) => h.registry_id === 'OK-2')?.attributes).toEqual({ village: 'two\nlines' });
    // Whole household rows: the operator's alone, like exports (no group or other access).
    expect((await stat(rejectsFile)).mode & 0o077).toBe(0);
    const rejects = parse(await readFile(rejectsFile), { columns: true }) as Record<string, string>[];
    expect(rejects.map((r) => [r.line, r.registry_id, r.size])).toEqual([
      ['3', 'BAD-1', 'four'],
      ['6', 'OK-3', '3'],
      ['7', 'OK-1', '3'],
      ['8', '', '2'],
    ]);
    expect(rejects[2].problems).toMatch(/registry_id: the same registry_id is already on line 2/);
  });
});

describe('unusable files', () => {
  it('refuses a header without registry_id or a place, naming what is missing', async () => {
    const error = await importRegistry(world.t.store, await tempFile('nohead.csv', 'id,size\n1,2\n')).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.details.join('\n')).toMatch(/required column registry_id is missing/);
    expect(error.details.join('\n')).toMatch(/give admin_pcode, or lat and lon/);
  });

  it('names the line of a row with too many fields, and imports nothing', async () => {
    const file = await tempFile('ragged.csv', 'registry_id,admin_pcode\nA,XD01001\nB,XD01001,extra\n');
    const error = await importRegistry(world.t.store, file).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/line 3: .*extra data after last expected column/);
    expect(await households()).toEqual([]);
  });

  it('names the right line when a quoted line break comes before the broken row', async () => {
    const file = await tempFile('ragged2.csv', 'registry_id,admin_pcode,note\nA,XD01001,"two\nlines"\nB,XD01001,y,extra\n');
    const error = await importRegistry(world.t.store, file).catch((e) => e);
    expect(error.message).toMatch(/: line 4: .*extra data after last expected column/);
  });

  it('reports a number too large for the database as a bad value, not a crash', async () => {
    const file = await tempFile('huge.csv', 'registry_id,admin_pcode,pmt_score,lat,lon\nA,XD01001,1e999,,\nB,XD01001,5,3.5,38.2\n');
    const error = await importRegistry(world.t.store, file).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.details).toEqual([`${file}: line 2, column pmt_score: "1e999" is out of range: a score lies between -1e15 and 1e15 (and is 0 or at least 1e-15 from 0)`]);
  });

  it('says a huge or vanishing pmt_score is out of range, and a word is not a number; plausible scores land', async () => {
    const scores = ['1e308', '-1e308', '1e100', '1e-400', '12345678901234567890', '1e16', 'abc', '0x5', '1e15', '-999999999999999', '0.5e-3', '0', '12.5'];
    const file = await tempFile('scores.csv', `registry_id,admin_pcode,pmt_score\n${scores.map((s, i) => `S${i},XD01001,${s}`).join('\n')}\n`);
    const report = await importRegistry(world.t.store, file, { skipInvalid: true });
    const range = 'is out of range: a score lies between -1e15 and 1e15 (and is 0 or at least 1e-15 from 0)';
    expect(report.problems).toEqual([
      ...['1e308', '-1e308', '1e100', '1e-400', '12345678901234567890', '1e16'].map((s, i) => `line ${i + 2}, column pmt_score: "${s}" ${range}`),
      'line 8, column pmt_score: "abc" is not a number',
      'line 9, column pmt_score: "0x5" is not a number',
    ]);
    const landed = await world.t.store.db.selectFrom('households').select(['registry_id', 'pmt_score']).orderBy('registry_id').execute();
    expect(landed.map((h) => [h.registry_id, h.pmt_score])).toEqual([['S10', 0.0005], ['S11', 0], ['S12', 12.5], ['S8', 1e15], ['S9', -999999999999999]]);
  });

  it('refuses an empty file and a file with only a header', async () => {
    await expect(importRegistry(world.t.store, await tempFile('empty.csv', ''))).rejects.toThrow(/the file is empty/);
    await expect(importRegistry(world.t.store, await tempFile('header.csv', `${HEADER}\n`))).rejects.toThrow(/no households after the header/);
  });

  it('refuses an unknown --programme before reading anything', async () => {
    const file = await tempFile('x.csv', 'registry_id,admin_pcode\nA,XD01001\n');
    await expect(importRegistry(world.t.store, file, { programme: 'NOPE' })).rejects.toThrow(/--programme NOPE: no such programme/);
  });
});
