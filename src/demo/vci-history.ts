import { demoDistricts } from './geography.ts';
import { normal, seededRandom } from './random.ts';

/**
 * Ten years of synthetic monthly VCI-3M for Demoland's 24 districts, 2015-12 … 2025-11 (it ends
 * where data/demo/feeds/vci3m-districts.csv begins), so that a rule can be backtested.
 *
 * value = normal level + seasonal cycle + region anomaly + district anomaly − drought × district
 * sensitivity, clamped to 0–100, one decimal. The region anomaly is shared by the region's six
 * districts (spatial correlation); both anomalies are AR(1), so months follow on from each other.
 * The droughts follow the Horn of Africa's recent ones: 2016–17 (severe), 2019 (moderate to
 * severe in some regions), 2021–22 (extreme in the north-east, Eastmarch); the wet seasons of
 * OND 2019 and OND 2023 push the index up. Everything else is normal variability.
 */
export const VCI_HISTORY_FIRST_MONTH = '2015-12';
export const VCI_HISTORY_MONTHS = 120;
export const VCI_HISTORY_SOURCE = 'NDMA (demo)';
export const VCI_HISTORY_SEED = 2015;

export interface VciHistoryRow {
  pcode: string;
  periodStart: string;
  periodEnd: string;
  value: number;
}

type Region = 'XD01' | 'XD02' | 'XD03' | 'XD04';

/**
 * A drought (positive depth) or a wet spell (negative): the depth at each keyframe month is
 * `shape × depth[region]`, linear in between, zero outside the first and last keyframe.
 */
interface Episode {
  name: string;
  shape: [month: string, factor: number][];
  depth: Record<Region, number>;
}

const EPISODES: Episode[] = [
  {
    name: '2016–17 drought (failed OND 2016 and poor MAM 2017 rains)',
    shape: [['2016-06', 0], ['2016-11', 0.7], ['2017-02', 1], ['2017-05', 0.8], ['2017-10', 0]],
    depth: { XD01: 25, XD02: 23, XD03: 14, XD04: 10 },
  },
  {
    name: '2019 drought (failed MAM 2019 rains)',
    shape: [['2019-02', 0], ['2019-06', 1], ['2019-08', 0.9], ['2019-10', 0]],
    depth: { XD01: 12, XD02: 26, XD03: 6, XD04: 22 },
  },
  {
    name: 'wet OND 2019 (positive Indian Ocean Dipole)',
    shape: [['2019-10', 0], ['2019-12', 1], ['2020-04', 0]],
    depth: { XD01: -14, XD02: -16, XD03: -12, XD04: -12 },
  },
  {
    name: '2021–22 drought (four failed seasons; worst in the north-east)',
    shape: [['2021-06', 0], ['2021-12', 0.9], ['2022-04', 0.7], ['2022-09', 1], ['2022-12', 0.85], ['2023-04', 0]],
    depth: { XD01: 24, XD02: 36, XD03: 16, XD04: 12 },
  },
  {
    name: 'wet OND 2023 (El Niño)',
    shape: [['2023-09', 0], ['2023-12', 1], ['2024-04', 0]],
    depth: { XD01: -12, XD02: -12, XD03: -14, XD04: -10 },
  },
];

const NORMAL_LEVEL = 47;
/** Bimodal rains (MAM, OND): the index is highest after each rainy season, lowest before it. */
const SEASON_AMPLITUDE = 4;

/** The history, district by district (in P-code order), month by month. */
export function vciHistory(seed = VCI_HISTORY_SEED): VciHistoryRow[] {
  const random = seededRandom(seed);
  const districts = demoDistricts().features.map((f) => String(f.properties?.ADM2_PCODE)).sort();
  const regions = [...new Set(districts.map((p) => p.slice(0, 4) as Region))];
  const months = Array.from({ length: VCI_HISTORY_MONTHS }, (_, i) => monthAfter(VCI_HISTORY_FIRST_MONTH, i));

  // Draws in a fixed order: sensitivities, then month by month region then district anomalies.
  const sensitivity = new Map(districts.map((p) => [p, 0.88 + 0.24 * random()]));
  const regionAnomaly = new Map(regions.map((r) => [r, 0]));
  const districtAnomaly = new Map(districts.map((p) => [p, 0]));
  const values = new Map<string, number[]>(districts.map((p) => [p, []]));
  for (const month of months) {
    for (const r of regions) regionAnomaly.set(r, 0.75 * regionAnomaly.get(r)! + 2.6 * normal(random));
    for (const p of districts) districtAnomaly.set(p, 0.5 * districtAnomaly.get(p)! + 2.2 * normal(random));
    const calendarMonth = Number(month.slice(5, 7));
    const season = SEASON_AMPLITUDE * Math.cos((2 * Math.PI * (calendarMonth - 5.5)) / 6);
    for (const p of districts) {
      const region = p.slice(0, 4) as Region;
      const drought = droughtDepth(region, month);
      // Wet spells lift all districts alike; droughts bite harder in the more sensitive ones.
      const impact = drought > 0 ? drought * sensitivity.get(p)! : drought;
      const value = NORMAL_LEVEL + season + regionAnomaly.get(region)! + districtAnomaly.get(p)! - impact;
      values.get(p)!.push(Math.round(Math.min(100, Math.max(0, value)) * 10) / 10);
    }
  }

  return districts.flatMap((pcode) =>
    months.map((month, i) => ({ pcode, periodStart: `${month}-01`, periodEnd: monthEnd(month), value: values.get(pcode)![i] })),
  );
}

/** The history as an indicator table (the CSV format of data/demo/feeds/vci3m-districts.csv). */
export function vciHistoryCsv(seed = VCI_HISTORY_SEED): string {
  const lines = ['pcode,indicator,period_start,period_end,value,status,source'];
  for (const row of vciHistory(seed)) {
    lines.push([row.pcode, 'vci3m', row.periodStart, row.periodEnd, row.value.toFixed(1), 'final', VCI_HISTORY_SOURCE].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Sum of the episodes' depths for a region in a month (YYYY-MM). */
function droughtDepth(region: Region, month: string): number {
  let total = 0;
  for (const episode of EPISODES) {
    const shape = episode.shape;
    if (month <= shape[0][0] || month >= shape[shape.length - 1][0]) continue;
    const k = shape.findIndex(([m]) => m >= month);
    const [m0, f0] = shape[k - 1];
    const [m1, f1] = shape[k];
    const t = monthsBetween(m0, month) / monthsBetween(m0, m1);
    total += (f0 + (f1 - f0) * t) * episode.depth[region];
  }
  return total;
}

function monthAfter(month: string, n: number): string {
  const d = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1 + n, 1));
  return d.toISOString().slice(0, 7);
}

function monthsBetween(a: string, b: string): number {
  return (Number(b.slice(0, 4)) - Number(a.slice(0, 4))) * 12 + Number(b.slice(5, 7)) - Number(a.slice(5, 7));
}

function monthEnd(month: string): string {
  return new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0)).toISOString().slice(0, 10);
}
