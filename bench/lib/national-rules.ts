/**
 * The national bench's shocks and rules: a drought footprint ingested as a GDACS geometry document
 * through the engine's own feed path, monthly VCI-3M through the indicators feed, and the rule
 * texts that respond to them (every household of the area or footprint, one flat payment).
 *
 * Not a bench itself: it exports no `main`.
 */
import type { Geometry } from 'geojson';
import type { Store } from '../../src/db/store.ts';
import { gdacsAdapter } from '../../src/feeds/adapters/gdacs.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';

/** Evaluation time of every rule: after the events below and the last VCI month's publication. */
export const AS_OF = '2026-11-21T00:00:00Z';
export const CYCLE = '2026-11';
const VCI_MONTHS = ['2026-08', '2026-09', '2026-10'];
const DROUGHT_VCI = 8;
const NORMAL_VCI = 45;

/**
 * A GDACS drought (`polygons/getgeometry`) whose affected area is `footprint`, labelled `label` so
 * that a rule can select this event's shape and no other; quarantine is an error.
 */
export async function ingestDroughtFootprint(store: Store, eventId: number, label: string, footprint: Geometry, centroid: [number, number]): Promise<void> {
  const base = {
    eventtype: 'DR', eventid: eventId, episodeid: 1, eventname: `Bench-${eventId}`, glide: '', name: 'Drought in Kenya',
    description: 'Drought in Kenya', alertlevel: 'Orange', alertscore: 2, episodealertlevel: 'Orange', episodealertscore: 2,
    istemporary: 'false', iscurrent: 'true', country: 'Kenya', fromdate: '2026-07-01T00:00:00', todate: '2026-11-20T00:00:00',
    datemodified: '2026-11-20T09:00:00', iso3: 'KEN', source: 'GDO', sourceid: '',
    affectedcountries: [{ iso2: 'KE', iso3: 'KEN', countryname: 'Kenya' }],
    severitydata: { severity: 1000, severitytext: 'Bench drought', severityunit: 'km2' },
  };
  const features = [
    { type: 'Feature', properties: { ...base, polygonlabel: 'Centroid', Class: 'Point_Centroid' }, geometry: { type: 'Point', coordinates: centroid } },
    { type: 'Feature', properties: { ...base, polygonlabel: label, Class: 'Poly_area' }, geometry: footprint },
  ];
  const bytes = Buffer.from(JSON.stringify({ type: 'FeatureCollection', features }));
  const summary = await ingestPayload(store, gdacsAdapter, {
    source: 'gdacs', bytes, url: `bench://gdacs-dr-${eventId}.json`, fetchedAt: new Date('2026-11-20T09:00:00Z'),
  });
  if (summary.quarantined > 0) throw new Error(`the bench's drought event ${eventId} was quarantined: ${JSON.stringify(summary)}`);
}

/** VCI-3M of every sub-county for three months: `drought` extreme (8), the others normal (45). */
export async function ingestVci(store: Store, pcodes: string[], drought: Set<string>): Promise<void> {
  for (const month of VCI_MONTHS) {
    const [y, m] = month.split('-').map(Number);
    const end = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
    const rows = pcodes.map((p) => `${p},vci3m,${month}-01,${end},${drought.has(p) ? DROUGHT_VCI : NORMAL_VCI},final,NDMA (bench)`);
    const bytes = Buffer.from(['pcode,indicator,period_start,period_end,value,status,source', ...rows].join('\n') + '\n');
    const summary = await ingestPayload(store, indicatorsAdapter, {
      source: 'indicators', bytes, url: `bench://vci3m-${month}.csv`, fetchedAt: new Date(Date.UTC(y, m, 5, 6)),
    });
    if (summary.indicatorsAdded !== pcodes.length) throw new Error(`VCI ${month}: ${summary.indicatorsAdded} values stored, expected ${pcodes.length}`);
  }
}

const header = (id: string, title: string, counties: string[]) => `id: ${id}
title: ${title}
country: KEN
programme: CT
owner: Bench ministry (fictional)
effective:
  from: 2024-07-01
agreed_text: >-
  ${title}, written for the national benchmark.
areas:
  admin_level: 2
  within: [${counties.join(', ')}]
`;

/** Every household reached, one flat payment, a budget no list reaches: the list is the match. */
const RESPONSE = `response:
  - mode: horizontal
    households:
      priority:
        - { field: pmt_score, order: ascending }
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 2700, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 5 } }
budget:
  envelope: { amount: 1000000000000, currency: KES, per: activation }
  over_budget: [stop_when_exhausted]
`;

/** A footprint rule: the GDACS drought's affected area labelled `label`, over the sub-counties of `counties`. */
export function footprintRule(id: string, label: string, counties: string[]): string {
  return `${header(id, `Bench drought footprint "${label}"`, counties)}stages:
  activation:
    when:
      event: { source: gdacs, hazard: drought, min_alert_level: orange, footprint: { class: Poly_area, label: "${label}" } }
${RESPONSE}`;
}

/** The activation stage of the bench's VCI-3M rules: extreme or severe over three months (bench/lists.ts too). */
export const VCI3M_STAGES = `stages:
  activation:
    when:
      indicator:
        id: vci
        name: vci3m
        source: NDMA (bench)
        version: BOKU MODIS VCI, 3-month aggregate
        unit: VCI (0-100)
        spatial_unit: { admin_level: 2 }
        period: monthly
        aggregation: { method: as_published, window: { count: 3, unit: months } }
        bands:
          - { name: extreme, max: 10 }
          - { name: severe, min: 10, max: 20 }
          - { name: moderate, min: 20, max: 35 }
          - { name: normal, min: 35 }
        triggering_bands: [extreme, severe]
`;

/** An area rule: VCI-3M extreme or severe over three months, by sub-county. */
export function vciRule(id: string, counties: string[]): string {
  return `${header(id, 'Bench drought on VCI-3M by sub-county', counties)}${VCI3M_STAGES}${RESPONSE}`;
}
