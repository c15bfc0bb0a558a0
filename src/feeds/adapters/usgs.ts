import type { Feature, MultiLineString, MultiPolygon, Polygon, Position } from 'geojson';
import { area, difference, featureCollection, union } from '@turf/turf';
import { positionProblem } from '../../geo/polygonal.ts';
import { isoTime, numberOf, parseJsonPayload, isObject, RecordError, type Json } from '../decode.ts';
import {
  ALERT_LEVELS,
  PayloadError,
  emptyResult,
  type Adapter,
  type AlertLevel,
  type Footprint,
  type HazardEventVersion,
  type HazardType,
  type ParseResult,
  type SeverityMeasure,
} from '../model.ts';

/**
 * USGS earthquake adapter. Recognises by content:
 *
 * 1. Summary feeds (`summary/{significant|4.5|2.5|1.0|all}_{hour|day|week|month}.geojson`) and
 *    FDSN `format=geojson` query results: a FeatureCollection with `metadata`; one version per
 *    feature.
 * 2. The detail document (`detail/{id}.geojson`): one Feature with `properties.products`; the same
 *    mapping plus the PAGER alert level, ShakeMap maxmmi and the `cont_mmi.json` URL.
 * 3. ShakeMap MMI contours (`download/cont_mmi.json`, v3 `cont_mi.json`): isoseismal lines, turned
 *    into "MMI ≥ value" polygons (class `mmi`) where that can be done correctly; a level that cannot
 *    be closed stays as its lines (class `mmi_contour`).
 *
 * PAGER `losses.json` carries no event id, so it is refused with a PayloadError.
 *
 * Identity: externalId = feature `id` (the preferred id), aliases = every id in `ids`; version =
 * String(updated), versionRank = updated (ms). Rejection `where`: `feature N (id X)`, N is the index
 * in the `features` array (from 0).
 */



const UNSEEN = (what: string) =>
  new PayloadError(`not a USGS payload: ${what} (expected a summary/FDSN FeatureCollection, a detail Feature or ShakeMap cont_mmi.json)`);

export const usgsAdapter: Adapter = {
  source: 'usgs',
  parse(bytes) {
    const doc = parseJsonPayload(bytes);
    if (!isObject(doc)) throw UNSEEN(`the JSON is ${Array.isArray(doc) ? 'an array' : typeof doc}`);
    if (isPagerLosses(doc)) {
      throw new PayloadError(
        'this is PAGER losses.json, which does not carry the event id: ingest the event detail document ' +
          '(detail/{id}.geojson, whose losspager product gives the alert level) instead',
      );
    }
    if (doc.type === 'FeatureCollection') {
      if (!Array.isArray(doc.features)) throw new PayloadError('a FeatureCollection without a features array');
      if (isContourCollection(doc)) return parseContours(doc);
      if (isSummaryCollection(doc)) return parseSummary(doc);
      throw UNSEEN('a FeatureCollection with neither USGS feed metadata nor earthquake features');
    }
    if (doc.type === 'Feature') {
      if (!isObject(doc.properties) || (!('products' in doc.properties) && !('updated' in doc.properties))) {
        throw UNSEEN('a Feature without USGS event properties (products, updated)');
      }
      return parseDetail(doc);
    }
    throw UNSEEN(`GeoJSON type ${JSON.stringify(doc.type ?? null)}`);
  },
};

// ---------------------------------------------------------------------------------------------
// Recognition

function isPagerLosses(doc: Json): boolean {
  return doc.type === undefined && ('empirical_fatality' in doc || 'empirical_economic' in doc || 'semi_empirical_fatalities' in doc);
}

const CONTOUR_UNITS = new Set(['mmi', 'intensity']);

function isLineFeature(f: unknown): boolean {
  return isObject(f) && isObject(f.geometry) && (f.geometry.type === 'MultiLineString' || f.geometry.type === 'LineString');
}

function isContourCollection(doc: Json): boolean {
  const features = doc.features as unknown[];
  const metadata = isObject(doc.metadata) ? doc.metadata : {};
  if (features.length === 0) return 'eventid' in metadata && !('count' in metadata) && !('generated' in metadata);
  return features.every((f) => isLineFeature(f) || !isObject(f) || !isObject(f.geometry)) && features.some(isLineFeature);
}

function isSummaryCollection(doc: Json): boolean {
  const metadata = doc.metadata;
  if (isObject(metadata) && ('generated' in metadata || 'count' in metadata || 'api' in metadata)) return true;
  const features = doc.features as unknown[];
  const quakeLike = features.filter((f) => isObject(f) && isObject(f.properties) && 'mag' in f.properties && 'time' in f.properties);
  return features.length > 0 && quakeLike.length * 2 > features.length;
}

// ---------------------------------------------------------------------------------------------
// Summary feeds and the detail document

function parseSummary(doc: Json): ParseResult {
  const result = emptyResult();
  const metadata = isObject(doc.metadata) ? doc.metadata : {};
  const feedUrl = typeof metadata.url === 'string' ? metadata.url : null;
  for (const [index, feature] of (doc.features as unknown[]).entries()) {
    const where = featureWhere(index, feature);
    try {
      const event = quakeEvent(feature);
      if (feedUrl) event.properties.feed = feedUrl;
      result.events.push(event);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      result.rejected.push({ where, reason: error.message });
    }
  }
  return result;
}

function parseDetail(doc: Json): ParseResult {
  const result = emptyResult();
  const where = featureWhere(null, doc);
  try {
    const event = quakeEvent(doc);
    addProducts(event, (doc.properties as Json).products);
    result.events.push(event);
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    result.rejected.push({ where, reason: error.message });
  }
  return result;
}

function featureWhere(index: number | null, feature: unknown): string {
  const id = isObject(feature) && (typeof feature.id === 'string' || typeof feature.id === 'number') ? String(feature.id).trim() : '';
  const head = index === null ? 'feature' : `feature ${index}`;
  return id ? `${head} (id ${id})` : head;
}

/** Comma-wrapped USGS list (",us6000le56,at00s28p79,") → ['us6000le56', 'at00s28p79']. */
export function commaList(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))];
}

export function normaliseAlert(value: unknown): AlertLevel | null {
  if (typeof value !== 'string') return null;
  const v = value.trim().toLowerCase();
  return (ALERT_LEVELS as readonly string[]).includes(v) ? (v as AlertLevel) : null;
}

export function usgsHazard(type: unknown): HazardType {
  const t = typeof type === 'string' ? type.trim().toLowerCase() : '';
  if (t === 'earthquake') return 'earthquake';
  if (t === 'volcanic eruption') return 'volcano';
  return 'other';
}

/** A USGS time: ms epoch as a number or numeric string, or an ISO string (FDSN `timeformat=iso`). */
function epochMs(value: unknown): number | null {
  const n = numberOf(value);
  if (n !== null) return n;
  const iso = isoTime(value);
  return iso ? Date.parse(iso) : null;
}

function measure(name: string, raw: unknown, unit: string | null): SeverityMeasure | null {
  if (raw === undefined || raw === null || raw === '') return null;
  const value = numberOf(raw);
  return value === null ? { name, value: null, unit, text: String(raw) } : { name, value, unit };
}

const textOrNull = (value: unknown): string | null =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : typeof value === 'number' ? String(value) : null;

/** One summary/detail feature → one version; throws RecordError with the reason otherwise. */
function quakeEvent(feature: unknown): HazardEventVersion {
  if (!isObject(feature)) throw new RecordError('not a GeoJSON Feature object');
  const id = typeof feature.id === 'string' || typeof feature.id === 'number' ? String(feature.id).trim() : '';
  if (!id) throw new RecordError('the feature has no id, so the event cannot be identified');
  const props = feature.properties;
  if (!isObject(props)) throw new RecordError('the feature has no properties');
  const updated = epochMs(props.updated);
  if (updated === null) {
    throw new RecordError(`no usable "updated" time (${JSON.stringify(props.updated ?? null)}), so the version is unknown`);
  }

  const geometry = feature.geometry;
  if (!isObject(geometry) || geometry.type !== 'Point' || !Array.isArray(geometry.coordinates)) {
    throw new RecordError(`the geometry is not a Point (${isObject(geometry) ? JSON.stringify(geometry.type) : 'missing'})`);
  }
  const coords = geometry.coordinates as unknown[];
  const lon = numberOf(coords[0]);
  const lat = numberOf(coords[1]);
  if (lon === null || lat === null) throw new RecordError(`the epicentre ${JSON.stringify(coords)} is not [longitude, latitude, depth]`);
  const problem = positionProblem([lon, lat]);
  if (problem) throw new RecordError(`epicentre: ${problem}`);
  const depth = coords.length > 2 ? numberOf(coords[2]) : null;

  const status = typeof props.status === 'string' ? props.status.trim().toLowerCase() : null;
  const time = epochMs(props.time);
  const magType = textOrNull(props.magType);
  const severity = [
    measure('magnitude', props.mag, magType),
    measure('mmi', props.mmi, 'mmi'),
    measure('cdi', props.cdi, 'cdi'),
    measure('sig', props.sig, null),
    depth === null ? null : { name: 'depth', value: depth, unit: 'km' },
  ].filter((m): m is SeverityMeasure => m !== null);

  const mag = numberOf(props.mag);
  const place = textOrNull(props.place);
  const title = textOrNull(props.title) ?? (place ? `M ${mag ?? '?'} - ${place}` : null);
  const properties: Json = {
    status,
    deleted: status === 'deleted',
    type: textOrNull(props.type),
    magType,
    tsunami: props.tsunami === undefined ? null : (numberOf(props.tsunami) ?? props.tsunami),
    felt: numberOf(props.felt),
    net: textOrNull(props.net),
    code: textOrNull(props.code),
    ids: commaList(props.ids),
    sources: commaList(props.sources),
    types: commaList(props.types),
    tz: props.tz === undefined ? null : numberOf(props.tz),
    place,
    url: textOrNull(props.url),
    detail: textOrNull(props.detail),
    alert: props.alert ?? null,
    nst: numberOf(props.nst),
    dmin: numberOf(props.dmin),
    rms: numberOf(props.rms),
    gap: numberOf(props.gap),
    time,
    updated,
  };

  return {
    source: 'usgs',
    externalId: id,
    aliases: commaList(props.ids),
    version: String(updated),
    versionRank: updated,
    hazard: usgsHazard(props.type),
    eventAlertLevel: normaliseAlert(props.alert),
    episodeAlertLevel: null,
    severity,
    footprints: [{ class: 'Point_Centroid', geometry: { type: 'Point', coordinates: [lon, lat] }, label: place, value: null, unit: null }],
    validFrom: time === null ? null : new Date(time).toISOString(),
    validTo: null,
    issuedAt: new Date(updated).toISOString(),
    title,
    countries: [],
    link: textOrNull(props.url),
    status: 'actual',
    supersedes: [],
    // USGS withdrew the event: it closes (as a CAP Cancel does) and can no longer trigger.
    cancels: status === 'deleted',
    pcodes: [],
    properties,
  };
}

/** The product USGS itself prefers: not deleted, highest preferredWeight, then latest updateTime. */
function preferredProduct(products: unknown, type: string): Json | null {
  if (!isObject(products)) return null;
  const list = (Array.isArray(products[type]) ? products[type] : []) as unknown[];
  const live = list.filter((p): p is Json => isObject(p) && String(p.status ?? '').toUpperCase() !== 'DELETE');
  live.sort(
    (a, b) =>
      (numberOf(b.preferredWeight) ?? 0) - (numberOf(a.preferredWeight) ?? 0) ||
      (numberOf(b.updateTime) ?? 0) - (numberOf(a.updateTime) ?? 0),
  );
  return live[0] ?? null;
}

function contentUrl(product: Json, names: string[]): string | null {
  const contents = isObject(product.contents) ? product.contents : {};
  for (const name of names) {
    const entry = contents[name];
    if (isObject(entry) && typeof entry.url === 'string' && entry.url) return entry.url;
  }
  return null;
}

function addProducts(event: HazardEventVersion, products: unknown): void {
  const pager = preferredProduct(products, 'losspager');
  if (pager) {
    const p = isObject(pager.properties) ? pager.properties : {};
    const alert = normaliseAlert(p.alertlevel);
    if (event.eventAlertLevel === null && alert) event.eventAlertLevel = alert;
    const updateTime = numberOf(pager.updateTime);
    event.properties.losspager = {
      id: textOrNull(pager.id),
      alertlevel: alert,
      version: textOrNull(p.version),
      updateTime: updateTime === null ? null : new Date(updateTime).toISOString(),
      reviewStatus: textOrNull(p['review-status']),
      maxmmi: numberOf(p.maxmmi),
    };
  }
  const shakemap = preferredProduct(products, 'shakemap');
  if (shakemap) {
    const p = isObject(shakemap.properties) ? shakemap.properties : {};
    const maxmmi = numberOf(p.maxmmi);
    if (maxmmi !== null) event.severity.push({ name: 'shakemap_maxmmi', value: maxmmi, unit: 'mmi' });
    const updateTime = numberOf(shakemap.updateTime);
    event.properties.shakemap = {
      id: textOrNull(shakemap.id),
      version: textOrNull(p.version),
      updateTime: updateTime === null ? null : new Date(updateTime).toISOString(),
      processTimestamp: isoTime(p['process-timestamp']),
      mapStatus: textOrNull(p['map-status']),
      maxmmi,
    };
    event.properties.shakemapContoursUrl = contentUrl(shakemap, ['download/cont_mmi.json', 'download/cont_mi.json']);
  }
}

// ---------------------------------------------------------------------------------------------
// ShakeMap contours → "MMI ≥ value" polygons

type Ring = Position[];
type BBox = [number, number, number, number];

/** One contour level: its lines (as read), and what could be made of them. */
export interface ContourLevel {
  value: number;
  lines: Position[][];
  /** Why this level cannot be polygonised (it is then kept as lines), or null. */
  problem: string | null;
}

function parseContours(doc: Json): ParseResult {
  const result = emptyResult();
  const metadata = isObject(doc.metadata) ? doc.metadata : {};
  const eventId = textOrNull(metadata.eventid);
  if (!eventId) throw new PayloadError('ShakeMap contours without metadata.eventid: the event cannot be identified');

  // Group the lines by MMI value; a feature with a bad value or bad coordinates is rejected and
  // its level cannot be polygonised any more (a missing line would turn the areas inside out).
  const levels = new Map<number, ContourLevel>();
  const brokenLevels = new Map<number, string>();
  let unknownLevel: string | null = null;
  let units: string | null = null;
  for (const [index, feature] of (doc.features as unknown[]).entries()) {
    const where = `feature ${index}`;
    if (!isObject(feature) || !isObject(feature.properties) || !isObject(feature.geometry)) {
      result.rejected.push({ where, reason: 'not a contour Feature with properties and geometry' });
      continue;
    }
    const value = numberOf(feature.properties.value);
    const unit = typeof feature.properties.units === 'string' ? feature.properties.units.trim().toLowerCase() : null;
    if (unit !== null && !CONTOUR_UNITS.has(unit)) {
      throw new PayloadError(`these are ShakeMap contours of ${JSON.stringify(feature.properties.units)}, not MMI (cont_mmi.json)`);
    }
    units ??= unit;
    if (value === null) {
      result.rejected.push({ where, reason: `contour value ${JSON.stringify(feature.properties.value ?? null)} is not a number` });
      unknownLevel ??= `feature ${index} has no readable MMI value, so some level lacks its lines`;
      continue;
    }
    const geometry = feature.geometry;
    const raw = geometry.type === 'LineString' ? [geometry.coordinates] : geometry.type === 'MultiLineString' ? geometry.coordinates : null;
    if (!Array.isArray(raw)) {
      result.rejected.push({ where: `${where} (MMI ${value})`, reason: `geometry type ${JSON.stringify(geometry.type)} is not a contour line` });
      brokenLevels.set(value, `feature ${index} was rejected`);
      continue;
    }
    const lines: Position[][] = [];
    let bad: string | null = null;
    for (const line of raw as unknown[]) {
      if (!Array.isArray(line)) { bad = 'a line is not an array of positions'; break; }
      const positions: Position[] = [];
      for (const p of line as unknown[]) {
        const lon = Array.isArray(p) ? numberOf(p[0]) : null;
        const lat = Array.isArray(p) ? numberOf(p[1]) : null;
        const problem = lon === null || lat === null ? `position ${JSON.stringify(p)} is not [longitude, latitude]` : positionProblem([lon, lat]);
        if (problem) { bad = problem; break; }
        positions.push([lon as number, lat as number]);
      }
      if (bad) break;
      lines.push(positions);
    }
    if (bad) {
      result.rejected.push({ where: `${where} (MMI ${value})`, reason: bad });
      brokenLevels.set(value, `feature ${index} was rejected: ${bad}`);
      continue;
    }
    const level = levels.get(value) ?? { value, lines: [], problem: null };
    level.lines.push(...lines);
    levels.set(value, level);
  }
  for (const [value, why] of brokenLevels) {
    const level = levels.get(value);
    if (level) level.problem = why;
  }
  if (unknownLevel) for (const level of levels.values()) level.problem ??= unknownLevel;
  if (levels.size === 0) return result;

  const epicentre = [numberOf(metadata.longitude), numberOf(metadata.latitude)];
  const bbox = contourBBox(doc, [...levels.values()]);
  const areas = mmiAreas([...levels.values()], bbox, epicentre[0] === null || epicentre[1] === null ? null : (epicentre as Position));

  const footprints: Footprint[] = [];
  for (const level of [...levels.values()].sort((a, b) => a.value - b.value)) {
    const polygons = areas.polygons.get(level.value);
    if (polygons) {
      if (polygons.length === 0) continue; // the level's lines were all degenerate
      footprints.push({
        class: 'mmi',
        geometry: polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0] } : { type: 'MultiPolygon', coordinates: polygons },
        label: `MMI ≥ ${level.value}`,
        value: level.value,
        unit: 'mmi',
      });
    } else {
      const lines = level.lines.filter((l) => distinctCount(l) >= 2);
      if (lines.length === 0) continue;
      footprints.push({
        class: 'mmi_contour',
        geometry: { type: 'MultiLineString', coordinates: lines } satisfies MultiLineString,
        label: `MMI ${level.value} contour lines`,
        value: level.value,
        unit: 'mmi',
      });
    }
  }

  const version = contourVersion(metadata);
  const maxLevel = Math.max(...levels.keys());
  result.events.push({
    source: 'usgs',
    externalId: eventId,
    aliases: [],
    version: version.version,
    versionRank: version.rank,
    hazard: 'earthquake',
    eventAlertLevel: null,
    episodeAlertLevel: null,
    severity: [{ name: 'shakemap_max_contour', value: maxLevel, unit: 'mmi' }],
    footprints,
    footprintsOnly: true,
    validFrom: null,
    validTo: null,
    issuedAt: version.issuedAt,
    title: null,
    countries: [],
    link: null,
    status: 'actual',
    supersedes: [],
    cancels: false,
    pcodes: [],
    properties: {
      payload: 'shakemap_contours',
      units,
      versionKnown: version.known,
      shakemapVersion: version.shakemapVersion,
      epicentre: epicentre[0] === null || epicentre[1] === null ? null : epicentre,
      contourBBox: bbox,
      levels: [...levels.keys()].sort((a, b) => a - b),
      polygonisedLevels: [...areas.polygons.keys()].sort((a, b) => a - b),
      lineOnlyLevels: [...areas.notPolygonised.entries()].sort((a, b) => a[0] - b[0]).map(([value, reason]) => ({ value, reason })),
      epicentreMmiAtLeast: areas.epicentreLevel,
    },
  });
  return result;
}

function contourVersion(metadata: Json): { version: string; rank: number; issuedAt: string | null; known: boolean; shakemapVersion: string | null } {
  const stamp = isoTime(metadata.process_timestamp ?? metadata['process-timestamp'] ?? metadata.processTimestamp ?? metadata.timestamp ?? null);
  const shakemapVersion = textOrNull(metadata.version ?? metadata.map_version ?? null);
  if (stamp) return { version: stamp, rank: Date.parse(stamp), issuedAt: stamp, known: true, shakemapVersion };
  // A bare ShakeMap version number is not comparable with the `updated` ms of the summary
  // versions, so it only labels the version; the rank stays 0 (older than any dated version).
  if (shakemapVersion) return { version: `shakemap v${shakemapVersion}`, rank: 0, issuedAt: null, known: false, shakemapVersion };
  return { version: 'shakemap', rank: 0, issuedAt: null, known: false, shakemapVersion: null };
}

/** The map extent: the payload's `bbox` if it is a sane 2-D/3-D box, else the extent of the lines. */
function contourBBox(doc: Json, levels: ContourLevel[]): BBox {
  const b = Array.isArray(doc.bbox) ? doc.bbox.map(numberOf) : [];
  const ok = (xs: (number | null)[]): xs is number[] => xs.every((x) => x !== null);
  let box: BBox | null = null;
  if (b.length === 4 && ok(b)) box = [b[0], b[1], b[2], b[3]];
  else if (b.length === 6 && ok(b)) box = [b[0], b[1], b[3], b[4]];
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const level of levels) for (const line of level.lines) for (const [x, y] of line) {
    minX = Math.min(minX, x); minY = Math.min(minY, y); maxX = Math.max(maxX, x); maxY = Math.max(maxY, y);
  }
  if (box && box[0] < box[2] && box[1] < box[3] && box[0] <= minX && box[1] <= minY && box[2] >= maxX && box[3] >= maxY) return box;
  return [minX, minY, maxX, maxY];
}

function distinctCount(line: Position[]): number {
  return dedupe(line).length;
}

/** Consecutive duplicate positions removed. */
function dedupe(line: Position[]): Position[] {
  const out: Position[] = [];
  for (const p of line) {
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  }
  return out;
}

const samePosition = (a: Position, b: Position) => a[0] === b[0] && a[1] === b[1];

export interface MmiAreas {
  /** Level → polygons (MultiPolygon coordinates) of the area where MMI ≥ level. */
  polygons: Map<number, Position[][][]>;
  /** Level → why it is kept as lines. */
  notPolygonised: Map<number, string>;
  /** The highest polygonised level (its area holds the epicentre, by assumption and check), or null. */
  epicentreLevel: number | null;
}

/**
 * A boundary loop of one level: a closed contour ring, a contour line cut by the map edge (a
 * "chord", closed along the edge), or the map edge itself.
 */
interface Loop {
  kind: 'ring' | 'chord' | 'box';
  /** The loop as a closed ring (a chord: its line, then the map edge back to its start). */
  ring: Ring;
  /** Chords: the line oriented from its end nearer s = 0 to the other, with edge positions lo < hi. */
  line: Position[];
  lo: number;
  hi: number;
  children: Loop[];
  depth: number;
}

/** The level's area (MMI ≥ value) and its complement in the map (MMI < value), as faces. */
interface LevelSplit {
  above: Position[][][];
  below: Position[][][];
  /** Point membership in `above`, from the loops (exact, no polygon clipping). */
  inside: (p: Position) => boolean;
}

/**
 * Polygonises ShakeMap contour lines into "MMI ≥ value" areas.
 *
 * For one level, every contour line is a boundary between MMI ≥ value and MMI < value. A closed
 * ring is a loop as it is; a line cut by the map edge (both ends on the edge, a "chord") is closed
 * along the edge over the arc that avoids the south-west corner. The even-odd fill X of these loops
 * is either the area MMI ≥ value or its complement in the map: crossing a line flips the side, and
 * closing a chord along the other arc would only toggle the whole map. Which of the two is fixed by
 * the epicentre, which lies in the highest-intensity area, hence in MMI ≥ value for every level.
 * Lines of one level normally do not cross, so the loops nest (chords by their arcs, rings by a
 * point test) and the faces are built from the nesting tree without clipping: a shell at even depth
 * minus its children; a chord shell walks the edge and detours along the chords nested in it. Rings
 * that cross or touch (ShakeMap smooths each line on its own) are first merged by the even-odd rule
 * with @turf clipping; a chord crossing anything sends the whole level through clipping (slower).
 * Where merged rings touch at a former crossing, a face may touch itself at a point: right as a
 * point set, not a valid OGC polygon; storage repairs that with ST_MakeValid.
 *
 * The result is checked level against level: a face of MMI ≥ 6.5 must lie in MMI ≥ 6, a face of
 * MMI < 6 outside MMI ≥ 6.5 (up to 2 % of the area, for the smoothing of the lines). A level is
 * kept as lines when it cannot be closed correctly (a line ending inside the map rather than on its
 * edge, lines of the level crossing on the map edge, the epicentre on a line); every level is when
 * there is no epicentre; a failed check keeps that level and all above it as lines (the epicentre is
 * then not in the highest-intensity area, so their inside and outside are unknown).
 */
export function mmiAreas(levels: ContourLevel[], bbox: BBox, epicentre: Position | null): MmiAreas {
  const out: MmiAreas = { polygons: new Map(), notPolygonised: new Map(), epicentreLevel: null };
  const halfSteps = levels.filter((l) => Number.isInteger(l.value * 2)).sort((a, b) => a.value - b.value);
  for (const l of levels) {
    if (!Number.isInteger(l.value * 2)) out.notPolygonised.set(l.value, 'not a whole or half MMI step');
    else if (l.problem) out.notPolygonised.set(l.value, l.problem);
  }
  const candidates = halfSteps.filter((l) => !l.problem);
  const giveUp = (from: number, reason: string) => {
    for (const l of candidates) if (l.value >= from && !out.notPolygonised.has(l.value)) out.notPolygonised.set(l.value, reason);
  };
  const [minX, minY, maxX, maxY] = bbox;
  if (!epicentre) {
    giveUp(-Infinity, 'no epicentre in the metadata to tell the inside of the contours from the outside');
    return out;
  }
  if (!(epicentre[0] > minX && epicentre[0] < maxX && epicentre[1] > minY && epicentre[1] < maxY)) {
    giveUp(-Infinity, 'the epicentre lies outside the contour map');
    return out;
  }

  let previous: { value: number; split: LevelSplit } | null = null;
  for (const level of candidates) {
    const split = splitLevel(level.lines, bbox, epicentre);
    if (typeof split === 'string') {
      out.notPolygonised.set(level.value, split); // this level only: the others are checked without it
      continue;
    }
    if (previous) {
      const problem = nestingProblem(previous.split, split);
      if (problem) {
        giveUp(level.value, `MMI ≥ ${level.value} against MMI ≥ ${previous.value}: ${problem}; ` +
          'the epicentre is not in the highest-intensity area or the contours are inconsistent');
        break;
      }
    }
    out.polygons.set(level.value, split.above);
    out.epicentreLevel = level.value;
    previous = { value: level.value, split };
  }
  return out;
}

/** One level's loops → its area and complement; a string says why it cannot be done. */
function splitLevel(lines: Position[][], bbox: BBox, epicentre: Position): LevelSplit | string {
  const edge = mapEdge(bbox);
  const read = levelLoops(lines, edge);
  if (typeof read === 'string') return read;
  // ShakeMap smooths each line on its own, so two lines of one level may cross or touch. The
  // even-odd rule still defines the area; such a group is resolved by polygon clipping (slow, so
  // only for the group) and replaced by the rings of the result, which nest with the rest.
  let loops = read;
  const groups = touchingGroups(loops);
  if (groups.some((g) => g.some((l) => l.kind === 'chord'))) return clippedSplit(loops, edge, epicentre);
  if (groups.length > 0) {
    const grouped = new Set(groups.flat());
    loops = loops.filter((l) => !grouped.has(l));
    for (const group of groups) {
      for (const polygon of evenOddFill(group.map((l) => l.ring))) {
        for (const ring of polygon) if (ring.length >= 4) loops.push({ kind: 'ring', ring, line: [], lo: 0, hi: 0, children: [], depth: 0 });
      }
    }
  }
  const tree = nestLoops(loops);
  if (typeof tree === 'string') return tree;

  if (loops.some((loop) => onRing(epicentre, loop.ring))) return 'the epicentre lies on a contour line';
  const containing = (p: Position) => loops.reduce((n, loop) => n + (pointInRing(p, loop.ring) ? 1 : 0), 0);
  const epicentreInFill = containing(epicentre) % 2 === 1;

  // The even-odd fill X: faces of even-depth loops; its complement: the map edge minus the
  // top-level loops, and faces of odd-depth loops.
  // A face next to resolved rings may touch itself at the former crossings: right as a point set,
  // though not a valid OGC polygon; storage repairs that with ST_MakeValid, as for any footprint.
  const fill: Position[][][] = [];
  const rest: Position[][][] = [];
  const box: Loop = { kind: 'box', ring: edge.ring, line: [], lo: 0, hi: edge.perimeter, children: tree, depth: -1 };
  const walk = (nodes: Loop[]) => {
    for (const node of nodes) {
      (node.depth % 2 === 0 ? fill : rest).push(face(node, edge));
      walk(node.children);
    }
  };
  walk(tree);
  rest.unshift(face(box, edge));
  const above = epicentreInFill ? fill : rest;
  const below = epicentreInFill ? rest : fill;
  return {
    above: above.filter((f) => f[0].length >= 4),
    below: below.filter((f) => f[0].length >= 4),
    inside: (p) => (containing(p) % 2 === 1) === epicentreInFill,
  };
}

/** The general (slow) path: even-odd fill of all loops by polygon clipping. */
function clippedSplit(loops: Loop[], edge: MapEdge, epicentre: Position): LevelSplit | string {
  if (loops.some((loop) => onRing(epicentre, loop.ring))) return 'the epicentre lies on a contour line';
  const fill = evenOddFill(loops.map((l) => l.ring));
  const inFill = (p: Position) => fill.some((poly) => pointInPolygon(p, poly));
  const epicentreInFill = inFill(epicentre);
  const rest = difference(featureCollection([polygonFeature([[edge.ring]]), polygonFeature(fill)]));
  const restCoords = rest ? multiCoords(rest.geometry) : [];
  return {
    above: epicentreInFill ? fill : restCoords,
    below: epicentreInFill ? restCoords : fill,
    inside: (p) => inFill(p) === epicentreInFill,
  };
}

const polygonFeature = (coords: Position[][][]): Feature<MultiPolygon> => ({
  type: 'Feature',
  properties: {},
  geometry: { type: 'MultiPolygon', coordinates: coords },
});

const multiCoords = (g: Polygon | MultiPolygon): Position[][][] => (g.type === 'Polygon' ? [g.coordinates] : g.coordinates);

/** Even-odd fill (symmetric difference) of rings, by clipping, as MultiPolygon coordinates. */
function evenOddFill(rings: Ring[]): Position[][][] {
  let fill: Position[][][] = [];
  for (const loop of rings) {
    if (fill.length === 0) {
      fill = [[orient(loop, true)]];
      continue;
    }
    const ring = polygonFeature([[loop]]);
    const current = polygonFeature(fill);
    const parts = [difference(featureCollection([current, ring])), difference(featureCollection([ring, current]))]
      .filter((f): f is NonNullable<typeof f> => f !== null);
    if (parts.length === 0) fill = [];
    else if (parts.length === 1) fill = multiCoords(parts[0].geometry);
    else {
      const u = union(featureCollection(parts));
      fill = u ? multiCoords(u.geometry) : [];
    }
  }
  return fill;
}

/** Groups of loops whose lines cross or touch one another (only groups of two or more). */
function touchingGroups(loops: Loop[]): Loop[][] {
  const parent = loops.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const paths = loops.map((l) => (l.kind === 'chord' ? l.line : l.ring));
  const boxes = paths.map(extent);
  for (let i = 0; i < loops.length; i++) {
    for (let j = i + 1; j < loops.length; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      if (a[0] > b[2] || b[0] > a[2] || a[1] > b[3] || b[1] > a[3]) continue;
      if (find(i) !== find(j) && pathsTouch(paths[i], paths[j])) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, Loop[]>();
  loops.forEach((l, i) => groups.set(find(i), [...(groups.get(find(i)) ?? []), l]));
  return [...groups.values()].filter((g) => g.length > 1);
}

function extent(path: Position[]): BBox {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of path) {
    minX = Math.min(minX, x); minY = Math.min(minY, y); maxX = Math.max(maxX, x); maxY = Math.max(maxY, y);
  }
  return [minX, minY, maxX, maxY];
}

/** Whether two polylines share any point (a crossing, a touch or an overlap). */
function pathsTouch(a: Position[], b: Position[]): boolean {
  const cross = (o: Position, p: Position, q: Position) => (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0]);
  const within = (p: Position, q: Position, r: Position) =>
    r[0] >= Math.min(p[0], q[0]) && r[0] <= Math.max(p[0], q[0]) && r[1] >= Math.min(p[1], q[1]) && r[1] <= Math.max(p[1], q[1]);
  for (let i = 0; i + 1 < a.length; i++) {
    const [p1, p2] = [a[i], a[i + 1]];
    const [ax0, ax1] = p1[0] < p2[0] ? [p1[0], p2[0]] : [p2[0], p1[0]];
    const [ay0, ay1] = p1[1] < p2[1] ? [p1[1], p2[1]] : [p2[1], p1[1]];
    for (let j = 0; j + 1 < b.length; j++) {
      const [q1, q2] = [b[j], b[j + 1]];
      if (Math.max(q1[0], q2[0]) < ax0 || Math.min(q1[0], q2[0]) > ax1 || Math.max(q1[1], q2[1]) < ay0 || Math.min(q1[1], q2[1]) > ay1) continue;
      const d1 = cross(q1, q2, p1);
      const d2 = cross(q1, q2, p2);
      const d3 = cross(p1, p2, q1);
      const d4 = cross(p1, p2, q2);
      if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
      if ((d1 === 0 && within(q1, q2, p1)) || (d2 === 0 && within(q1, q2, p2)) ||
        (d3 === 0 && within(p1, p2, q1)) || (d4 === 0 && within(p1, p2, q2))) return true;
    }
  }
  return false;
}

/** The area check between a level and the one above it, as a problem in words or null. */
function nestingProblem(lower: LevelSplit, upper: LevelSplit): string | null {
  const spill = (faces: Position[][][], wrong: (p: Position) => boolean): number => {
    let total = 0;
    let bad = 0;
    for (const f of faces) {
      const a = area({ type: 'Polygon', coordinates: f });
      total += a;
      const p = interiorPoint(f);
      if (p && wrong(p)) bad += a;
    }
    return total === 0 ? 0 : bad / total;
  };
  const up = spill(upper.above, (p) => !lower.inside(p));
  if (up > 0.02) return `${(100 * up).toFixed(1)} % of the higher area lies outside the lower one`;
  const down = spill(lower.below, (p) => upper.inside(p));
  if (down > 0.02) return `${(100 * down).toFixed(1)} % of the area below the lower level lies inside the higher one`;
  return null;
}

interface MapEdge {
  bbox: BBox;
  perimeter: number;
  ring: Ring;
  /** Position along the edge, counter-clockwise from the south-west corner (s = 0); null if not on it. */
  param(p: Position): { s: number; snapped: Position } | null;
  /** The corners strictly between two edge positions, walking from `from` down to `to` (from > to). */
  cornersDown(from: number, to: number): Position[];
}

function mapEdge(bbox: BBox): MapEdge {
  const [minX, minY, maxX, maxY] = bbox;
  const W = maxX - minX;
  const H = maxY - minY;
  const tolerance = 1e-6 * Math.max(W, H, 1);
  const near = (a: number, b: number) => Math.abs(a - b) <= tolerance;
  const clampX = (x: number) => Math.min(Math.max(x, minX), maxX);
  const clampY = (y: number) => Math.min(Math.max(y, minY), maxY);
  const corners: { s: number; p: Position }[] = [
    { s: W, p: [maxX, minY] },
    { s: W + H, p: [maxX, maxY] },
    { s: 2 * W + H, p: [minX, maxY] },
  ];
  return {
    bbox,
    perimeter: 2 * (W + H),
    ring: [[minX, minY], [maxX, minY], [maxX, maxY], [minX, maxY], [minX, minY]],
    param([x, y]) {
      if (near(y, minY)) return { s: clampX(x) - minX, snapped: [clampX(x), minY] };
      if (near(x, maxX)) return { s: W + clampY(y) - minY, snapped: [maxX, clampY(y)] };
      if (near(y, maxY)) return { s: W + H + maxX - clampX(x), snapped: [clampX(x), maxY] };
      if (near(x, minX)) return { s: 2 * W + H + maxY - clampY(y), snapped: [minX, clampY(y)] };
      return null;
    },
    cornersDown(from, to) {
      return corners.filter((c) => c.s < from && c.s > to).sort((a, b) => b.s - a.s).map((c) => c.p);
    },
  };
}

/** The loops of one level: closed rings (≥ 4 positions) and chords; a string says why not. */
function levelLoops(lines: Position[][], edge: MapEdge): Loop[] | string {
  const loops: Loop[] = [];
  for (const raw of lines) {
    const line = dedupe(raw);
    if (line.length < 2) continue; // a single point bounds nothing
    if (samePosition(line[0], line[line.length - 1])) {
      // Fewer than 4 positions: a zero-area ring (ShakeMap writes a few); it bounds nothing.
      if (line.length >= 4) loops.push({ kind: 'ring', ring: line, line: [], lo: 0, hi: 0, children: [], depth: 0 });
      continue;
    }
    const a = edge.param(line[0]);
    const b = edge.param(line[line.length - 1]);
    if (!a || !b) {
      const inner = a ? line[line.length - 1] : line[0];
      return `a contour line ends at [${inner[0]}, ${inner[1]}], inside the map rather than on its edge, so it cannot be closed`;
    }
    if (a.s === b.s) return 'a contour line leaves and re-enters the map edge at the same point';
    const oriented = a.s < b.s ? [a.snapped, ...line.slice(1, -1), b.snapped] : [b.snapped, ...line.slice(1, -1).reverse(), a.snapped];
    const lo = Math.min(a.s, b.s);
    const hi = Math.max(a.s, b.s);
    if (oriented.slice(1, -1).every((p) => edge.param(p) !== null)) continue; // runs along the edge: bounds nothing
    const ring = dedupe([...oriented, ...edge.cornersDown(hi, lo), oriented[0]]);
    loops.push({ kind: 'chord', ring, line: oriented, lo, hi, children: [], depth: 0 });
  }
  return loops;
}

/** Nests the loops into a forest (children, depth); a string when they cross. */
function nestLoops(loops: Loop[]): Loop[] | string {
  const chords = loops.filter((l) => l.kind === 'chord');
  for (let i = 0; i < chords.length; i++) {
    for (let j = i + 1; j < chords.length; j++) {
      const [a, b] = [chords[i], chords[j]];
      const disjoint = a.hi < b.lo || b.hi < a.lo;
      const nested = (a.lo < b.lo && b.hi < a.hi) || (b.lo < a.lo && a.hi < b.hi);
      if (!disjoint && !nested) return 'two contour lines of the level cross or share an end on the map edge';
    }
  }
  const probe = (l: Loop): Position => {
    const [p, q] = l.ring;
    return [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];
  };
  const contains = (outer: Loop, inner: Loop): boolean => {
    if (outer === inner) return false;
    if (outer.kind === 'chord' && inner.kind === 'chord') return outer.lo < inner.lo && inner.hi < outer.hi;
    if (outer.kind === 'ring' && inner.kind === 'chord') return false;
    return pointInRing(probe(inner), outer.ring);
  };
  const ancestors = new Map<Loop, Loop[]>(loops.map((l) => [l, loops.filter((o) => contains(o, l))]));
  const roots: Loop[] = [];
  for (const loop of loops) {
    const up = ancestors.get(loop)!;
    loop.depth = up.length;
    const parent = up.find((o) => ancestors.get(o)!.length === up.length - 1);
    if (up.length > 0 && !parent) return 'the contour loops of the level do not nest';
    (parent ? parent.children : roots).push(loop);
  }
  return roots;
}

/** A face: the loop minus its children (rings become holes, nested chords detours of the shell). */
function face(node: Loop, edge: MapEdge): Position[][] {
  const holes = node.children.filter((k) => k.kind === 'ring').map((k) => orient(k.ring, false));
  if (node.kind === 'ring') return [orient(node.ring, true), ...holes];
  const chords = node.children.filter((k) => k.kind === 'chord').sort((a, b) => b.hi - a.hi);
  const path: Position[] = node.kind === 'chord' ? [...node.line] : [edge.ring[0]];
  let s = node.hi;
  for (const k of chords) {
    path.push(...edge.cornersDown(s, k.hi), ...k.line.slice().reverse());
    s = k.lo;
  }
  path.push(...edge.cornersDown(s, node.lo), path[0]);
  return [orient(dedupe(path), true), ...holes];
}

/** Twice the signed area (shoelace): positive for counter-clockwise. */
function signedArea(ring: Ring): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) sum += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return sum;
}

/** RFC 7946 winding: exterior rings counter-clockwise, holes clockwise. */
function orient(ring: Ring, counterClockwise: boolean): Ring {
  return signedArea(ring) > 0 === counterClockwise ? ring : ring.slice().reverse();
}

/** Even-odd point-in-ring test (the point must not lie on the ring; see onRing). */
function pointInRing([x, y]: Position, ring: Ring): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Even-odd point-in-polygon (shell and holes). */
function pointInPolygon(p: Position, polygon: Position[][]): boolean {
  return polygon.reduce((inside, ring) => (pointInRing(p, ring) ? !inside : inside), false);
}

function onRing(p: Position, ring: Ring): boolean {
  return ring.some((q, i) => {
    if (i === 0) return false;
    const a = ring[i - 1];
    const cross = (q[0] - a[0]) * (p[1] - a[1]) - (q[1] - a[1]) * (p[0] - a[0]);
    if (Math.abs(cross) > 1e-12) return false;
    return p[0] >= Math.min(a[0], q[0]) && p[0] <= Math.max(a[0], q[0]) && p[1] >= Math.min(a[1], q[1]) && p[1] <= Math.max(a[1], q[1]);
  });
}

/** A point strictly inside a polygon (with holes): the middle of the widest scanline interval. */
export function interiorPoint(polygon: Position[][]): Position | null {
  const ys = [...new Set(polygon[0].map((p) => p[1]))].sort((a, b) => a - b);
  if (ys.length < 2) return null;
  const mid = Math.floor((ys.length - 1) / 2);
  for (const k of [mid, ...ys.keys()]) {
    if (k + 1 >= ys.length) continue;
    const y = (ys[k] + ys[k + 1]) / 2;
    const xs: number[] = [];
    for (const ring of polygon) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const [x1, y1] = ring[i];
        const [x2, y2] = ring[i + 1];
        if (y1 > y !== y2 > y) xs.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
      }
    }
    xs.sort((a, b) => a - b);
    let best: Position | null = null;
    let width = 0;
    for (let i = 0; i + 1 < xs.length; i += 2) {
      if (xs[i + 1] - xs[i] > width) {
        width = xs[i + 1] - xs[i];
        best = [(xs[i] + xs[i + 1]) / 2, y];
      }
    }
    if (best) return best;
  }
  return null;
}
