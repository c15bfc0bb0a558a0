import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/api/keys.ts';
import { EXPORT_FORMATS } from '../../src/exports/index.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { releaseList } from '../../src/lists/release.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { serveApi } from '../support/http.ts';
import { bulkHouseholds, createList, type FixtureList } from './list-fixture.ts';

/**
 * GET /api/lists/ID/export?format=F through the API on 127.0.0.1: each format downloads under its
 * own name and type, a partner's with the partner in the name, so that two downloads never
 * overwrite each other in a browser's download folder.
 */

let db: TestDatabase;
let api: { base: string; close(): Promise<void> };
let list: FixtureList;
let keys: { coordinator: string; partner: string };

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  list = await createList(db.store, await bulkHouseholds(db.store, 'XD01003', 5, 'DL-'));
  await db.store.transaction(async ({ raw }) => {
    await raw.query(`UPDATE households SET head_first_name = 'Akinyi', head_last_name = 'Ouma', head_birth_date = '1991-07-21' WHERE registry_id LIKE 'DL-%'`);
    await raw.query(`INSERT INTO area_codes (scheme, code, pcode) VALUES ('openimis', 'R1D3M1V1', 'XD01003')`);
  });
  await addPartner(db.store, { id: 'wfp-ke', name: 'WFP', role: 'humanitarian_partner', fields: ['pseudonymous_id', 'admin2_pcode', 'amount', 'currency'] }, 'alice');
  await releaseList(db.store, list.listId, { partnerId: 'wfp-ke', purpose: 'names', expiresOn: '2099-12-31' }, 'carol');
  keys = {
    coordinator: (await createApiKey(db.store, { role: 'coordinator', partnerId: null, label: 'coordinator' }, 'admin')).key,
    partner: (await createApiKey(db.store, { role: 'partner', partnerId: 'wfp-ke', label: 'wfp' }, 'admin')).key,
  };
  api = await serveApi(db.store);
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

const download = async (format: string, key: string) => {
  const response = await fetch(`${api.base}/api/lists/${list.listId}/export?format=${format}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, type: response.headers.get('content-type'), name: /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1], body: await response.text() };
};

describe('download names', () => {
  it('the programme: one name and type per format', async () => {
    const id = list.listId;
    const expected: Record<string, [string, string]> = {
      csv: [`list-${id}.csv`, 'text/csv'],
      hxl: [`list-${id}.hxl.csv`, 'text/csv'],
      json: [`list-${id}.json`, 'application/json'],
      geojson: [`list-${id}.geojson`, 'application/geo+json'],
      openimis: [`list-${id}-openimis.csv`, 'text/csv'],
      'openimis-schema': [`list-${id}-openimis.schema.json`, 'application/schema+json'],
      g2p: [`list-${id}-g2p.json`, 'application/json'],
    };
    expect(Object.keys(expected).sort()).toEqual([...EXPORT_FORMATS].sort());
    const names = new Set<string>();
    for (const [format, [name, type]] of Object.entries(expected)) {
      const got = await download(format, keys.coordinator);
      expect(got, format).toMatchObject({ status: 200, name, type: `${type}; charset=utf-8` });
      names.add(got.name!);
      if (type !== 'text/csv') JSON.parse(got.body);
    }
    expect(names.size).toBe(EXPORT_FORMATS.length);
  });

  it('a partner: its id in the name; openimis refused, since a pseudonymised partner never gets names', async () => {
    const id = list.listId;
    for (const [format, name] of [['csv', `list-${id}-wfp-ke.csv`], ['hxl', `list-${id}-wfp-ke.hxl.csv`], ['json', `list-${id}-wfp-ke.json`], ['geojson', `list-${id}-wfp-ke.geojson`], ['g2p', `list-${id}-wfp-ke-g2p.json`]]) {
      expect(await download(format, keys.partner), format).toMatchObject({ status: 200, name });
    }
    const refused = await download('openimis', keys.partner);
    expect(refused).toMatchObject({ status: 400, name: undefined, type: expect.stringMatching(/^application\/json/) });
    expect(JSON.parse(refused.body).error.message).toMatch(/^the openimis format needs name, birth_date, admin_pcode .*wfp-ke gets pseudonymous ids/);
  });
});
