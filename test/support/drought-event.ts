import type { Store } from '../../src/db/store.ts';
import { gdacsAdapter } from '../../src/feeds/adapters/gdacs.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { ruleHeader } from './rules.ts';

/**
 * A GDACS drought event (orange) whose affected area (Poly_area) is a box, as GDACS publishes it:
 * a centroid and the polygon in one FeatureCollection. A later episode of the same event id with a
 * bigger box is how a second area gets notified in the same shock (`gdacs:<eventId>`).
 */
export async function ingestDroughtEpisode(
  store: Store,
  event: { eventId: number; episode: number; box: [number, number, number, number]; fetchedAt: string },
): Promise<void> {
  const [west, south, east, north] = event.box;
  const properties = {
    eventtype: 'DR', eventid: event.eventId, episodeid: event.episode, name: `Drought ${event.eventId}`, description: 'Drought in Demoland',
    alertlevel: 'Orange', alertscore: 2, episodealertlevel: 'Orange', episodealertscore: 2, istemporary: 'false', iscurrent: 'true',
    country: 'Demoland', iso3: 'XDL', fromdate: '2026-07-01T00:00:00', todate: '2027-03-31T00:00:00', datemodified: event.fetchedAt.slice(0, 19),
    source: 'GDO', severitydata: { severity: 1000, severitytext: 'test', severityunit: 'km2' },
  };
  const collection = {
    type: 'FeatureCollection',
    features: [
      { type: 'Feature', properties: { ...properties, Class: 'Point_Centroid', polygonlabel: 'Centroid' }, geometry: { type: 'Point', coordinates: [(west + east) / 2, (south + north) / 2] } },
      {
        type: 'Feature', properties: { ...properties, Class: 'Poly_area', polygonlabel: 'Affected Area' },
        geometry: { type: 'Polygon', coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]] },
      },
    ],
  };
  await ingestPayload(store, gdacsAdapter, {
    source: 'gdacs', bytes: Buffer.from(JSON.stringify(collection)), url: `test://gdacs-${event.eventId}-${event.episode}.json`, fetchedAt: new Date(event.fetchedAt),
  });
}

/** A rule triggered by a GDACS drought (orange or worse) over the areas of `region` (a level-1 P-code), with the given response and budget YAML. */
export function droughtRule(id: string, region: string, response: string, budget: string, extra = ''): string {
  return `${ruleHeader(id, { title: `Drought test ${id}` })}
areas: { admin_level: 2, within: [${region}] }
stages:
  activation:
    when: { event: { source: gdacs, hazard: drought, min_alert_level: orange, footprint: { class: Poly_area } } }
response:
${response}
${budget}
${extra}`;
}
