import type { Geometry } from 'geojson';

/**
 * The two shapes every feed adapter produces (ARCHITECTURE.md "Adapters normalise"): hazard event
 * versions and indicator values. Adapters are pure: bytes in, these out, plus the records they
 * could not read. Storage, dedupe and quarantine happen in ingest.ts.
 */

export const SOURCES = ['gdacs', 'usgs', 'cap', 'ipc', 'indicators', 'declaration'] as const;
export type SourceName = (typeof SOURCES)[number];

export const HAZARD_TYPES = [
  'earthquake', 'tropical_cyclone', 'flood', 'drought', 'volcano', 'wildfire', 'tsunami',
  'storm', 'extreme_temperature', 'food_insecurity', 'other',
] as const;
export type HazardType = (typeof HAZARD_TYPES)[number];

/**
 * One ordered alert scale for every source: GDACS Green/Orange/Red, USGS PAGER
 * green/yellow/orange/red, Meteoalarm awareness yellow/orange/red, and CAP severity mapped
 * Minor→green, Moderate→yellow, Severe→orange, Extreme→red.
 */
export const ALERT_LEVELS = ['green', 'yellow', 'orange', 'red'] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];

/** A severity figure as the source states it, e.g. {name:'magnitude', value:7.1, unit:'M'}. */
export interface SeverityMeasure {
  name: string;
  value: number | null;
  unit: string | null;
  /** The source's own words, e.g. GDACS "Magnitude 5.8M, Depth:28.6km". */
  text?: string | null;
}

/**
 * A shape of the event. `class` says what it is, in the source's own vocabulary where it has one
 * (GDACS `Poly_Affected`, `Poly_Red`, `Poly_SMPInt_6`, `Point_Centroid`; USGS `mmi`; CAP `polygon`
 * / `circle`; IPC `phase`) and `value`/`unit` give its level where it has one (MMI 6, wind 120 km/h,
 * IPC phase 4). Coordinates are GeoJSON: [longitude, latitude], WGS84.
 */
export interface Footprint {
  class: string;
  geometry: Geometry;
  label?: string | null;
  value?: number | null;
  unit?: string | null;
}

export interface HazardEventVersion {
  source: SourceName;
  /** The event's identity at its source: GDACS `DR1016449`, USGS `us6000pi9w`, CAP `sender,identifier`. */
  externalId: string;
  /** Other ids the source knows the event by (USGS `ids`); the event is found by any of them. */
  aliases: string[];
  /** This version's label: GDACS episode id, USGS `updated` (ms), CAP `sent`. */
  version: string;
  /** Orders the versions of one event: larger is later (episode number, updated ms, sent ms). */
  versionRank: number;
  hazard: HazardType;
  /** The source's alert for the whole event (GDACS `alertlevel`, USGS PAGER `alert`). */
  eventAlertLevel: AlertLevel | null;
  /** The alert for this episode/version (GDACS `episodealertlevel`); null where the source has none. */
  episodeAlertLevel: AlertLevel | null;
  severity: SeverityMeasure[];
  /** May be empty when a payload carries no geometry (another payload may bring it). */
  footprints: Footprint[];
  /**
   * True for a version that only carries shapes (ShakeMap contours stored apart from the detail
   * document): it is never the event's current version while another exists; its shapes still count.
   */
  footprintsOnly?: boolean;
  validFrom: string | null; // ISO 8601 with a time zone
  validTo: string | null;
  /** When the source issued or last modified this version. */
  issuedAt: string | null;
  title: string | null;
  /** ISO 3166-1 alpha-3 codes of the affected countries. */
  countries: string[];
  link: string | null;
  /** CAP status and similar; anything but 'actual' is kept but never triggers. */
  status: 'actual' | 'exercise' | 'test' | 'draft' | 'system';
  /** External ids of events this version replaces (CAP `references`): they are closed as superseded. */
  supersedes: string[];
  /** True for a cancellation (CAP `Cancel`): the referenced events close without a successor. */
  cancels: boolean;
  /** P-codes the source names directly (CAP geocodes mapped through the area code table). */
  pcodes: string[];
  /** Source-specific extras worth keeping as evidence (JSON-serialisable). */
  properties: Record<string, unknown>;
}

export interface IndicatorValue {
  pcode: string;
  /** e.g. `vci3m`, `spi3`, `rainfall_anomaly_1m`, `glofas_p_rp5`, `ipc_phase`, `ipc_p3plus_share`. */
  indicator: string;
  periodStart: string; // YYYY-MM-DD
  periodEnd: string; // YYYY-MM-DD, inclusive
  value: number;
  status: 'final' | 'forecast';
  /** Who produced the figure, e.g. `NDMA`, `WFP CHIRPS`, `IPC`. */
  source: string;
  /**
   * When the source issued it (ISO 8601 with a time zone), where the payload says so; absent or
   * null: when the engine received it. Every issue of a forecast is kept: its lead is the time from
   * the issue to the start of the period forecast.
   */
  issuedAt?: string | null;
}

/** A record (or a whole payload) that could not be read, with where and why. */
export interface Rejection {
  /** Where in the payload, e.g. `item 3 (guid EQ1457082)`, `line 7`, `feature 12`, `payload`. */
  where: string;
  reason: string;
}

export interface ParseResult {
  events: HazardEventVersion[];
  indicators: IndicatorValue[];
  rejected: Rejection[];
}

/** What an adapter may ask of its surroundings: nothing but a code → P-code lookup. */
export interface AdapterContext {
  /** Maps a source's area code to a P-code (CAP geocodes, IPC area ids), or undefined. */
  pcodeFor(scheme: string, code: string): string | undefined;
}

export interface Adapter {
  source: SourceName;
  /**
   * Reads one payload. Throws a PayloadError when nothing in it is readable (bad XML/JSON, wrong
   * format); otherwise returns what it could read and a Rejection for each record it could not.
   */
  parse(bytes: Buffer, context: AdapterContext): ParseResult;
}

/** The whole payload is unreadable (not XML/JSON, not this source's format, empty). */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

export const emptyResult = (): ParseResult => ({ events: [], indicators: [], rejected: [] });
