import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { PROBLEMS_SHOWN } from '../../src/registry/staging.ts';
import { tempFile } from '../support/files.ts';
import { registryWorld } from '../support/registry-world.ts';

/**
 * A file with very many bad rows: the message and the report name the first problems and say how
 * many more there are; the rejects file (written a page at a time) has every bad row, in file order,
 * each with its own problems and line.
 */
const world = registryWorld();

const BAD = 12_345; // more than one page of the rejects file (10,000 rows)
const GOOD = 500;

/** Every 7th row is good; the others have a size that is not a whole number, and every 1000th a second problem. */
async function manyBadRows(): Promise<string> {
  const lines = ['registry_id,admin_pcode,size'];
  let bad = 0;
  let good = 0;
  for (let i = 1; bad < BAD || good < GOOD; i++) {
    if ((i % 7 === 0 && good < GOOD) || bad === BAD) {
      lines.push(`G-${i},XD01001,3`);
      good++;
    } else {
      lines.push(`B-${i},${bad % 1000 === 0 ? 'NOWHERE' : 'XD01001'},x${i}`);
      bad++;
    }
  }
  return tempFile('many-bad.csv', lines.join('\n') + '\n');
}

describe('a file with more bad rows than a message can name', () => {
  it('names the first problems, counts all of them, and imports nothing', async () => {
    const file = await manyBadRows();
    const error = await importRegistry(world.t.store, file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    const problems = BAD + Math.ceil(BAD / 1000);
    expect((error as UserError).message).toContain(`${problems} problem(s) in ${BAD} row(s); nothing was imported`);
    const details = (error as UserError).details ?? [];
    expect(details).toHaveLength(PROBLEMS_SHOWN + 1);
    expect(details[0]).toBe(`${file}: line 2, column admin_pcode: unknown P-code "NOWHERE"`);
    expect(details[1]).toBe(`${file}: line 2, column size: "x1" is not a whole number of at least 1`);
    expect(details.at(-1)).toBe(`${file}: and ${problems - PROBLEMS_SHOWN} more problem(s) (with --skip-invalid the rejects file lists every one)`);
    expect(await world.t.store.db.selectFrom('households').select('id').execute()).toEqual([]);
  });

  it('with skipInvalid writes every bad row to the rejects file, page after page, and imports the good ones', async () => {
    const file = await manyBadRows();
    const rejectsFile = `${file}.rejects.csv`;
    const report = await importRegistry(world.t.store, file, { skipInvalid: true, rejectsFile });
    expect(report).toMatchObject({ rows: BAD + GOOD, inserted: GOOD, rejected: BAD });
    expect(report.problems).toHaveLength(PROBLEMS_SHOWN + 1);
    expect(report.problems.at(-1)).toBe(`and ${BAD + Math.ceil(BAD / 1000) - PROBLEMS_SHOWN} more problem(s) in the rejects file`);

    // The oracle: the file itself, read again.
    const source = (await readFile(file, 'utf8')).trim().split('\n').slice(1).map((l, i) => ({ line: i + 2, cells: l.split(',') }));
    const expected = source.filter((r) => r.cells[0].startsWith('B-')).map((r) => ({
      line: String(r.line),
      registry_id: r.cells[0],
      problems: [
        ...(r.cells[1] === 'NOWHERE' ? ['admin_pcode: unknown P-code "NOWHERE"'] : []),
        `size: "${r.cells[2]}" is not a whole number of at least 1`,
      ].join('; '),
    }));
    const rejects = parse(await readFile(rejectsFile), { columns: true }) as Record<string, string>[];
    expect(rejects.map((r) => ({ line: r.line, registry_id: r.registry_id, problems: r.problems }))).toEqual(expected);
  });
});
