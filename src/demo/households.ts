import { bbox, booleanPointInPolygon } from '@turf/turf';
import type { MultiPolygon, Polygon } from 'geojson';
import { normal, pickWeighted, seededRandom } from './random.ts';

export interface DemoArea {
  pcode: string;
  geometry: Polygon | MultiPolygon;
  /** Relative share of households living here (e.g. population or land area). */
  weight: number;
}

export interface DemoProgrammeCodes {
  /** The regular cash transfer: about a quarter of households, mostly the poorest. */
  cashTransfer: string;
  /** Older persons' grant: households whose head is 70 or older. */
  olderPersons: string;
}

export const DEMO_COLUMNS = [
  'registry_id', 'admin_pcode', 'lat', 'lon', 'size', 'pmt_score', 'programmes',
  'payment_channel', 'payment_account', 'head_sex', 'head_age', 'disability', 'livestock_tlu',
  'head_first_name', 'head_last_name', 'head_birth_date', 'national_id', 'phone',
] as const;

// Common given names and surnames, drawn independently: the pairs are invented, as is every
// birth date, identity number and phone, so that openIMIS and partner exports have what they need.
const GIVEN = {
  F: ['Amina', 'Wanjiru', 'Akinyi', 'Fatuma', 'Nasimiyu', 'Chebet', 'Halima', 'Nyokabi', 'Atieno', 'Lokaale'],
  M: ['Abdi', 'Kamau', 'Otieno', 'Hassan', 'Wafula', 'Kiprono', 'Ekai', 'Mwangi', 'Omondi', 'Lomuria'],
};
const SURNAMES = ['Mohamed', 'Njoroge', 'Ochieng', 'Ali', 'Barasa', 'Kiptoo', 'Ewoton', 'Mutua', 'Adan', 'Lokwang', 'Wekesa', 'Guyo'];

// Kenya's 2019 census puts the mean household at about 3.9 people, with a long tail in the ASALs.
const SIZE_WEIGHTS = [12, 14, 16, 16, 13, 10, 7, 5, 3, 2, 1, 1];
const CHANNELS = ['mobile_money', 'mobile_money', 'mobile_money', 'bank', 'cash'];

/**
 * Generates registry CSV lines (header first) for `count` synthetic households spread over
 * `areas` by weight, each located inside its area. Deterministic for a given seed; nothing in
 * it describes a real person. Yields strings of many lines at a time.
 *
 * ```ts
 * await pipeline(Readable.from(demoHouseholdsCsv(areas, 20_000, 42, codes)), createWriteStream(f))
 * ```
 */
export function* demoHouseholdsCsv(
  areas: DemoArea[],
  count: number,
  seed: number,
  programmes: DemoProgrammeCodes,
): Generator<string> {
  const random = seededRandom(seed);
  // A second stream for the head's identity: the first stays as it was, so the households' places,
  // sizes, scores and enrolments are the same as before names were added.
  const identity = seededRandom(seed ^ 0x5eed);
  const boxes = areas.map((a) => bbox(a.geometry));
  const weights = areas.map((a) => a.weight);
  yield DEMO_COLUMNS.join(',') + '\n';
  let lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const areaIndex = pickWeighted(random, weights);
    const area = areas[areaIndex];
    const [lon, lat] = pointInside(random, area.geometry, boxes[areaIndex]);
    const size = pickWeighted(random, SIZE_WEIGHTS) + 1;
    // Proxy means score: lower is poorer; larger households tend to be poorer.
    const pmt = Math.max(1, 50 + 12 * normal(random) - 2.5 * (size - 4));
    const headAge = Math.min(95, Math.max(18, Math.round(42 + 15 * normal(random))));
    const enrolled: string[] = [];
    if (pmt + 8 * normal(random) < 40) enrolled.push(programmes.cashTransfer);
    if (headAge >= 70) enrolled.push(programmes.olderPersons);
    const channel = CHANNELS[Math.floor(random() * CHANNELS.length)];
    const account = channel === 'cash' ? '' : `07${String(Math.floor(random() * 1e8)).padStart(8, '0')}`;
    const sex = random() < 0.35 ? 'F' : 'M';
    lines.push(
      [
        `DEMO-${String(i).padStart(8, '0')}`,
        area.pcode,
        lat.toFixed(6),
        lon.toFixed(6),
        size,
        pmt.toFixed(2),
        enrolled.join(';'),
        channel,
        account,
        sex,
        headAge,
        random() < 0.06 ? 'yes' : 'no',
        (Math.max(0, 3 + 4 * normal(random))).toFixed(1),
        ...headIdentity(identity, sex, headAge, account),
      ].join(',') + '\n',
    );
    if (lines.length === 1000) {
      yield lines.join('');
      lines = [];
    }
  }
  if (lines.length) yield lines.join('');
}

/** First name, last name, birth date (aged `age` on 2026-06-30), national id, phone. */
function headIdentity(random: () => number, sex: 'F' | 'M', age: number, account: string): string[] {
  const given = GIVEN[sex][Math.floor(random() * GIVEN[sex].length)];
  const surname = SURNAMES[Math.floor(random() * SURNAMES.length)];
  const born = new Date(Date.UTC(2026 - age, 5, 30) - Math.floor(random() * 365) * 86_400_000);
  const nationalId = String(10_000_000 + Math.floor(random() * 89_999_999));
  const phone = account || `07${String(Math.floor(random() * 1e8)).padStart(8, '0')}`;
  return [given, surname, born.toISOString().slice(0, 10), nationalId, phone];
}

/** Rejection sampling inside the area's bounding box; areas are never slivers, so it ends fast. */
function pointInside(random: () => number, geometry: Polygon | MultiPolygon, box: number[]): [number, number] {
  const [west, south, east, north] = box;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const point: [number, number] = [west + random() * (east - west), south + random() * (north - south)];
    if (booleanPointInPolygon(point, geometry, { ignoreBoundary: true })) return point;
  }
  throw new Error('could not place a household inside an area after 10,000 tries');
}
