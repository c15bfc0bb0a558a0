import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { Command } from 'commander';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerPartnerCommands, registerReleaseCommands } from '../../src/cli/release-commands.ts';
import { UserError } from '../../src/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { bulkHouseholds, createList, type FixtureEntry, type FixtureList } from './list-fixture.ts';

/**
 * `asp partners …`, `asp lists release` and `asp lists export` as a user types them. They run in
 * this process on a program of their own (the global options and an `asp lists` group, as
 * src/cli.ts builds them), with standard output captured.
 */

let db: TestDatabase;
let entries: FixtureEntry[];
let list: FixtureList;
let draft: FixtureList;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  entries = await bulkHouseholds(db.store, 'XD02003', 8, 'CLI-');
  list = await createList(db.store, entries);
  draft = await createList(db.store, entries.slice(0, 2), { approve: false, cycle: '2027-05' });
  // What openIMIS needs: the heads' names and birth dates, the area's village code.
  await db.store.transaction(async ({ raw }) => {
    await raw.query(`UPDATE households SET head_first_name = 'Nafula', head_last_name = 'Barasa ' || registry_id, head_birth_date = '1985-03-04' WHERE registry_id LIKE 'CLI-%'`);
    await raw.query(`INSERT INTO area_codes (scheme, code, pcode) VALUES ('openimis', 'R2D3M1V1', 'XD02003')`);
  });
  // The commands open the embedded database themselves.
  await db.store.close();
});

afterAll(async () => {
  await db?.drop();
});

function program(): Command {
  const asp = new Command('asp').option('--db <url>').option('--data-dir <dir>').option('--json').exitOverride()
    .configureOutput({ writeErr: () => {} });
  registerPartnerCommands(asp);
  registerReleaseCommands(asp.command('lists'));
  return asp;
}

/** Runs `asp ARGS` here and returns what it printed on standard output. */
async function asp(...args: string[]): Promise<string> {
  const printed: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write);
  try {
    await program().parseAsync(['node', 'asp', ...db.cliArgs, ...args]);
  } finally {
    write.mockRestore();
  }
  return printed.join('');
}

describe('asp partners, asp lists release, asp lists export', () => {
  it('adds and lists partners', async () => {
    expect(await asp('partners', 'add', 'fsp', '--name', 'Mobile money', '--role', 'payment_provider', '--fields', 'pseudonymous_id,phone,amount,currency', '--by', 'alice'))
      .toContain('partner fsp added');
    expect(await asp('partners', 'add', 'bank', '--name', 'Bank', '--role', 'payment_provider', '--fields', 'registry_id,amount', '--no-pseudonymise', '--by', 'alice'))
      .toContain('registry ids');
    const listed = JSON.parse(await asp('--json', 'partners', 'list'));
    expect(listed.map((p: { id: string; pseudonymise: boolean }) => [p.id, p.pseudonymise])).toEqual([['bank', false], ['fsp', true]]);
    await expect(asp('partners', 'add', 'x', '--name', 'X', '--role', 'coordination', '--fields', 'pmt_score', '--by', 'alice')).rejects.toThrow(UserError);
  });

  it('releases a list to a partner', async () => {
    const out = await asp('lists', 'release', String(list.listId), '--partner', 'fsp', '--purpose', 'DSA-7 November', '--expires', '2099-01-31', '--by', 'carol');
    expect(out).toContain(`list ${list.listId} released to fsp`);
    expect(out).toContain('8 households, pseudonymous ids');
    expect(out).toContain(list.contentSha256!);
  });

  it('prints the CSV on standard output, and nothing else', async () => {
    const out = await asp('lists', 'export', String(list.listId), '--format', 'csv', '--by', 'dora');
    const rows = parse(out, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.registry_id, Number(r.amount), r.content_sha256]).sort()).toEqual(
      entries.map((e) => [e.registryId, e.amount, list.contentSha256]).sort(),
    );
  });

  it("writes a partner's download to --out, readable by its owner only, and says so", async () => {
    const file = path.join(os.tmpdir(), `asp-cli-export-${process.pid}.csv`);
    const out = await asp('lists', 'export', String(list.listId), '--format', 'hxl', '--partner', 'fsp', '--out', file, '--by', 'dora');
    expect(out).toContain(`list ${list.listId} written to ${file} as hxl for fsp: 8 rows, content sha256 ${list.contentSha256}`);
    const [header, tags, ...rows] = parse(await readFile(file, 'utf8')) as string[][];
    expect(header).toEqual(['list_id', 'content_sha256', 'pseudonymous_id', 'phone', 'amount', 'currency']);
    expect(tags[2]).toBe('#beneficiary+code');
    expect(rows).toHaveLength(8);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await rm(file);
  });

  it('--out alone writes each format under its own name, the partner in it; openimis with its schema beside it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-cli-names-'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const id = list.listId;
      const written = JSON.parse(await asp('--json', 'lists', 'export', String(id), '--format', 'openimis', '--out', '--by', 'dora'));
      expect(written).toMatchObject({ file: `list-${id}-openimis.csv`, schemaFile: `list-${id}-openimis.schema.json`, rows: 8 });
      await asp('lists', 'export', String(id), '--format', 'hxl', '--partner', 'fsp', '--out', '--by', 'dora');
      await asp('lists', 'export', String(id), '--format', 'g2p', '--out', '--by', 'dora');
      expect(readdirSync(dir).sort()).toEqual([`list-${id}-fsp.hxl.csv`, `list-${id}-g2p.json`, `list-${id}-openimis.csv`, `list-${id}-openimis.schema.json`]);
      for (const file of readdirSync(dir)) expect((await stat(file)).mode & 0o777).toBe(0o600);
      // The schema declares every column openIMIS does not require itself.
      const [header] = parse(await readFile(`list-${id}-openimis.csv`, 'utf8')) as string[][];
      const schema = JSON.parse(await readFile(`list-${id}-openimis.schema.json`, 'utf8'));
      expect(Object.keys(schema.properties).sort()).toEqual(header.filter((h) => !['first_name', 'last_name', 'dob', 'id'].includes(h)).sort());
      // --out FILE: the schema beside it, named after it.
      await asp('lists', 'export', String(id), '--format', 'openimis', '--out', 'plan-upload.csv', '--by', 'dora');
      expect(readdirSync(dir)).toEqual(expect.arrayContaining(['plan-upload.csv', 'plan-upload.schema.json']));
    } finally {
      process.chdir(cwd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a draft or an unknown format, leaving an existing --out file as it was', async () => {
    const file = path.join(os.tmpdir(), `asp-cli-draft-${process.pid}.csv`);
    await writeFile(file, 'what was there\n');
    await expect(asp('lists', 'export', String(draft.listId), '--format', 'csv', '--out', file, '--by', 'dora')).rejects.toThrow(
      `payment list ${draft.listId} is draft`,
    );
    expect(await readFile(file, 'utf8')).toBe('what was there\n');
    await rm(file);
    expect(readdirSync(os.tmpdir()).filter((f) => f.startsWith(`asp-cli-draft-${process.pid}.csv.partial`))).toEqual([]);
    await expect(asp('lists', 'export', String(list.listId), '--format', 'xlsx', '--by', 'dora')).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(asp('lists', 'release', String(list.listId), '--partner', 'fsp', '--purpose', 'again', '--expires', '2099-01-31', '--by', 'carol')).rejects.toThrow(
      'already released to fsp',
    );
  });
});
