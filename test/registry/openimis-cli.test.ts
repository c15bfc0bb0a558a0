import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importAreaCodes } from '../../src/areas/area-codes.ts';
import { runAsp, type CliResult } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { startOpenImisPeer, type OpenImisPeer } from '../peers/openimis-graphql.ts';

/**
 * `asp registry pull openimis` as a user runs it, against the openIMIS peer: the JSON and human
 * reports, the password from a variable or a file, a wrong password (exit 2, nothing written), and
 * every line the commands log (at trace level, to ASP_LOG_FILE), their output and the audit log
 * scanned for the passwords and for the heads' names.
 */

const PASSWORD = 'cli-pw-Vd93!openimis';
const WRONG = 'cli-wrong-Lm20';
const logFile = path.join(os.tmpdir(), `asp-openimis-cli-${process.pid}-${Date.now()}.log`);
const env = { LOG_LEVEL: 'trace', ASP_LOG_FILE: logFile, OPENIMIS_CLI_PASSWORD: PASSWORD, OPENIMIS_CLI_WRONG: WRONG };
let t: TestDatabase;
let peer: OpenImisPeer;
const outputs: string[] = [];

async function asp(...args: string[]): Promise<CliResult> {
  await t.store.close();
  try {
    const result = await runAsp([...t.cliArgs, ...args], env);
    outputs.push(result.stdout, result.stderr);
    return result;
  } finally {
    await t.reopen();
  }
}
const pullArgs = () => ['registry', 'pull', 'openimis', peer.url, '--benefit-plan', peer.benefitPlan, '--programme', 'CT', '--username', 'asp'];
const householdCount = async () => (await t.store.db.selectFrom('households').select('id').execute()).length;

beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  peer = await startOpenImisPeer({ households: 500, seed: 5, users: { asp: PASSWORD } });
  const districts = await t.store.db.selectFrom('admin_areas').select('pcode').where('level', '=', 2).orderBy('pcode').execute();
  const codes = await tempFile('openimis-cli-codes.csv', ['scheme,code,pcode', ...districts.map((d, i) => `openimis,D${String(i + 1).padStart(7, '0')},${d.pcode}`)].join('\n') + '\n');
  await importAreaCodes(t.store, codes);
});
afterAll(async () => {
  await peer?.close();
  await t?.drop();
  await rm(logFile, { force: true });
});

describe('asp registry pull openimis', () => {
  it('refuses a wrong password with exit 2, writing nothing', async () => {
    const result = await asp(...pullArgs(), '--password-env', 'OPENIMIS_CLI_WRONG');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: openIMIS ${peer.url}/api/graphql: tokenAuth refused the user asp: Please enter valid credentials; nothing was imported`);
    expect(await householdCount()).toBe(0);
    expect(await t.store.db.selectFrom('registry_pulls').select('id').execute()).toEqual([]);
  });

  it('pulls every active household, then only the changes, reporting as JSON or in words', async () => {
    const first = await asp(...pullArgs(), '--password-env', 'OPENIMIS_CLI_PASSWORD', '--json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ mode: 'full', rows: 500, inserted: 500, enrolled: 500, rejected: 0, stats: { pages: 5 } });
    expect(await householdCount()).toBe(500);

    const changed = peer.changeHouseholds([1, 2, 3]);
    const file = await tempFile('openimis-cli-pw', `${PASSWORD}\n`);
    const second = await asp(...pullArgs(), '--password-file', file);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^${peer.url}: delta pull #2 of changes since \\S+, 2 page\\(s\\): 3 households, 0 new, 3 updated, 0 unchanged, 0 rejected, 0 enrolments\\n`));
    const sizes = await t.store.db.selectFrom('households').select(['registry_id', 'size']).where('registry_id', 'in', changed).orderBy('registry_id').execute();
    expect(sizes).toEqual([1, 2, 3].map((i) => ({ registry_id: peer.household(i).code, size: peer.household(i).groupExt.number_of_members })));
  });

  it('says what is wrong with the flags, before opening the database', async () => {
    // Refused before the database is opened: the test's own connection may stay open.
    const flagProblem = async (...args: string[]) => {
      const result = await runAsp([...t.cliArgs, ...args], env);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    const both = await flagProblem(...pullArgs(), '--since', '2026-01-01', '--full');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--since and --full: give one or the other');
    const badPlan = await flagProblem('registry', 'pull', 'openimis', peer.url, '--benefit-plan', 'plan-7', '--username', 'asp', '--password-env', 'OPENIMIS_CLI_PASSWORD');
    expect(badPlan.code).toBe(2);
    expect(badPlan.stderr).toContain('--benefit-plan plan-7: an openIMIS benefit plan id is a UUID');
  });

  it('audits each pull; neither a password nor a head’s name is in a log line, an output or the audit log', async () => {
    const { rows: audits } = await t.store.transaction(({ raw }) =>
      raw.query<{ details: unknown }>(`SELECT details FROM audit_log WHERE action = $1 ORDER BY id`, ['registry.pulled']));
    expect(audits).toHaveLength(2);
    const logs = await readFile(logFile, 'utf8');
    expect(logs).toContain('openIMIS token obtained');
    const everything = [logs, ...outputs, JSON.stringify(audits)].join('\n');
    for (const secret of [PASSWORD, WRONG]) expect(everything).not.toContain(secret);
    for (const i of [0, 1, 2, 3, 250]) {
      const head = peer.household(i).head!;
      expect(everything).not.toContain(`${head.firstName} ${head.lastName}`);
      expect(everything).not.toContain(String(head.jsonExt.phone));
    }
  });
});
