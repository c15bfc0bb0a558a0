import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importAreaCodes } from '../../src/areas/area-codes.ts';
import { UserError } from '../../src/errors.ts';
import { capAdapter } from '../../src/feeds/adapters/cap.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
});
afterAll(() => t?.drop());

const geocodeOnlyAlert = `<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>XD-1</identifier><sender>dms@example.org</sender><sent>2026-11-20T06:00:00+03:00</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><language>en</language><category>Met</category><event>Flood warning</event><urgency>Expected</urgency>
    <severity>Severe</severity><certainty>Likely</certainty>
    <area><areaDesc>Acacia district</areaDesc><geocode><valueName>DMS_ZONE</valueName><value>Z-17</value></geocode></area>
  </info>
</alert>`;

describe('area codes (other schemes → P-codes)', () => {
  it('let a geocode-only CAP alert name its P-codes once the code is mapped', async () => {
    const before = await ingestPayload(t.store, capAdapter, { source: 'cap', bytes: Buffer.from(geocodeOnlyAlert), url: 'test://a.xml' });
    expect(before).toMatchObject({ versionsAdded: 0, quarantined: 1 });

    const report = await importAreaCodes(t.store, await tempFile('codes.csv', 'scheme,code,pcode\nDMS_ZONE,Z-17,XD01001\nipc,123,XX9\n'));
    expect(report).toEqual({ rows: 2, unknownPcodes: ['XX9'] });

    const after = await ingestPayload(t.store, capAdapter, { source: 'cap', bytes: Buffer.from(geocodeOnlyAlert.replace('XD-1', 'XD-2')), url: 'test://b.xml' });
    expect(after).toMatchObject({ versionsAdded: 1, quarantined: 0 });
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ pcodes: string[] }>(`SELECT pcodes FROM hazard_event_versions v JOIN hazard_events e ON e.id = v.event_id WHERE e.external_id = 'dms@example.org,XD-2'`),
    );
    expect(rows).toEqual([{ pcodes: ['XD01001'] }]);
  });

  it('names the line and column of a bad row and imports nothing', async () => {
    const error = await importAreaCodes(t.store, await tempFile('bad-codes.csv', 'scheme,code,pcode\nEMMA_ID,PL1,XD01001\nEMMA_ID,,XD01002\n')).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.details).toEqual([expect.stringMatching(/line 3, column code: is required/)]);
    const codes = await t.store.db.selectFrom('area_codes').select('code').where('scheme', '=', 'EMMA_ID').execute();
    expect(codes).toEqual([]);
  });
});
