import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { runAspOn } from '../support/cli.ts';
import { registryWorld } from '../support/registry-world.ts';
import { tempFile } from '../support/files.ts';

// Issue 11, defect 8: registry files past what PostgreSQL can hold are refused with the line and
// column, exit 2, and nothing half-imported; never a database stack trace.

const world = registryWorld();

const HEADER = 'registry_id,admin_pcode,size';
const registryIds = async () => (await world.t.store.db.selectFrom('households').select('registry_id').orderBy('registry_id').execute()).map((h) => h.registry_id);

/** The UserError an import throws, with its details. */
async function refusal(file: string, options = {}): Promise<UserError> {
  const error = await importRegistry(world.t.store, file, options).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

/** A file of `count` columns (registry_id, admin_pcode and extras) and one household. */
function wideFile(count: number): string {
  const names = ['registry_id', 'admin_pcode', ...Array.from({ length: count - 2 }, (_, i) => `x${i + 3}`)];
  const values = ['W-1', 'XD01001', ...Array.from({ length: count - 2 }, () => 'v')];
  return `${names.join(',')}\n${values.join(',')}\n`;
}

/** An identifier of `length` characters that does not compress (a btree entry is checked after compression). */
const incompressibleId = (length: number) =>
  Array.from({ length }, (_, i) => 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'[(i * 7919 + ((i * i) % 31)) % 34]).join('');

describe('registry files the database cannot hold', () => {
  it('more than 1,599 columns: a header problem on line 1, nothing imported', async () => {
    const error = await refusal(await tempFile('wide.csv', wideFile(1700)));
    expect(error.details).toEqual([expect.stringMatching(/line 1: the header has 1700 columns; at most 1599 can be read/)]);
    expect(await registryIds()).toEqual([]);
  });

  it('1,599 narrow columns still import', async () => {
    const report = await importRegistry(world.t.store, await tempFile('wide-ok.csv', wideFile(1599)));
    expect(report).toMatchObject({ inserted: 1, rejected: 0 });
  });

  it('a registry_id over the index limit: a line/column problem; nothing imported, or the row alone in the rejects file', async () => {
    const long = incompressibleId(3000);
    const file = await tempFile('long-id.csv', `${HEADER}\nOK-1,XD01001,2\n${long},XD01001,3\nOK-2,XD01002,4\n`);
    const error = await refusal(file);
    expect(error.details).toEqual([expect.stringMatching(/line 3, column registry_id: is 3000 bytes long; at most 1000/)]);
    expect(await registryIds()).toEqual([]);
    const report = await importRegistry(world.t.store, file, { skipInvalid: true });
    expect(report).toMatchObject({ inserted: 2, rejected: 1 });
    expect((await stat(report.rejectsFile!)).mode & 0o077).toBe(0);
    expect(await registryIds()).toEqual(['OK-1', 'OK-2']);
  });

  it('a NUL character in a cell: the line, in words, nothing imported', async () => {
    const error = await refusal(await tempFile('nul.csv', `${HEADER},village\nOK-1,XD01001,2,a\nN-2,XD01001,3,vil\u0000lage\n`), { skipInvalid: true });
    expect(error.message).toMatch(/line 3: the line contains a NUL character \(byte 0x00\)/);
    expect(await registryIds()).toEqual([]);
  });

  it('`asp registry import` of a too-wide file exits 2 with the line, without a stack trace', async () => {
    const file = await tempFile('wide-cli.csv', wideFile(1601));
    const result = await runAspOn(world.t, ['registry', 'import', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/line 1: the header has 1601 columns/);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
  });
});
