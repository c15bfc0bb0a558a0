import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportList } from '../../src/exports/index.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { releaseList } from '../../src/lists/release.ts';
import { SHAREABLE_FIELDS } from '../../src/rules/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { bulkHouseholds, collector, createList, type FixtureList } from './list-fixture.ts';

/**
 * The HXL export uses core hashtags and attributes only. The core, as the HXL 1.1 hashtag
 * dictionary lists it (hxlstandard.org/standard/1-1final/dictionary/), read from the dictionary's
 * generated page in HXLStandard/gen-hxl-dict, docs/hxl-hashtags-and-attributes.html (commit
 * 432d53cf, built from the HXL core schema): every `#tag` and `+attribute` it defines, released
 * (1.0) and pre-release (1.1) alike. Later additions seen in HXL tools but absent from the
 * dictionary (#channel, #frequency) are not relied on.
 */
const CORE_HASHTAGS = [
  'adm1', 'adm2', 'adm3', 'adm4', 'adm5', 'country', 'geo', 'loc', 'region',
  'affected', 'beneficiary', 'inneed', 'population', 'reached', 'respondee', 'targeted',
  'access', 'activity', 'capacity', 'contact', 'currency', 'indicator', 'item', 'modality', 'need', 'operations', 'org', 'output',
  'sector', 'service', 'subsector', 'value',
  'cause', 'crisis', 'event', 'group', 'impact', 'severity',
  'date', 'description', 'meta', 'status',
];
const CORE_ATTRIBUTES = [
  'adolescents', 'adults', 'children', 'elderly', 'f', 'hh', 'i', 'ind', 'infants', 'm',
  'funder', 'impl', 'prog', 'code', 'type',
  'bounds', 'coord', 'dest', 'elevation', 'lat', 'lon', 'origin',
  'approved', 'canceled', 'converted', 'end', 'occurred', 'reported', 'start',
  'abducted', 'displaced', 'idps', 'incamp', 'infected', 'injured', 'killed', 'noncamp', 'refugees',
  'email', 'label', 'name', 'num', 'phone', 'source', 'text', 'url',
];

/** What is not core in a hashtag-row cell; an empty cell is an untagged column, which HXL allows. */
function notCore(cell: string): string[] {
  if (cell.trim() === '') return [];
  const match = /^#([a-z][a-z0-9_]*)((?:\s*\+[a-z][a-z0-9_]*)*)$/.exec(cell.trim());
  if (!match) return [`${cell}: not a hashtag`];
  const attributes = match[2].split('+').map((a) => a.trim()).filter(Boolean);
  return [
    ...(CORE_HASHTAGS.includes(match[1]) ? [] : [`${cell}: #${match[1]} is not a core hashtag`]),
    ...attributes.filter((a) => !CORE_ATTRIBUTES.includes(a)).map((a) => `${cell}: +${a} is not a core attribute`),
  ];
}

let db: TestDatabase;
let list: FixtureList;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  list = await createList(db.store, await bulkHouseholds(db.store, 'XD02003', 6, 'HXL-'));
  // Between them, every field there is: one partner with registry ids, one pseudonymised.
  const everything = SHAREABLE_FIELDS.filter((f) => f !== 'pseudonymous_id');
  await addPartner(db.store, { id: 'all', name: 'All', role: 'coordination', fields: everything, pseudonymise: false }, 'alice');
  await addPartner(db.store, { id: 'pseudo', name: 'Pseudo', role: 'coordination', fields: SHAREABLE_FIELDS.filter((f) => f !== 'registry_id') }, 'alice');
  for (const partnerId of ['all', 'pseudo']) await releaseList(db.store, list.listId, { partnerId, purpose: 'hxl', expiresOn: '2099-12-31' }, 'carol');
});

afterAll(async () => {
  await db?.drop();
});

describe('the HXL export', () => {
  for (const partnerId of [undefined, 'all', 'pseudo']) {
    it(`${partnerId ? `for partner ${partnerId}` : 'of the programme'}: every hashtag and attribute is core`, async () => {
      const sink = collector();
      await exportList(db.store, list.listId, 'hxl', sink.out, { partnerId }, 'dora');
      const [header, tags, ...rows] = parse(sink.text()) as string[][];
      expect(rows).toHaveLength(6);
      expect(tags).toHaveLength(header.length);
      expect(tags.flatMap(notCore)).toEqual([]);
      // Identifying columns are tagged: the id, the amount and its currency, where the partner has them.
      expect(tags).toEqual(expect.arrayContaining(['#beneficiary+code', '#value', '#currency+code']));
    });
  }

  it('the check refuses what the export used to write', () => {
    const before = ['#delivery+channel', '#beneficiary+id+internal', '#beneficiary+code+registry', '#date+cycle', '#meta+sha256', '#beneficiary+account', '#loc+code+affected'];
    expect(before.map((tag) => notCore(tag).length > 0)).toEqual(before.map(() => true));
    expect(notCore('#delivery+channel')).toEqual(['#delivery+channel: #delivery is not a core hashtag', '#delivery+channel: +channel is not a core attribute']);
    expect(notCore('#meta +code')).toEqual([]);
  });
});
