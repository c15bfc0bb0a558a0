import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAspOn } from '../support/cli.ts';
import { tempFile } from '../support/files.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import type { DciPeer } from '../peers/dci-registry.ts';
import { districtPcodes, peerAndRegistry, testSender } from './dci-support.ts';

const HOUSEHOLDS = 2500;

let t: TestDatabase;
let peer: DciPeer;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  // The child `asp` signs with the keys in this folder; the peer checks them against its JWKS.
  const { ring, dir } = await testSender();
  process.env.ASP_SIGNING_KEY_DIR = dir;
  ({ peer } = await peerAndRegistry(ring, { households: HOUSEHOLDS, pcodes: await districtPcodes(t.store) }));
});
afterAll(async () => {
  delete process.env.ASP_SIGNING_KEY_DIR;
  await peer?.close();
  await t?.drop();
});

describe('asp registry pull dci', () => {
  it('pulls the registry in pages, prints the counts and the cursor, and pulls a delta the second time (the registry then named in a configuration file)', { timeout: 300_000 }, async () => {
    const args = ['registry', 'pull', 'dci', peer.url, '--registry', 'county-sr', '--programme', 'CT', '--page-size', '1000',
      '--jwks', `${peer.url}/.well-known/jwks.json`, '--receiver-id', peer.senderId, '--id-type', 'HouseholdID', '--by', 'ops@example.org'];
    const first = await runAspOn(t, args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^county-sr: full pull: ${HOUSEHOLDS} households, ${HOUSEHOLDS} new, 0 updated, 0 unchanged, 0 rejected, ${HOUSEHOLDS} enrolments$`, 'm'));
    const cursor = /^next delta from (\S+) \(pull (\d+)\)$/m.exec(first.stdout);
    expect(cursor).not.toBeNull();
    expect(peer.received.filter((r) => r.path === '/registry/sync/search')).toHaveLength(3);

    // The second time, the registry as named in a configuration file: no URL, no other flag.
    const config = await tempFile('registries.yaml', [
      'registries:',
      '  - name: county-sr',
      '    kind: dci',
      `    url: ${peer.url}`,
      `    receiver_id: ${peer.senderId}`,
      `    jwks: ${peer.url}/.well-known/jwks.json`,
      '    page_size: 1000',
      '    programme: CT',
      '    id_type: HouseholdID',
    ].join('\n') + '\n');
    peer.touch([10, 20, 30]);
    const second = await runAspOn(t, ['registry', 'pull', 'dci', '--registry', 'county-sr', '--config', config, '--by', 'ops@example.org', '--json']);
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout);
    expect(report).toMatchObject({ mode: 'delta', since: new Date(cursor![1]).toISOString(), rows: 3, inserted: 0, updated: 3 });
    const audit = (await t.store.transaction(({ raw }) =>
      raw.query<{ actor: string; details: unknown }>(`SELECT actor, details FROM audit_log WHERE action = 'registry.pulled' ORDER BY id`))).rows;
    expect(audit.map((a) => [a.actor, (a.details as { mode: string }).mode])).toEqual([['ops@example.org', 'full'], ['ops@example.org', 'delta']]);
    // Counts, never personal data.
    expect(JSON.stringify(audit)).not.toMatch(/HH-|NID|\+254/);
  });
});
