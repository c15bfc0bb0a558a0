import type { Store } from '../../../src/db/store.ts';
import { gdacsAdapter } from '../../../src/feeds/adapters/gdacs.ts';
import { ingestPayload } from '../../../src/feeds/ingest.ts';
import type { FootprintShape } from './oracle.ts';

/**
 * A GDACS drought geometry document (as `polygons/getgeometry` serves it) carrying the scenario's
 * footprints, ingested through the real adapter. The event id is new for every scenario; a
 * footprint's level (`value`) is written as its label in km/h, which the adapter reads back.
 */
export async function ingestFootprints(store: Store, footprints: FootprintShape[], n: number, episode = 1): Promise<void> {
  const base = {
    eventtype: 'DR', eventid: 9_800_000 + n, episodeid: episode, eventname: `Oracle-${n}`, glide: '', name: 'Drought in Oceania',
    description: 'Drought in Oceania', alertlevel: 'Orange', alertscore: 2, episodealertlevel: 'Orange', episodealertscore: 2,
    istemporary: 'false', iscurrent: 'true', country: 'Oceania', fromdate: '2026-07-01T00:00:00', todate: '2026-11-20T00:00:00',
    datemodified: `2026-11-${String(10 + episode).padStart(2, '0')}T09:00:00`, iso3: 'XOC', source: 'GDO', sourceid: '',
    affectedcountries: [{ iso2: 'XO', iso3: 'XOC', countryname: 'Oceania' }],
    severitydata: { severity: 1000, severitytext: 'Oracle drought', severityunit: 'km2' },
  };
  const features = [
    // GDACS always sends a centroid; it is a point and never an area.
    { type: 'Feature', properties: { ...base, polygonlabel: 'Centroid', Class: 'Point_Centroid' }, geometry: { type: 'Point', coordinates: [1.5, 1] } },
    // A footprint's level travels in its label, as GDACS labels its wind buffers ("90 km/h").
    ...footprints.map((f) => ({ type: 'Feature', properties: { ...base, polygonlabel: f.value === null ? f.class : `${f.value} km/h`, Class: f.class }, geometry: f.geometry })),
  ];
  const bytes = Buffer.from(JSON.stringify({ type: 'FeatureCollection', features }));
  const summary = await ingestPayload(store, gdacsAdapter, { source: 'gdacs', bytes, url: `test://oracle-${n}-${episode}.json`, fetchedAt: new Date(`2026-11-${String(10 + episode).padStart(2, '0')}T09:00:00Z`) });
  if (summary.quarantined > 0) throw new Error(`the scenario's event was quarantined: ${JSON.stringify(summary)}`);
}
