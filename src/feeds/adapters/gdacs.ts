import type { Geometry, Position } from 'geojson';
import { extentOf } from '../../geo/extent.ts';
import { asArray, isoTime, numberOf, parseJsonPayload, parseXmlPayload, payloadText, textOf, isObject, RecordError, recordProblem, type Json } from '../decode.ts';
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
  type Rejection,
  type SeverityMeasure,
} from '../model.ts';

/**
 * GDACS adapter. One adapter for the three payloads GDACS publishes, recognised by content:
 *
 * 1. RSS (`xml/rss.xml`, `rss_24h.xml`, `rss_7d.xml`, per-event `rss_{id}.xml`): one version per
 *    `<item>`, i.e. the latest episode of each event.
 * 2. Events API documents: `events/getepisodedata` / `geteventdata` (a GeoJSON Feature) and
 *    `events/geteventlist/...` (a FeatureCollection of such Point features): one version per feature.
 * 3. Geometry documents (`polygons/getgeometry`): a FeatureCollection whose features all carry
 *    eventtype/eventid/episodeid and a `Class`; one version per (event, episode) with every feature
 *    as a footprint.
 *
 * A FeatureCollection is grouped by (eventtype, eventid, episodeid): a list gives one group per
 * feature, a geometry document one group holding all its layers, a mixed geometry document one
 * group per pair. Identity: externalId = eventtype + eventid (`DR1016449`, equal to the RSS guid),
 * version = episodeid, versionRank = episodeid as a number.
 *
 * Rejection `where`: `item N (guid X)` counts RSS items from 1 (the N-th `<item>`, as in XPath);
 * `feature N (Class)` is the index in the JSON `features` array (from 0, as `features[N]`).
 */

/** GDACS event type → hazard type. Unknown (future) two-letter types map to 'other'. */
export const GDACS_HAZARDS: Readonly<Record<string, HazardType>> = {
  EQ: 'earthquake',
  TC: 'tropical_cyclone',
  FL: 'flood',
  DR: 'drought',
  VO: 'volcano',
  WF: 'wildfire',
  TS: 'tsunami',
};

/** Name of the `gdacs:severity` / `severitydata` measure, by event type (never by its unit). */
const SEVERITY_NAMES: Readonly<Record<string, string>> = {
  EQ: 'magnitude',
  TC: 'max_wind_speed',
  DR: 'affected_area',
  WF: 'burned_area',
};

// ------------------------------------------------------------------------------------------------
// Small exported helpers
// ------------------------------------------------------------------------------------------------

/** "Green", " ORANGE " → 'green', 'orange'; anything off the scale → null. */
export function normaliseAlert(value: unknown): AlertLevel | null {
  const text = textOf(value)?.toLowerCase();
  return text && (ALERT_LEVELS as readonly string[]).includes(text) ? (text as AlertLevel) : null;
}

/** GDACS string booleans: "true"/"false" (any case) or real booleans; anything else → null. */
export function gdacsBoolean(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  const text = textOf(value)?.toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  return null;
}

/**
 * The level a GDACS geometry layer states: `Poly_SMPInt_6.5` → 6.5 'mmi' (ShakeMap intensity ring);
 * a label such as "90 km/h" → 90 'km/h' (TC wind buffer). `Poly_Green`/`Poly_Orange`/`Poly_Red`
 * put their colour in the label ('orange'; 'orange 28/01 06:00' when the layer's own label is not
 * a speed). Other layers keep their `polygonlabel` as the label, with no value.
 */
export function footprintLevel(
  cls: string,
  polygonLabel: string | null,
): { label: string | null; value: number | null; unit: string | null } {
  let label = polygonLabel;
  let value: number | null = null;
  let unit: string | null = null;
  const mmi = /^Poly_SMPInt_(\d+(?:\.\d+)?)$/i.exec(cls);
  const speed = polygonLabel
    ? /^(\d+(?:\.\d+)?)\s*(km\/h|kph|kmh|kt|kts|knots|mph|m\/s)$/i.exec(polygonLabel.trim())
    : null;
  if (mmi) {
    value = Number(mmi[1]);
    unit = 'mmi';
  } else if (speed) {
    value = Number(speed[1]);
    const u = speed[2].toLowerCase();
    unit = u === 'kph' || u === 'kmh' ? 'km/h' : u === 'kts' || u === 'knots' ? 'kt' : u;
  }
  const colour = /^Poly_(Green|Yellow|Orange|Red)$/i.exec(cls);
  if (colour) {
    const name = colour[1].toLowerCase();
    label = polygonLabel && !speed ? `${name} ${polygonLabel}` : name;
  }
  return { label, value, unit };
}

// ------------------------------------------------------------------------------------------------
// Geometry validation
// ------------------------------------------------------------------------------------------------

const fmt = (p: unknown[]): string => `[${p.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x))).join(', ')}]`;

/** A GeoJSON position [lon, lat(, z)] with numbers (numeric strings converted) in range. */
function position(raw: unknown): Position {
  if (!Array.isArray(raw) || raw.length < 2) {
    throw new RecordError(`${JSON.stringify(raw)?.slice(0, 60) ?? 'undefined'} is not a position [lon, lat]`);
  }
  const nums = raw.map(numberOf);
  if (nums.some((n) => n === null)) throw new RecordError(`coordinate ${fmt(raw)} is not numeric`);
  const [lon, lat] = nums as number[];
  if (lat < -90 || lat > 90) {
    const swapped = Math.abs(lon) <= 90 && Math.abs(lat) <= 180;
    throw new RecordError(
      `coordinate ${fmt(raw)}: latitude ${lat} is outside -90..90` +
        (swapped ? ' (the pair looks swapped: [lat, lon] instead of [lon, lat])' : ''),
    );
  }
  if (lon < -180 || lon > 180) throw new RecordError(`coordinate ${fmt(raw)}: longitude ${lon} is outside -180..180`);
  return nums as number[];
}

function positions(raw: unknown, what: string, min: number): Position[] {
  if (!Array.isArray(raw)) throw new RecordError(`${what} is not an array of positions`);
  const list = raw.map(position);
  if (list.length < min) throw new RecordError(`${what} has ${list.length} positions (at least ${min} needed)`);
  return list;
}

/** GeoJSON rings must be closed (RFC 7946 §3.1.6): an unclosed ring is rejected, not closed. */
function ring(raw: unknown): Position[] {
  const list = positions(raw, 'a polygon ring', 4);
  const [first, last] = [list[0], list[list.length - 1]];
  if (first[0] !== last[0] || first[1] !== last[1]) {
    throw new RecordError(`a polygon ring is not closed (first ${fmt(first)} ≠ last ${fmt(last)})`);
  }
  return list;
}

function polygon(raw: unknown): Position[][] {
  if (!Array.isArray(raw) || raw.length === 0) throw new RecordError('a polygon has no rings');
  return raw.map(ring);
}

function nonEmpty<T>(raw: unknown, what: string, each: (x: unknown) => T): T[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new RecordError(`${what} has no coordinates`);
  return raw.map(each);
}

/** A clean copy of a GeoJSON geometry (only type and coordinates), or a RecordError saying why not. */
export function cleanGeometry(raw: unknown): Geometry {
  if (raw === null || raw === undefined) throw new RecordError('the feature has no geometry');
  if (!isObject(raw)) throw new RecordError('the geometry is not an object');
  const c = raw.coordinates;
  switch (raw.type) {
    case 'Point':
      return { type: 'Point', coordinates: position(c) };
    case 'MultiPoint':
      return { type: 'MultiPoint', coordinates: nonEmpty(c, 'MultiPoint', position) };
    case 'LineString':
      return { type: 'LineString', coordinates: positions(c, 'a LineString', 2) };
    case 'MultiLineString':
      return { type: 'MultiLineString', coordinates: nonEmpty(c, 'MultiLineString', (l) => positions(l, 'a line', 2)) };
    case 'Polygon':
      return { type: 'Polygon', coordinates: polygon(c) };
    case 'MultiPolygon':
      return { type: 'MultiPolygon', coordinates: nonEmpty(c, 'MultiPolygon', polygon) };
    case 'GeometryCollection':
      return { type: 'GeometryCollection', geometries: nonEmpty(raw.geometries, 'GeometryCollection', cleanGeometry) };
    default:
      throw new RecordError(`unsupported geometry type ${JSON.stringify(raw.type)}`);
  }
}

/**
 * A GeoJSON feature's `bbox` states where its geometry is. When the geometry lies outside that
 * box but its coordinates read as [lat, lon] fall inside it, the pair order is swapped: say so.
 * (Coordinates outside the box for any other reason are left alone: a box may be stale.)
 */
function swappedAgainstBbox(g: Geometry, bbox: unknown): string | null {
  if (!Array.isArray(bbox) || (bbox.length !== 4 && bbox.length !== 6)) return null;
  const b = bbox.map(numberOf);
  if (b.some((x) => x === null)) return null;
  const half = bbox.length / 2;
  const [w, s, e, n] = [b[0]!, b[1]!, b[half]!, b[half + 1]!];
  if (w > e || s > n) return null; // antimeridian box or junk: no verdict
  const extent = extentOf(g);
  if (!extent) return null;
  const [minX, minY, maxX, maxY] = extent;
  const tol = 0.01;
  const inside = (x0: number, y0: number, x1: number, y1: number) =>
    x0 >= w - tol && x1 <= e + tol && y0 >= s - tol && y1 <= n + tol;
  if (inside(minX, minY, maxX, maxY) || !inside(minY, minX, maxY, maxX)) return null;
  return `the coordinates look swapped: the geometry lies outside the feature's bbox ${fmt(bbox)}, but read as [lat, lon] it lies inside it`;
}

const MAX_BBOX_OVERSHOOT = 45; // degrees beyond ±90 latitude a GDACS box may reach before it is junk

/**
 * The GDACS RSS `gdacs:bbox` ("lonmin lonmax latmin latmax", a non-standard order) as a GeoJSON
 * Polygon. GDACS boxes are the centroid ± a margin and can overshoot the antimeridian (lonmin
 * -181.2) or a pole: the box is then split at ±180° into a MultiPolygon (RFC 7946 §3.1.9) and
 * clamped at ±90°.
 */
export function bboxGeometry(text: string): Geometry {
  const parts = text.trim().split(/[\s,]+/);
  const nums = parts.map(numberOf);
  if (parts.length !== 4 || nums.some((n) => n === null)) {
    throw new RecordError(`gdacs:bbox "${text}" is not four numbers (lonmin lonmax latmin latmax)`);
  }
  const [lonmin, lonmax, latmin, latmax] = nums as number[];
  if (lonmin > lonmax || latmin > latmax) {
    throw new RecordError(`gdacs:bbox "${text}" is not in the order lonmin lonmax latmin latmax (a minimum exceeds its maximum)`);
  }
  if (latmin >= 90 || latmax <= -90 || latmin < -90 - MAX_BBOX_OVERSHOOT || latmax > 90 + MAX_BBOX_OVERSHOOT) {
    throw new RecordError(`gdacs:bbox "${text}": latitudes ${latmin}..${latmax} are out of range`);
  }
  if (lonmax <= -180 || lonmin >= 180 || lonmin < -360 || lonmax > 360) {
    throw new RecordError(`gdacs:bbox "${text}": longitudes ${lonmin}..${lonmax} are out of range`);
  }
  const s = Math.max(latmin, -90);
  const n = Math.min(latmax, 90);
  const rect = (w: number, e: number): Position[][] => [[[w, s], [e, s], [e, n], [w, n], [w, s]]];
  if (lonmax - lonmin >= 360) return { type: 'Polygon', coordinates: rect(-180, 180) };
  if (lonmin < -180) return { type: 'MultiPolygon', coordinates: [rect(lonmin + 360, 180), rect(-180, lonmax)] };
  if (lonmax > 180) return { type: 'MultiPolygon', coordinates: [rect(lonmin, 180), rect(-180, lonmax - 360)] };
  return { type: 'Polygon', coordinates: rect(lonmin, lonmax) };
}

// ------------------------------------------------------------------------------------------------
// Identity and shared fields
// ------------------------------------------------------------------------------------------------

interface Identity {
  eventType: string;
  eventId: string;
  episodeId: string;
  rank: number;
}

/** One value for an identity field; an element repeated with different values is an error. */
function single(value: unknown, name: string): unknown {
  if (!Array.isArray(value)) return value;
  const distinct = new Set(value.map((v) => textOf(v)));
  if (distinct.size > 1) throw new RecordError(`${name} appears ${value.length} times with different values`);
  return value[0];
}

function integerId(value: unknown, name: string): string {
  const text = typeof value === 'number' ? (Number.isSafeInteger(value) ? String(value) : '') : textOf(value);
  // absent, empty, or an XML element with attributes but no text
  const empty = value === undefined || value === null || (text === null && (typeof value === 'string' ||
    (isObject(value) && Object.keys(value).every((k) => k === '#text' || k.startsWith('@_')))));
  if (empty) throw new RecordError(`missing ${name}`);
  if (text === null || !/^\d+$/.test(text)) throw new RecordError(`${name} ${JSON.stringify(value)} is not a whole number`);
  return text.replace(/^0+(?=\d)/, '');
}

function identityOf(eventtype: unknown, eventid: unknown, episodeid: unknown): Identity {
  const type = textOf(single(eventtype, 'eventtype'))?.toUpperCase() ?? null;
  if (!type) throw new RecordError('missing eventtype');
  if (!/^[A-Z]{2,4}$/.test(type)) throw new RecordError(`eventtype ${JSON.stringify(type)} is not a GDACS event type`);
  const eventId = integerId(single(eventid, 'eventid'), 'eventid');
  const episodeId = integerId(single(episodeid, 'episodeid'), 'episodeid');
  return { eventType: type, eventId, episodeId, rank: Number(episodeId) };
}

function severityMeasure(eventType: string, value: unknown, unit: unknown, text: unknown): SeverityMeasure | null {
  const v = numberOf(value);
  const t = textOf(text);
  if (v === null && t === null) return null;
  return { name: SEVERITY_NAMES[eventType] ?? 'severity', value: v, unit: textOf(unit), text: t };
}

/** ISO3 codes from "KEN", "KEN,SOM", "KEN SOM", or an empty element. */
function iso3List(...values: unknown[]): string[] {
  const codes = values
    .flatMap((v) => asArray(v))
    .flatMap((v) => (textOf(v) ?? '').split(/[\s,;]+/))
    .map((c) => c.toUpperCase())
    .filter((c) => /^[A-Z]{3}$/.test(c));
  return [...new Set(codes)];
}

const firstText = (value: unknown): string | null => asArray(value).map(textOf).find((t) => t !== null) ?? null;

function baseVersion(id: Identity): Omit<HazardEventVersion, 'eventAlertLevel' | 'episodeAlertLevel' | 'severity' | 'footprints' | 'validFrom' | 'validTo' | 'issuedAt' | 'title' | 'countries' | 'link' | 'properties'> {
  return {
    source: 'gdacs',
    externalId: `${id.eventType}${id.eventId}`,
    aliases: [],
    version: id.episodeId,
    versionRank: id.rank,
    hazard: GDACS_HAZARDS[id.eventType] ?? 'other',
    status: 'actual',
    supersedes: [],
    cancels: false,
    pcodes: [],
  };
}

// ------------------------------------------------------------------------------------------------
// RSS
// ------------------------------------------------------------------------------------------------

const GDACS_ITEM_FIELDS = ['eventtype', 'eventid', 'episodeid', 'alertlevel', 'episodealertlevel'];

function parseRss(bytes: Buffer): ParseResult {
  const doc = parseXmlPayload(bytes, ['item']);
  const root = Object.keys(doc).find((k) => !k.startsWith('?'));
  const rss = doc.rss;
  if (!isObject(rss)) throw new PayloadError(`XML is not a GDACS RSS feed (root element <${root ?? ''}>, expected <rss>)`);
  const channel = Array.isArray(rss.channel) ? rss.channel[0] : rss.channel;
  if (!isObject(channel)) throw new PayloadError('RSS feed without a <channel>');
  const items = asArray(channel.item);
  const result = emptyResult();
  if (items.length > 0 && !items.some((it) => isObject(it) && GDACS_ITEM_FIELDS.some((f) => f in it))) {
    throw new PayloadError('RSS feed is not a GDACS feed: no item carries gdacs:eventtype/eventid/episodeid/alertlevel');
  }
  items.forEach((item, i) => {
    const guid = isObject(item) ? firstText(item.guid) : null;
    const where = `item ${i + 1}${guid ? ` (guid ${guid})` : ''}`;
    try {
      if (!isObject(item)) throw new RecordError('the item is empty');
      result.events.push(rssItem(item, where, result.rejected));
    } catch (error) {
      result.rejected.push({ where, reason: recordProblem(error) });
    }
  });
  return result;
}

/** The item's point: geo:Point lat/long (or bare geo:lat/geo:long), else georss:point "lat lon". */
function rssPoint(item: Json): Geometry | null {
  const geo = isObject(item.Point) ? item.Point : item;
  const lat = firstText(geo.lat);
  const lon = firstText(geo.long);
  const georss = firstText(item.point);
  let fromGeoRss: [string, string] | null = null;
  if (georss) {
    const parts = georss.split(/[\s,]+/);
    if (parts.length !== 2) throw new RecordError(`georss:point "${georss}" is not "lat lon"`);
    fromGeoRss = [parts[0], parts[1]];
  }
  if (lat !== null || lon !== null) {
    if (lat === null || lon === null) throw new RecordError('geo:Point has only one of geo:lat and geo:long');
    const point = position([lon, lat]);
    if (fromGeoRss) {
      const other = position([fromGeoRss[1], fromGeoRss[0]]);
      if (Math.abs(other[0] - point[0]) > 1e-4 || Math.abs(other[1] - point[1]) > 1e-4) {
        throw new RecordError(`geo:lat/geo:long (${lat} ${lon}) and georss:point (${georss}) disagree`);
      }
    }
    return { type: 'Point', coordinates: point };
  }
  if (fromGeoRss) return { type: 'Point', coordinates: position([fromGeoRss[1], fromGeoRss[0]]) };
  return null;
}

function rssItem(item: Json, where: string, rejected: Rejection[]): HazardEventVersion {
  const id = identityOf(item.eventtype, item.eventid, item.episodeid);
  const severity: SeverityMeasure[] = [];
  const sev = asArray(item.severity)[0];
  const severityNode = isObject(sev) ? sev : {};
  const main = severityMeasure(id.eventType, severityNode['@_value'], severityNode['@_unit'], sev);
  if (main) severity.push(main);
  const pop = asArray(item.population)[0];
  const popNode = isObject(pop) ? pop : {};
  const popValue = numberOf(popNode['@_value']);
  const popText = textOf(pop);
  if (popValue !== null || popText !== null) {
    severity.push({ name: 'population', value: popValue, unit: textOf(popNode['@_unit']), text: popText });
  }

  const footprints: Footprint[] = [];
  try {
    const point = rssPoint(item);
    if (point) footprints.push({ class: 'Point_Centroid', geometry: point, label: 'Centroid', value: null, unit: null });
  } catch (error) {
    rejected.push({ where: `${where} point`, reason: recordProblem(error) });
  }
  const bbox = firstText(item.bbox);
  if (bbox !== null) {
    try {
      footprints.push({ class: 'bbox', geometry: bboxGeometry(bbox), label: null, value: null, unit: null });
    } catch (error) {
      rejected.push({ where: `${where} bbox`, reason: recordProblem(error) });
    }
  }

  const vulnerability = asArray(item.vulnerability)[0];
  return {
    ...baseVersion(id),
    eventAlertLevel: normaliseAlert(firstText(item.alertlevel)),
    episodeAlertLevel: normaliseAlert(firstText(item.episodealertlevel)),
    severity,
    footprints,
    validFrom: isoTime(firstText(item.fromdate)),
    validTo: isoTime(firstText(item.todate)),
    issuedAt: isoTime(firstText(item.datemodified)) ?? isoTime(firstText(item.pubDate)),
    title: firstText(item.title),
    countries: iso3List(item.iso3),
    link: firstText(item.link),
    properties: {
      payload: 'rss',
      guid: firstText(item.guid),
      eventname: firstText(item.eventname),
      iscurrent: gdacsBoolean(firstText(item.iscurrent)),
      temporary: gdacsBoolean(firstText(item.temporary)),
      glide: firstText(item.glide),
      alertscore: numberOf(firstText(item.alertscore)),
      episodealertscore: numberOf(firstText(item.episodealertscore)),
      calculationtype: firstText(item.calculationtype),
      version: numberOf(firstText(item.version)),
      country: firstText(item.country),
      dateadded: isoTime(firstText(item.dateadded)),
      vulnerability: numberOf(isObject(vulnerability) ? vulnerability['@_value'] : null),
      cap: firstText(item.cap),
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Events API and geometry documents (GeoJSON)
// ------------------------------------------------------------------------------------------------

interface Entry {
  index: number;
  where: string;
  feature: Json;
  props: Json;
  cls: string | null;
}

const looksGdacs = (props: unknown): boolean =>
  isObject(props) && ['eventtype', 'eventid', 'episodeid'].some((k) => props[k] !== undefined && props[k] !== null);

function parseGeoJson(bytes: Buffer): ParseResult {
  const doc = parseJsonPayload(bytes);
  if (isObject(doc) && doc.type === 'Feature') {
    if (!looksGdacs(doc.properties)) {
      throw new PayloadError('JSON Feature without GDACS event properties (eventtype, eventid, episodeid)');
    }
    return parseFeatures([doc], 'event', () => 'document');
  }
  if (isObject(doc) && doc.type === 'FeatureCollection' && Array.isArray(doc.features)) {
    const features: unknown[] = doc.features;
    if (features.length > 0 && !features.some((f) => isObject(f) && looksGdacs(f.properties))) {
      throw new PayloadError('GeoJSON FeatureCollection without GDACS event properties (eventtype, eventid, episodeid)');
    }
    return parseFeatures(features, null, (i, cls) => `feature ${i}${cls ? ` (${cls})` : ''}`);
  }
  throw new PayloadError('JSON is not a GDACS document (expected a GeoJSON Feature or FeatureCollection of GDACS events)');
}

type PayloadKind = 'event' | 'eventlist' | 'geometry';

function parseFeatures(features: unknown[], fixedKind: PayloadKind | null, whereOf: (i: number, cls: string | null) => string): ParseResult {
  const result = emptyResult();
  const groups = new Map<string, { id: Identity; entries: Entry[] }>();
  features.forEach((feature, index) => {
    const props = isObject(feature) ? feature.properties : undefined;
    const cls = isObject(props) ? textOf(props.Class) : null;
    const where = whereOf(index, cls);
    try {
      if (!isObject(feature) || !isObject(props)) throw new RecordError('not a GeoJSON Feature with properties');
      const id = identityOf(props.eventtype, props.eventid, props.episodeid);
      const key = `${id.eventType}${id.eventId}/${id.episodeId}`;
      const group = groups.get(key) ?? { id, entries: [] };
      group.entries.push({ index, where, feature, props, cls });
      groups.set(key, group);
    } catch (error) {
      result.rejected.push({ where, reason: recordProblem(error) });
    }
  });
  const kind: PayloadKind =
    fixedKind ??
    ([...groups.values()].some(
      (g) =>
        g.entries.length > 1 ||
        g.entries.some((e) => e.props.polygondate !== undefined || (isObject(e.feature.geometry) && e.feature.geometry.type !== 'Point')),
    )
      ? 'geometry'
      : 'eventlist');
  for (const { id, entries } of groups.values()) {
    result.events.push(apiVersion(id, entries, kind, result.rejected));
  }
  return result;
}

function apiVersion(id: Identity, entries: Entry[], kind: PayloadKind, rejected: Rejection[]): HazardEventVersion {
  // The centroid feature speaks for the event; other layers fill in what it lacks.
  const ordered = [...entries].sort((a, b) => Number(b.cls === 'Point_Centroid') - Number(a.cls === 'Point_Centroid'));
  const pick = (key: string): unknown => {
    for (const e of ordered) {
      const v = e.props[key];
      if (v !== undefined && v !== null && v !== '') return v;
    }
    return null;
  };

  const footprints: Footprint[] = [];
  let polygonDate: string | null = null;
  for (const e of entries) {
    try {
      const geometry = cleanGeometry(e.feature.geometry);
      const swapped = swappedAgainstBbox(geometry, e.feature.bbox);
      if (swapped) throw new RecordError(swapped);
      const cls = e.cls ?? (geometry.type === 'Point' ? 'Point_Centroid' : 'unclassified');
      footprints.push({ class: cls, geometry, ...footprintLevel(cls, textOf(e.props.polygonlabel)) });
      const date = isoTime(e.props.polygondate);
      if (date && (!polygonDate || date > polygonDate)) polygonDate = date;
    } catch (error) {
      rejected.push({ where: e.where, reason: recordProblem(error) });
    }
  }

  const sev = pick('severitydata');
  const severity: SeverityMeasure[] = [];
  if (isObject(sev)) {
    const m = severityMeasure(id.eventType, sev.severity, sev.severityunit, sev.severitytext);
    if (m) severity.push(m);
  }
  const url = pick('url');
  const urls = isObject(url) ? url : {};
  const affected = pick('affectedcountries');
  const countries = iso3List(Array.isArray(affected) ? affected.map((c) => (isObject(c) ? c.iso3 : null)) : null);
  const sendai = pick('sendai');

  return {
    ...baseVersion(id),
    eventAlertLevel: normaliseAlert(pick('alertlevel')),
    episodeAlertLevel: normaliseAlert(pick('episodealertlevel')),
    severity,
    footprints,
    validFrom: isoTime(pick('fromdate')),
    validTo: isoTime(pick('todate')),
    issuedAt: isoTime(pick('datemodified')),
    title: textOf(pick('name')) ?? textOf(pick('description')) ?? textOf(pick('eventname')),
    countries: countries.length > 0 ? countries : iso3List(pick('iso3')),
    link: textOf(urls.report),
    properties: {
      payload: kind,
      eventname: textOf(pick('eventname')),
      iscurrent: gdacsBoolean(pick('iscurrent')),
      temporary: gdacsBoolean(pick('istemporary') ?? pick('temporary')),
      glide: textOf(pick('glide')),
      alertscore: numberOf(pick('alertscore')),
      episodealertscore: numberOf(pick('episodealertscore')),
      calculationtype: textOf(pick('calculationtype')),
      version: numberOf(pick('version')),
      country: textOf(pick('country')),
      source: textOf(pick('source')),
      sourceid: textOf(pick('sourceid')),
      geometryUrl: textOf(urls.geometry),
      ...(polygonDate ? { polygondate: polygonDate } : {}),
      ...(Array.isArray(sendai) && sendai.length > 0 ? { sendai: sendai.filter(isObject).map(sendaiRecord) } : {}),
    },
  };
}

/** A Sendai impact record (FL/TC event documents): counts of deaths, displaced, rescued… */
function sendaiRecord(r: Json): Record<string, unknown> {
  return {
    type: textOf(r.sendaitype),
    name: textOf(r.sendainame),
    value: numberOf(r.sendaivalue),
    country: textOf(r.country),
    region: textOf(r.region),
    latest: gdacsBoolean(r.latest),
    onset: isoTime(r.onset_date),
    expires: isoTime(r.expires_date),
    description: textOf(r.description),
  };
}

// ------------------------------------------------------------------------------------------------

export const gdacsAdapter: Adapter = {
  source: 'gdacs',
  parse(bytes) {
    const text = payloadText(bytes);
    if (!text) throw new PayloadError('the payload is empty');
    if (text.startsWith('<')) return parseRss(bytes);
    if (text.startsWith('{') || text.startsWith('[')) return parseGeoJson(bytes);
    throw new PayloadError(`not a GDACS payload: neither XML nor JSON (starts with ${JSON.stringify(text.slice(0, 20))})`);
  },
};
