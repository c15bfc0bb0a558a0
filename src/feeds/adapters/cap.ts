import { circle as turfCircle } from '@turf/turf';
import type { Geometry, Position } from 'geojson';
import { asArray, isoTime, numberOf, parseXmlPayload, textOf } from '../decode.ts';
import {
  ALERT_LEVELS, PayloadError, emptyResult,
  type Adapter, type AdapterContext, type AlertLevel, type Footprint, type HazardEventVersion, type HazardType,
  type ParseResult, type Rejection, type SeverityMeasure,
} from '../model.ts';

/**
 * CAP 1.2 (OASIS, `urn:oasis:names:tc:emergency:cap:1.2`): a single `alert` (un-prefixed or
 * `cap:`-prefixed; prefixes are removed by parseXmlPayload), or an Atom / RSS index that lists
 * alerts (Meteoalarm legacy Atom with `cap:` fields per entry; plain RSS whose items only link to
 * the CAP XML).
 *
 * - Identity: `sender,identifier`; version `sent` (rank = sent in ms). The CAP key is
 *   (sender, identifier, sent) and `references` are `sender,identifier,sent` triplets, so
 *   `supersedes` lists the `sender,identifier` of each triplet (Update and Cancel only).
 * - Alert level: Meteoalarm `awareness_level` parameter ("2; yellow; Moderate"), else severity
 *   Minor→green, Moderate→yellow, Severe→orange, Extreme→red, Unknown→null.
 * - Areas of the main info (the first English one, else the first): `polygon` ("lat,lon" pairs,
 *   converted to [lon, lat]), `circle` ("lat,lon radius_km", approximated by a 32-step polygon),
 *   `geocode` → `context.pcodeFor(valueName, value)`. An Alert/Update with none of them usable is
 *   a Rejection; a Cancel needs no area. Ack and Error are kept with status 'system'.
 */

/** Elements that may repeat; parseXmlPayload gives them as arrays whatever their count. */
const REPEATED = [
  'info', 'area', 'polygon', 'circle', 'geocode', 'parameter', 'eventCode', 'responseType', 'category',
  'code', 'resource', 'entry', 'item', 'link', 'enclosure',
];

type XmlNode = Record<string, unknown>;

interface NameValue {
  valueName: string;
  value: string;
}

interface CapArea {
  areaDesc: string | null;
  polygons: string[];
  circles: string[];
  geocodes: NameValue[];
}

interface CapInfo {
  language: string | null;
  categories: string[];
  event: string | null;
  responseTypes: string[];
  urgency: string | null;
  severity: string | null;
  certainty: string | null;
  eventCodes: NameValue[];
  effective: string | null;
  onset: string | null;
  expires: string | null;
  senderName: string | null;
  headline: string | null;
  description: string | null;
  instruction: string | null;
  web: string | null;
  parameters: NameValue[];
  areas: CapArea[];
}

interface CapMessage {
  identifier: string | null;
  sender: string | null;
  sent: string | null;
  status: string | null;
  msgType: string | null;
  source: string | null;
  scope: string | null;
  codes: string[];
  note: string | null;
  references: string | null;
  incidents: string | null;
  infos: CapInfo[];
}

/** Where the message came from when it was read off an index entry, not a full alert. */
interface IndexOrigin {
  kind: 'atom' | 'rss';
  capUrl: string | null;
  entryId: string | null;
}

const STATUSES = {
  actual: 'actual', exercise: 'exercise', test: 'test', draft: 'draft', system: 'system',
} as const satisfies Record<string, HazardEventVersion['status']>;

const MSG_TYPES = ['Alert', 'Update', 'Cancel', 'Ack', 'Error'] as const;
type MsgType = (typeof MSG_TYPES)[number];

const SEVERITY_LEVELS: Record<string, AlertLevel | null> = {
  minor: 'green', moderate: 'yellow', severe: 'orange', extreme: 'red', unknown: null,
};

/** Fields that make an index entry a CAP summary rather than a bare link. */
const CAP_ENTRY_FIELDS = [
  'identifier', 'event', 'areaDesc', 'severity', 'urgency', 'certainty', 'message_type', 'msgType', 'sent',
  'effective', 'onset', 'expires', 'geocode', 'polygon', 'circle',
];

const CAP_MIME = /cap\+xml|application\/cap/i;
const LISTED_UNMAPPED = 10;

export const capAdapter: Adapter = {
  source: 'cap',
  parse(bytes: Buffer, context: AdapterContext): ParseResult {
    const doc = parseXmlPayload(bytes, REPEATED);
    if ('alert' in doc) return parseAlert(doc.alert, context);
    if ('feed' in doc) return parseIndex(doc.feed, 'atom', context);
    if ('rss' in doc) return parseIndex(objectOf(doc.rss)?.channel, 'rss', context);
    if ('RDF' in doc) return parseIndex(doc.RDF, 'rss', context);
    throw new PayloadError(`not a CAP alert or a CAP index: the root element is ${rootName(doc)}, expected alert, feed or rss`);
  },
};

/**
 * The CAP URLs an index (Atom or RSS) lists, in feed order without repeats, for the fetch side to
 * follow; an empty list for a single alert. Throws a PayloadError like `parse`.
 */
export function capLinksOf(bytes: Buffer): string[] {
  const doc = parseXmlPayload(bytes, REPEATED);
  if ('alert' in doc) return [];
  let container: unknown;
  let kind: 'atom' | 'rss';
  if ('feed' in doc) [container, kind] = [doc.feed, 'atom'];
  else if ('rss' in doc) [container, kind] = [objectOf(doc.rss)?.channel, 'rss'];
  else if ('RDF' in doc) [container, kind] = [doc.RDF, 'rss'];
  else throw new PayloadError(`not a CAP index: the root element is ${rootName(doc)}, expected feed or rss`);
  const node = objectOf(container) ?? {};
  const base = baseUrlOf(node, kind);
  const urls: string[] = [];
  for (const entry of asArray(kind === 'atom' ? node.entry : node.item)) {
    const url = capLinkOf(objectOf(entry) ?? {}, kind, base);
    if (url && !urls.includes(url)) urls.push(url);
  }
  return urls;
}

// ---------------------------------------------------------------------------------------------
// A full alert

function parseAlert(node: unknown, context: AdapterContext): ParseResult {
  const alert = objectOf(node);
  if (!alert) throw new PayloadError('the CAP alert element is empty');
  const message = readMessage(alert);
  const result = emptyResult();
  const where = `alert ${message.identifier ?? '(no identifier)'}`;
  const built = buildEvent(message, where, context, null);
  if ('event' in built) result.events.push(built.event);
  else result.rejected.push(built.rejection);
  return result;
}

function readMessage(alert: XmlNode): CapMessage {
  return {
    identifier: text(alert.identifier),
    sender: text(alert.sender),
    sent: text(alert.sent),
    status: text(alert.status),
    msgType: text(alert.msgType),
    source: text(alert.source),
    scope: text(alert.scope),
    codes: texts(alert.code),
    note: text(alert.note),
    references: text(alert.references),
    incidents: text(alert.incidents),
    infos: asArray(alert.info).map((i) => readInfo(objectOf(i) ?? {})),
  };
}

function readInfo(info: XmlNode): CapInfo {
  return {
    language: text(info.language),
    categories: texts(info.category),
    event: text(info.event),
    responseTypes: texts(info.responseType),
    urgency: text(info.urgency),
    severity: text(info.severity),
    certainty: text(info.certainty),
    eventCodes: nameValues(info.eventCode),
    effective: text(info.effective),
    onset: text(info.onset),
    expires: text(info.expires),
    senderName: text(info.senderName),
    headline: text(info.headline),
    description: longText(info.description),
    instruction: longText(info.instruction),
    web: text(info.web),
    parameters: nameValues(info.parameter),
    areas: asArray(info.area).map((a) => readArea(objectOf(a) ?? {})),
  };
}

function readArea(area: XmlNode): CapArea {
  return {
    areaDesc: text(area.areaDesc),
    polygons: asArray(area.polygon).map((p) => textOf(p)).filter((p): p is string => p !== null),
    circles: asArray(area.circle).map((c) => textOf(c)).filter((c): c is string => c !== null),
    geocodes: nameValues(area.geocode),
  };
}

/** `valueName`/`value` pairs; one element may hold several pairs in sequence (old NWS Atom). */
function nameValues(nodes: unknown): NameValue[] {
  const pairs: NameValue[] = [];
  for (const node of asArray(nodes)) {
    const n = objectOf(node);
    if (!n) continue;
    const names = asArray(n.valueName).map((v) => textOf(v));
    const values = asArray(n.value).map((v) => textOf(v));
    for (let i = 0; i < Math.max(names.length, values.length); i++) {
      const valueName = names[i] ?? null;
      const value = values[i] ?? null;
      if (valueName !== null && value !== null) pairs.push({ valueName, value });
    }
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// Atom / RSS index

function parseIndex(container: unknown, kind: 'atom' | 'rss', context: AdapterContext): ParseResult {
  const result = emptyResult();
  const node = objectOf(container) ?? {};
  const base = baseUrlOf(node, kind);
  const feedAuthor = text(objectOf(asArray(node.author)[0])?.name) ?? text(node.managingEditor);
  const noun = kind === 'atom' ? 'entry' : 'item';

  // Meteoalarm lists one entry per (info, area, geocode) of an alert: entries of the same
  // (sender, identifier, sent) are one alert, their areas merged.
  const groups = new Map<string, { where: string; message: CapMessage; origin: IndexOrigin }>();
  for (const [index, raw] of asArray(kind === 'atom' ? node.entry : node.item).entries()) {
    const entry = objectOf(raw) ?? {};
    const entryId = text(entry.id) ?? text(entry.guid);
    const where = `${noun} ${index + 1}${entryId ? ` (id ${entryId})` : ''}`;
    const capUrl = capLinkOf(entry, kind, base);
    const hasCapFields = CAP_ENTRY_FIELDS.some((f) => entry[f] !== undefined);
    if (!hasCapFields) {
      result.rejected.push(capUrl
        ? { where, reason: `index entry only links to ${capUrl}; fetch the full CAP alert` }
        : { where, reason: 'index entry has neither cap: fields nor a link to a CAP alert' });
      continue;
    }
    const identifier = text(entry.identifier);
    if (!identifier) {
      result.rejected.push({
        where,
        reason: `index entry has cap: fields but no cap:identifier${capUrl ? `; fetch the full CAP alert at ${capUrl}` : ''}`,
      });
      continue;
    }
    const sender = text(entry.sender) ?? feedAuthor ?? text(objectOf(asArray(entry.author)[0])?.name) ?? hostOf(capUrl);
    const message = entryMessage(entry, identifier, sender);
    const key = `${sender}\u0000${identifier}\u0000${message.sent}`;
    const group = groups.get(key);
    if (group) {
      group.message.infos[0].areas.push(...message.infos[0].areas);
      continue;
    }
    groups.set(key, {
      where: `${noun} ${index + 1} (identifier ${identifier})`,
      message,
      origin: { kind, capUrl, entryId },
    });
  }
  for (const { where, message, origin } of groups.values()) {
    const built = buildEvent(message, where, context, origin);
    if ('event' in built) result.events.push(built.event);
    else result.rejected.push(built.rejection);
  }
  return result;
}

/** An index entry's cap: fields as a one-info CAP message. */
function entryMessage(entry: XmlNode, identifier: string, sender: string | null): CapMessage {
  const info: CapInfo = {
    language: text(entry.language),
    // Atom `category` is `<category term=".."/>` (no text); only cap:category carries text.
    categories: texts(entry.category),
    event: text(entry.event),
    responseTypes: texts(entry.responseType),
    urgency: text(entry.urgency),
    severity: text(entry.severity),
    certainty: text(entry.certainty),
    eventCodes: nameValues(entry.eventCode),
    effective: text(entry.effective),
    onset: text(entry.onset),
    expires: text(entry.expires),
    senderName: text(entry.senderName),
    headline: text(entry.headline) ?? text(entry.title),
    description: null,
    instruction: null,
    web: null,
    parameters: nameValues(entry.parameter),
    areas: [{
      areaDesc: text(entry.areaDesc),
      polygons: asArray(entry.polygon).map((p) => textOf(p)).filter((p): p is string => p !== null),
      circles: asArray(entry.circle).map((c) => textOf(c)).filter((c): c is string => c !== null),
      geocodes: nameValues(entry.geocode),
    }],
  };
  return {
    identifier,
    sender,
    sent: text(entry.sent),
    status: text(entry.status),
    msgType: text(entry.message_type) ?? text(entry.msgType),
    source: null,
    scope: text(entry.scope),
    codes: [],
    note: null,
    references: text(entry.references),
    incidents: text(entry.incidents),
    infos: [info],
  };
}

/** An entry's link to its full CAP alert: a link typed as CAP, else one ending in .xml / .cap. */
function capLinkOf(entry: XmlNode, kind: 'atom' | 'rss', base: string | null): string | null {
  const links = asArray(entry.link).map((l) => {
    if (typeof l === 'string') return { href: l.trim(), type: null as string | null, rel: null as string | null };
    const o = objectOf(l) ?? {};
    return { href: (text(o['@_href']) ?? text(o))?.trim() ?? '', type: text(o['@_type']), rel: text(o['@_rel']) };
  }).filter((l) => l.href !== '');
  const enclosures = asArray(entry.enclosure).map((e) => objectOf(e) ?? {})
    .map((e) => ({ href: text(e['@_url']) ?? '', type: text(e['@_type']), rel: null }))
    .filter((e) => e.href !== '');
  const candidates = [...enclosures, ...links];
  const looksXml = (href: string) => /\.(xml|cap)([?#]|$)/i.test(href);
  let chosen = candidates.find((l) => l.type !== null && CAP_MIME.test(l.type))
    ?? candidates.find((l) => looksXml(l.href) && l.rel !== 'self' && l.rel !== 'related');
  // A plain RSS index: the item's own <link> is the alert.
  if (!chosen && kind === 'rss') chosen = links.find((l) => l.type === null && l.rel === null);
  return chosen ? resolveUrl(chosen.href, base) : null;
}

function baseUrlOf(container: XmlNode, kind: 'atom' | 'rss'): string | null {
  const links = asArray(container.link);
  if (kind === 'atom') {
    const self = links.map((l) => objectOf(l) ?? {}).find((l) => text(l['@_rel']) === 'self');
    return self ? text(self['@_href']) : null;
  }
  const plain = links.find((l) => typeof l === 'string');
  return typeof plain === 'string' ? plain.trim() : null;
}

function resolveUrl(href: string, base: string | null): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || !base) return href;
  try {
    return new URL(href, base).toString();
  } catch {
    return href;
  }
}

function hostOf(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Message → HazardEventVersion

type Built = { event: HazardEventVersion } | { rejection: Rejection };

function buildEvent(message: CapMessage, where: string, context: AdapterContext, origin: IndexOrigin | null): Built {
  const reject = (reason: string): Built => ({ rejection: { where, reason } });
  const { identifier, sender } = message;
  if (!identifier) return reject('the alert has no identifier');
  if (!sender) return reject('the alert has no sender');
  const sent = isoTime(message.sent);
  if (!sent) return reject(message.sent ? `sent "${message.sent}" is not a date-time` : 'the alert has no sent time');

  const statusKey = (message.status ?? '').toLowerCase() as keyof typeof STATUSES;
  if (!(statusKey in STATUSES)) {
    return reject(message.status
      ? `status "${message.status}" is not a CAP status (Actual, Exercise, System, Test, Draft)`
      : 'the alert has no status');
  }
  // msgType is required by CAP; an index entry without one is read as an Alert.
  const msgType = message.msgType === null
    ? 'Alert'
    : MSG_TYPES.find((t) => t.toLowerCase() === message.msgType!.toLowerCase());
  if (!msgType) return reject(`msgType "${message.msgType}" is not a CAP message type (Alert, Update, Cancel, Ack, Error)`);
  const closesReferences = msgType === 'Update' || msgType === 'Cancel';
  const needsArea = msgType === 'Alert' || msgType === 'Update';
  const neverTriggers = msgType === 'Ack' || msgType === 'Error';

  const references = parseReferences(message.references);
  const main = message.infos.find((i) => (i.language ?? 'en-US').toLowerCase().startsWith('en')) ?? message.infos[0] ?? null;

  // Areas of the main info.
  const footprints: Footprint[] = [];
  const pcodes: string[] = [];
  const geocodes: (NameValue & { areaDesc: string | null })[] = [];
  const unmapped: (NameValue & { areaDesc: string | null })[] = [];
  const areaProblems: string[] = [];
  for (const area of main?.areas ?? []) {
    const label = area.areaDesc;
    for (const polygon of area.polygons) {
      const read = polygonGeometry(polygon);
      if ('problem' in read) areaProblems.push(`area "${label ?? '(no areaDesc)'}": polygon ${read.problem}`);
      else footprints.push({ class: 'polygon', geometry: read.geometry, label, value: null, unit: null });
    }
    for (const c of area.circles) {
      const read = circleGeometry(c);
      if ('problem' in read) areaProblems.push(`area "${label ?? '(no areaDesc)'}": circle ${read.problem}`);
      else footprints.push({ class: 'circle', geometry: read.geometry, label, value: read.radiusKm, unit: 'km' });
    }
    for (const g of area.geocodes) {
      geocodes.push({ ...g, areaDesc: label });
      const pcode = context.pcodeFor(g.valueName, g.value);
      if (pcode) {
        if (!pcodes.includes(pcode)) pcodes.push(pcode);
      } else if (!unmapped.some((u) => u.valueName === g.valueName && u.value === g.value)) {
        unmapped.push({ ...g, areaDesc: label });
      }
    }
  }
  // A bad geometry rejects the alert (a partial footprint would under-cover the area), except a
  // Cancel/Ack/Error, whose areas are informative only: those keep their good shapes and say why.
  if (areaProblems.length > 0 && !(msgType === 'Cancel' || neverTriggers)) return reject(areaProblems.join('; '));
  if (needsArea && footprints.length === 0 && pcodes.length === 0) {
    if (unmapped.length > 0) {
      const listed = unmapped.slice(0, LISTED_UNMAPPED).map((u) => `${u.valueName} ${u.value}`).join(', ');
      const more = unmapped.length > LISTED_UNMAPPED ? ` and ${unmapped.length - LISTED_UNMAPPED} more` : '';
      return reject(`no usable area (geocodes without a P-code mapping: ${listed}${more})`);
    }
    return reject(main ? 'no usable area (no polygon, circle or geocode)' : 'no usable area (the alert has no info block)');
  }

  const level = main ? alertLevelOf(main) : null;
  const severity: SeverityMeasure[] = [];
  if (main?.severity) severity.push({ name: 'cap_severity', value: null, unit: null, text: main.severity });
  if (main?.urgency) severity.push({ name: 'cap_urgency', value: null, unit: null, text: main.urgency });
  if (main?.certainty) severity.push({ name: 'cap_certainty', value: null, unit: null, text: main.certainty });

  const effective = isoTime(main?.effective);
  const expires = isoTime(main?.expires);
  const web = main?.web && /^https?:\/\//i.test(main.web) ? main.web : null;

  const properties: Record<string, unknown> = {
    sender,
    identifier,
    sent: message.sent,
    msgType,
    status: message.status,
    scope: message.scope,
    source: message.source,
    codes: message.codes,
    note: message.note,
    references: references.triplets,
    incidents: message.incidents ? message.incidents.split(/\s+/) : [],
    language: main?.language ?? null,
    category: main?.categories ?? [],
    event: main?.event ?? null,
    urgency: main?.urgency ?? null,
    severity: main?.severity ?? null,
    certainty: main?.certainty ?? null,
    responseType: main?.responseTypes ?? [],
    eventCode: main?.eventCodes ?? [],
    parameters: main?.parameters ?? [],
    onset: isoTime(main?.onset),
    effective,
    expires,
    senderName: main?.senderName ?? null,
    headline: main?.headline ?? null,
    description: main?.description ?? null,
    instruction: main?.instruction ?? null,
    web: main?.web ?? null,
    infos: message.infos.map((i) => ({ language: i.language, event: i.event, headline: i.headline })),
    geocodes,
    unmappedGeocodes: unmapped,
  };
  if (references.malformed.length > 0) properties.malformedReferences = references.malformed;
  if (areaProblems.length > 0) properties.areaProblems = areaProblems;
  if (origin) {
    properties.capUrl = origin.capUrl;
    properties.index = origin.kind;
    properties.indexEntryId = origin.entryId;
  }

  return {
    event: {
      source: 'cap',
      externalId: `${sender},${identifier}`,
      aliases: [],
      version: sent,
      versionRank: Date.parse(sent),
      hazard: main ? hazardOf(main) : 'other',
      eventAlertLevel: level,
      episodeAlertLevel: null,
      severity,
      footprints,
      validFrom: effective ?? sent,
      validTo: expires,
      issuedAt: sent,
      title: main?.headline ?? main?.event ?? null,
      countries: [],
      link: origin ? origin.capUrl : web,
      status: neverTriggers ? 'system' : STATUSES[statusKey],
      supersedes: closesReferences ? references.ids : [],
      cancels: msgType === 'Cancel',
      pcodes,
      properties,
    },
  };
}

/** `sender,identifier,sent` triplets → the `sender,identifier` ids they name (deduplicated). */
export function parseReferences(value: string | null): { ids: string[]; triplets: string[]; malformed: string[] } {
  const ids: string[] = [];
  const triplets: string[] = [];
  const malformed: string[] = [];
  for (const triplet of (value ?? '').split(/\s+/).filter(Boolean)) {
    triplets.push(triplet);
    const parts = triplet.split(',');
    if (parts.length < 2 || !parts[0] || !parts[1]) {
      malformed.push(triplet);
      continue;
    }
    const id = `${parts[0]},${parts[1]}`;
    if (!ids.includes(id)) ids.push(id);
  }
  return { ids, triplets, malformed };
}

function alertLevelOf(info: CapInfo): AlertLevel | null {
  const awareness = info.parameters.find((p) => p.valueName.toLowerCase() === 'awareness_level');
  if (awareness) {
    const words = awareness.value.toLowerCase().split(/[;,\s]+/);
    const level = ALERT_LEVELS.find((l) => words.includes(l));
    if (level) return level;
  }
  return SEVERITY_LEVELS[(info.severity ?? '').toLowerCase()] ?? null;
}

const HAZARD_RULES: [RegExp, HazardType][] = [
  [/tsunami/, 'tsunami'],
  [/earthquake|seismic/, 'earthquake'],
  [/cyclone|hurricane|typhoon|tropical storm|tropical depression/, 'tropical_cyclone'],
  [/volcan|eruption|ash ?fall/, 'volcano'],
  [/fire/, 'wildfire'],
  [/drought/, 'drought'],
  [/\bheat|\bcold\b|temperature|\bfrost|\bfreez/, 'extreme_temperature'],
  [/flood|\brain|storm surge|coastal event/, 'flood'],
  [/\bwind|storm|\bgale|tornado|squall/, 'storm'],
];

/**
 * The hazard from the info's words: the event first, then Meteoalarm `awareness_type`, the event
 * codes and the headline; a Fire category with no telling words is a wildfire.
 */
export function hazardOf(info: Pick<CapInfo, 'event' | 'categories' | 'parameters' | 'eventCodes' | 'headline'>): HazardType {
  const texts = [
    info.event,
    ...info.parameters.filter((p) => p.valueName.toLowerCase() === 'awareness_type').map((p) => p.value),
    ...info.eventCodes.map((c) => c.value),
    info.headline,
  ];
  for (const t of texts) {
    if (!t) continue;
    const lower = t.toLowerCase();
    const rule = HAZARD_RULES.find(([re]) => re.test(lower));
    if (rule) return rule[1];
  }
  if (info.categories.some((c) => c.toLowerCase() === 'fire')) return 'wildfire';
  return 'other';
}

// ---------------------------------------------------------------------------------------------
// Geometry: CAP writes "lat,lon"; GeoJSON wants [lon, lat].

type GeometryRead = { geometry: Geometry } | { problem: string };

/** "lat,lon lat,lon ..." (a closed ring of ≥ 4 points, possibly over several lines) → a Polygon. */
export function polygonGeometry(value: string): GeometryRead {
  const tokens = value.trim().replace(/\s*,\s*/g, ',').split(/\s+/).filter(Boolean);
  const ring: Position[] = [];
  for (const [i, token] of tokens.entries()) {
    const point = latLon(token, i + 1);
    if ('problem' in point) return point;
    ring.push(point.position);
  }
  if (ring.length < 4) return { problem: `has ${ring.length} points; a CAP polygon needs at least 4 (a closed ring)` };
  const [first, last] = [ring[0], ring[ring.length - 1]];
  if (first[0] !== last[0] || first[1] !== last[1]) {
    return { problem: `is not closed: the first point ${tokens[0]} differs from the last ${tokens[tokens.length - 1]}` };
  }
  return { geometry: { type: 'Polygon', coordinates: [ring] } };
}

/** "lat,lon radius_km" → a 32-step polygon around the centre (a Point for radius 0). */
export function circleGeometry(value: string): { geometry: Geometry; radiusKm: number } | { problem: string } {
  const parts = value.trim().replace(/\s*,\s*/g, ',').split(/\s+/);
  if (parts.length !== 2) return { problem: `"${value.trim()}" is not "lat,lon radius"` };
  const centre = latLon(parts[0], 1);
  if ('problem' in centre) return centre;
  const radiusKm = numberOf(parts[1]);
  if (radiusKm === null || radiusKm < 0) return { problem: `radius "${parts[1]}" is not a distance in km` };
  if (radiusKm === 0) return { geometry: { type: 'Point', coordinates: centre.position }, radiusKm };
  const polygon = turfCircle(centre.position, radiusKm, { steps: 32, units: 'kilometers' }).geometry;
  const outside = polygon.coordinates[0].some(([lon, lat]) => lon < -180 || lon > 180 || lat < -90 || lat > 90);
  if (outside) return { problem: `"${value.trim()}" crosses the antimeridian or a pole, which is not supported` };
  return { geometry: polygon, radiusKm };
}

function latLon(token: string, n: number): { position: Position } | { problem: string } {
  const parts = token.split(',');
  const lat = parts.length === 2 ? numberOf(parts[0]) : null;
  const lon = parts.length === 2 ? numberOf(parts[1]) : null;
  if (lat === null || lon === null) return { problem: `point ${n} "${token}" is not a "lat,lon" pair` };
  if (lat < -90 || lat > 90 || lon < -180 || lon > 180) {
    return { problem: `point ${n} "${token}" is out of range (latitude −90..90, longitude −180..180; lon,lat written in the wrong order?)` };
  }
  return { position: [lon, lat] };
}

// ---------------------------------------------------------------------------------------------

function objectOf(value: unknown): XmlNode | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as XmlNode) : null;
}

/** Text with runs of white space collapsed (CAP producers wrap long values over lines). */
function text(value: unknown): string | null {
  const t = textOf(Array.isArray(value) ? value[0] : value);
  return t === null ? null : t.replace(/\s+/g, ' ').trim() || null;
}

/** Text as written, only trimmed (descriptions keep their paragraphs). */
function longText(value: unknown): string | null {
  return textOf(Array.isArray(value) ? value[0] : value);
}

function texts(value: unknown): string[] {
  return asArray(value).map((v) => text(v)).filter((v): v is string => v !== null);
}

function rootName(doc: XmlNode): string {
  return Object.keys(doc).find((k) => !k.startsWith('?')) ?? '(none)';
}
