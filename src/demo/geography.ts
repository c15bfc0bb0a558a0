import type { Feature, FeatureCollection, Polygon } from 'geojson';

/**
 * "Demoland", the demo's synthetic geography (it is no real country): 4 regions (ADM1) of
 * 6 districts (ADM2) each, on a regular grid over dry-land longitudes 38–42 E, latitudes 0–4 N.
 * Neighbouring districts share their edges exactly, so boundary cases are easy to construct.
 * `npm run demo:geography` writes it to data/demo/.
 */
export const DEMO_ISO3 = 'XDL';

const REGIONS = [
  { pcode: 'XD01', name: 'Northaven', west: 38, south: 2 },
  { pcode: 'XD02', name: 'Eastmarch', west: 40, south: 2 },
  { pcode: 'XD03', name: 'Southdale', west: 38, south: 0 },
  { pcode: 'XD04', name: 'Westmere', west: 40, south: 0 },
];
const DISTRICT_NAMES = ['Acacia', 'Baobab', 'Cedar', 'Doum', 'Euphorbia', 'Fig'];

const box = (west: number, south: number, east: number, north: number): Polygon => ({
  type: 'Polygon',
  coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
});

export function demoRegions(): FeatureCollection {
  const features: Feature[] = REGIONS.map((r) => ({
    type: 'Feature',
    properties: { ADM1_PCODE: r.pcode, ADM1_EN: r.name, ADM0_PCODE: 'XD', ISO3: DEMO_ISO3 },
    geometry: { type: 'MultiPolygon', coordinates: [box(r.west, r.south, r.west + 2, r.south + 2).coordinates] },
  }));
  return { type: 'FeatureCollection', features };
}

/** Each region is cut 3 columns × 2 rows; districts are numbered west to east, north to south. */
export function demoDistricts(): FeatureCollection {
  const features: Feature[] = [];
  for (const r of REGIONS) {
    for (let row = 0; row < 2; row++) {
      for (let col = 0; col < 3; col++) {
        const n = row * 3 + col;
        const west = r.west + (col * 2) / 3;
        const north = r.south + 2 - row;
        features.push({
          type: 'Feature',
          properties: {
            ADM2_PCODE: `${r.pcode}${String(n + 1).padStart(3, '0')}`,
            ADM2_EN: `${r.name} ${DISTRICT_NAMES[n]}`,
            ADM1_PCODE: r.pcode,
            ADM1_EN: r.name,
            ISO3: DEMO_ISO3,
          },
          geometry: box(round(west), north - 1, round(west + 2 / 3), north),
        });
      }
    }
  }
  return { type: 'FeatureCollection', features };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
