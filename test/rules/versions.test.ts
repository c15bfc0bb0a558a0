import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { approveRuleVersion, listRuleVersions, retireRule, storeRuleVersions } from '../../src/rules/versions.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { projectRoot } from '../support/paths.ts';

let t: TestDatabase;
let folder: string;
let severe: string;
beforeAll(async () => {
  t = await createTestDatabase();
  folder = await mkdtemp(path.join(os.tmpdir(), 'asp-rules-'));
  severe = path.join(folder, 'ke-hsnp-vci-severe.yaml');
  await cp(path.join(projectRoot, 'rules/examples/ke-hsnp-vci-severe.yaml'), severe);
});
afterAll(() => t?.drop());

const statuses = async () => (await listRuleVersions(t.store, 'ke-hsnp-vci-severe')).map((v) => v.status);

describe('rule versions: draft → approved (four eyes) → retired', () => {
  it('loading stores a draft per content; loading again adds nothing; a comment changes nothing', async () => {
    expect((await storeRuleVersions(t.store, folder, 'analyst')).added).toHaveLength(1);
    await writeFile(severe, `# a comment only\n${await readFile(severe, 'utf8')}`);
    expect(await storeRuleVersions(t.store, folder, 'analyst')).toMatchObject({ added: [], unchanged: 1 });
    expect(await statuses()).toEqual(['draft']);
  });

  it('the author cannot approve their own version; somebody else can', async () => {
    await expect(approveRuleVersion(t.store, 'ke-hsnp-vci-severe', 'analyst')).rejects.toThrow(/cannot also approve it \(four eyes\)/);
    const approved = await approveRuleVersion(t.store, 'ke-hsnp-vci-severe', 'director');
    expect(approved).toMatchObject({ status: 'approved', approvedBy: 'director', createdBy: 'analyst' });
  });

  it('an approved version never changes: the database refuses, and an edit is a new draft', async () => {
    const change = t.store.transaction(({ raw }) =>
      raw.query(`UPDATE rule_versions SET definition = '{}'::jsonb WHERE rule_id = 'ke-hsnp-vci-severe'`),
    );
    await expect(change).rejects.toThrow(/cannot be changed: an edit is a new version/);
    // Raise the transfer value: new content, new version, needing approval again.
    await writeFile(severe, (await readFile(severe, 'utf8')).replace('amount: 2700,', 'amount: 3000,'));
    const { added } = await storeRuleVersions(t.store, folder, 'analyst');
    expect(added).toHaveLength(1);
    expect(await statuses()).toEqual(['draft', 'approved']);
    await approveRuleVersion(t.store, 'ke-hsnp-vci-severe', 'director');
    expect(await statuses()).toEqual(['approved', 'retired']);
  });

  it('retiring leaves no version in force; an invalid file stores nothing', async () => {
    await retireRule(t.store, 'ke-hsnp-vci-severe', 'director');
    expect(await statuses()).toEqual(['retired', 'retired']);
    await writeFile(path.join(folder, 'broken.yaml'), 'id: broken\ntitle: [unclosed\n');
    const error = await storeRuleVersions(t.store, folder, 'analyst').catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.details.join('\n')).toMatch(/broken\.yaml:\d+:\d+/);
  });
});
