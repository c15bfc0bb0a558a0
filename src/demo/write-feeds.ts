import { mkdirSync, writeFileSync } from 'node:fs';
import { demoDistricts } from './geography.ts';
import { seededRandom } from './random.ts';
import { vciHistoryCsv } from './vci-history.ts';

/**
 * Writes the demo's feed payloads to data/demo/feeds/, in the real wire formats, about the
 * synthetic Demoland (run: npx tsx src/demo/write-feeds.ts). Fictional events: a GDACS drought
 * over the north-west, a USGS earthquake in the south-east, a CAP flood warning in the south-west,
 * and a year of monthly VCI-3M per district with a drought building in Northaven, preceded by ten
 * years of monthly VCI-3M history (2015-12 … 2025-11) for backtesting rules.
 */
const out = 'data/demo/feeds';
mkdirSync(out, { recursive: true });

// GDACS polygons/getgeometry for drought DR 9900001 episode 3 (ids are fictional).
const gdacsProps = (cls: string, label: string) => ({
  eventtype: 'DR', eventid: 9900001, episodeid: 3, eventname: 'Demoland-2026', glide: '',
  name: 'Drought in Demoland', description: 'Drought in Demoland',
  alertlevel: 'Orange', alertscore: 2, episodealertlevel: 'Orange', episodealertscore: 2,
  istemporary: 'false', iscurrent: 'true', country: 'Demoland',
  fromdate: '2026-07-01T00:00:00', todate: '2026-11-20T00:00:00', datemodified: '2026-11-20T09:00:00',
  iso3: 'XDL', source: 'GDO', sourceid: '', polygonlabel: label, Class: cls,
  affectedcountries: [{ iso2: 'XD', iso3: 'XDL', countryname: 'Demoland' }],
  severitydata: { severity: 21000, severitytext: 'Medium impact for agricultural drought in 21000 km2', severityunit: 'km2' },
});
writeFileSync(`${out}/gdacs-dr9900001-ep3-geometry.json`, JSON.stringify({
  type: 'FeatureCollection',
  features: [
    { type: 'Feature', bbox: [38.9, 3.1, 38.9, 3.1], geometry: { type: 'Point', coordinates: [38.9, 3.1] }, properties: gdacsProps('Point_Centroid', 'Centroid') },
    {
      type: 'Feature', bbox: [38.1, 2.3, 39.7, 3.95],
      geometry: { type: 'MultiPolygon', coordinates: [[[[38.1, 2.3], [39.7, 2.3], [39.7, 3.2], [39.2, 3.95], [38.1, 3.95], [38.1, 2.3]]]] },
      properties: gdacsProps('Poly_area', 'Affected Area'),
    },
  ],
}, null, 1) + '\n');

// USGS summary feed (significant_week) with one earthquake in Demoland.
const quakeTime = Date.parse('2026-11-18T04:12:33Z');
writeFileSync(`${out}/usgs-significant-week.geojson`, JSON.stringify({
  type: 'FeatureCollection',
  metadata: { generated: Date.parse('2026-11-20T10:00:00Z'), url: 'https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/significant_week.geojson', title: 'USGS Significant Earthquakes, Past Week', status: 200, api: '1.14.1', count: 1 },
  features: [{
    type: 'Feature',
    properties: {
      mag: 6.3, place: '24 km SE of Westmere, Demoland', time: quakeTime, updated: quakeTime + 3_600_000, tz: null,
      url: 'https://earthquake.usgs.gov/earthquakes/eventpage/xd9900001', detail: 'https://earthquake.usgs.gov/earthquakes/feed/v1.0/detail/xd9900001.geojson',
      felt: 112, cdi: 6.8, mmi: 7.1, alert: 'yellow', status: 'reviewed', tsunami: 0, sig: 720, net: 'us', code: '9900001',
      ids: ',usxd9900001,', sources: ',us,', types: ',dyfi,losspager,origin,shakemap,', nst: null, dmin: 2.1, rms: 0.8, gap: 30,
      magType: 'mww', type: 'earthquake', title: 'M 6.3 - 24 km SE of Westmere, Demoland',
    },
    geometry: { type: 'Point', coordinates: [41.35, 0.62, 10] },
    id: 'usxd9900001',
  }],
  bbox: [41.35, 0.62, 10, 41.35, 0.62, 10],
}, null, 1) + '\n');

// A CAP 1.2 flood warning from a fictional met service; polygon in CAP's lat,lon order.
writeFileSync(`${out}/cap-flood-warning.xml`, `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>XD-DMS-2026-11-19-0042</identifier>
  <sender>urn:oid:2.49.0.0.999.0</sender>
  <sent>2026-11-19T06:00:00+03:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>en-GB</language>
    <category>Met</category>
    <event>Flood warning</event>
    <responseType>Prepare</responseType>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <effective>2026-11-19T06:00:00+03:00</effective>
    <expires>2026-11-26T18:00:00+03:00</expires>
    <senderName>Demoland Meteorological Service (fictional)</senderName>
    <headline>Severe flood warning for the Southdale lowlands</headline>
    <description>Heavy rain upstream; the Southdale river is expected to overtop its banks.</description>
    <area>
      <areaDesc>Southdale lowlands</areaDesc>
      <polygon>0.95,38.05 0.95,39.30 0.10,39.30 0.10,38.05 0.95,38.05</polygon>
    </area>
  </info>
</alert>
`);

// Monthly VCI-3M per district, Dec 2025 – Oct 2026 final and Nov 2026 forecast. Northaven
// (XD01) slides into severe and then extreme drought; the rest stays normal to moderate.
const random = seededRandom(99);
const months = Array.from({ length: 12 }, (_, i) => new Date(Date.UTC(2025, 11 + i, 1)));
const lines = ['pcode,indicator,period_start,period_end,value,status,source'];
for (const feature of demoDistricts().features) {
  const pcode = String(feature.properties?.ADM2_PCODE);
  const northaven = pcode.startsWith('XD01');
  months.forEach((start, i) => {
    const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 0));
    const trend = northaven ? Math.max(4, 48 - i * 4.2) : 44 - 6 * Math.sin(i / 2);
    const value = Math.max(0, Math.min(100, trend + (random() - 0.5) * 6));
    const status = i === months.length - 1 ? 'forecast' : 'final';
    lines.push([pcode, 'vci3m', iso(start), iso(end), value.toFixed(1), status, 'NDMA (demo)'].join(','));
  });
}
writeFileSync(`${out}/vci3m-districts.csv`, lines.join('\n') + '\n');

// Ten years of monthly VCI-3M before that, with the 2016–17, 2019 and 2021–22 droughts.
writeFileSync(`${out}/vci3m-history.csv`, vciHistoryCsv());

function iso(date: Date): string {
  return date.toISOString().slice(0, 10);
}
