import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCounts } from '../src/registry/counts.ts';
import { runAsp } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { tempFile } from './support/files.ts';
import { kenyaAdm1, kenyaAdm2 } from './support/paths.ts';

// The CLI is the front door for scripts: these run `asp` in a child process against the test
// database. The embedded database allows one process at a time, so the test closes its own
// handle while the child works and reopens it to check.
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await t.store.close();
});
afterAll(() => t?.drop());

async function counts() {
  const store = await t.reopen();
  try {
    return await registryCounts(store);
  } finally {
    await store.close();
  }
}

describe('asp areas import', () => {
  it('imports Kenya ADM1 then ADM2 to 47 + 290 areas; twice, still 47 + 290', async () => {
    for (let round = 0; round < 2; round++) {
      const adm1 = await runAsp([...t.cliArgs, '--json', 'areas', 'import', kenyaAdm1, '--level', '1', '--iso3', 'KEN']);
      expect(adm1.code, adm1.stderr).toBe(0);
      expect(JSON.parse(adm1.stdout)).toMatchObject({ level: 1, features: 47, inserted: round === 0 ? 47 : 0 });
      const adm2 = await runAsp([...t.cliArgs, 'areas', 'import', kenyaAdm2, '--level', '2']);
      expect(adm2.code, adm2.stderr).toBe(0);
      expect(adm2.stdout).toMatch(round === 0 ? /level 2, 290 areas \(290 new, 0 updated\)/ : /290 areas \(0 new, 290 updated\)/);
    }
    expect((await counts()).areas).toBe(337);
  });

  it('exits 2 and names the problem for a bad file or a bad flag', async () => {
    const bad = await runAsp([...t.cliArgs, 'areas', 'import', kenyaAdm2, '--level', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/feature 0 \(\?\)|field ADM3_PCODE is missing/);
    const flag = await runAsp([...t.cliArgs, 'areas', 'import', kenyaAdm2, '--level', 'two']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--level must be a whole number/);
  });
});

describe('asp registry import', () => {
  const header = 'registry_id,admin_pcode,size,pmt_score,programmes';
  const rows = ['K-1,KE047,3,20,', 'K-2,KE030,x,20,', 'K-3,KE030159,5,9,'];

  it('with one bad row: exit code 2, line and column named, zero households imported', async () => {
    const file = await tempFile('cli-bad.csv', [header, ...rows].join('\n') + '\n');
    const result = await runAsp([...t.cliArgs, 'registry', 'import', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('line 3, column size: "x" is not a whole number of at least 1');
    expect((await counts()).households).toBe(0);
  });

  it('with --skip-invalid: the good rows in, the bad one in a rejects file', async () => {
    const file = await tempFile('cli-skip.csv', [header, ...rows].join('\n') + '\n');
    const result = await runAsp([...t.cliArgs, '--json', 'registry', 'import', file, '--skip-invalid']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ inserted: 2, rejected: 1, rejectsFile: `${file}.rejects.csv` });
    expect(await readFile(`${file}.rejects.csv`, 'utf8')).toMatch(/^line,problems,registry_id.*\n3,.*K-2,KE030,x/s);
    expect((await counts()).households).toBe(2);
  });
});
