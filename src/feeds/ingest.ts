import { createHash } from 'node:crypto';
import type { Store, Tx } from '../db/store.ts';
import { log } from '../log.ts';
import { PayloadError, type Adapter, type AdapterContext, type HazardEventVersion, type IndicatorValue, type SourceName } from './model.ts';
import type { Box } from '../geo/extent.ts';
import { checkFootprints, loadHazardLimits } from './footprint-checks.ts';
import { loadIndicatorCatalogue } from './indicator-catalogue.ts';
import { namedPlaceExtents } from './named-places.ts';
import { implausibleIndicator, indicatorLocation } from './plausibility.ts';
import { printable, storableCopy, storageProblem } from '../db/storable.ts';
import { describeIssues, hazardEventVersionSchema, indicatorValueSchema } from './validate.ts';

export interface PayloadInput {
  source: SourceName;
  bytes: Buffer;
  /** Where it came from: an http(s) or file URL. */
  url: string;
  contentType?: string | null;
  fetchedAt?: Date;
  runId?: number | null;
  /** The feed's declared bounding box (feeds config `bbox`): footprints outside it are quarantined. */
  bbox?: Box | null;
}

export interface IngestSummary {
  payloadId: number | null;
  /** The same bytes were ingested before: nothing was added. */
  duplicate: boolean;
  eventsAdded: number;
  versionsAdded: number;
  versionsUpdated: number;
  footprints: number;
  indicatorsAdded: number;
  quarantined: number;
  /** Set when the whole payload was unreadable (it is kept, and quarantined). */
  payloadError: string | null;
}

const emptySummary = (): IngestSummary => ({
  payloadId: null, duplicate: false, eventsAdded: 0, versionsAdded: 0, versionsUpdated: 0,
  footprints: 0, indicatorsAdded: 0, quarantined: 0, payloadError: null,
});

/**
 * Stores one payload and what its adapter reads from it, in one transaction: the raw bytes
 * (deduplicated by sha256, so the same payload twice adds nothing), then every valid event
 * version, footprint and indicator value; every unreadable or invalid record goes to quarantine
 * with the reason, and the valid records of the same payload still land.
 *
 * ```ts
 * const summary = await ingestPayload(store, gdacsAdapter, { source: 'gdacs', bytes, url })
 * ```
 */
export async function ingestPayload(store: Store, adapter: Adapter, input: PayloadInput): Promise<IngestSummary> {
  const context = await loadAdapterContext(store);
  const catalogue = await loadIndicatorCatalogue();
  const limits = await loadHazardLimits();
  const fetchedAt = input.fetchedAt ?? new Date();
  const summary = await store.transaction(async (tx) => {
    const summary = emptySummary();
    const sha256 = createHash('sha256').update(input.bytes).digest('hex');
    // Feeds of one source (two USGS feeds share quakes) ingest one at a time, so two runs never
    // race to create the same event.
    await tx.raw.query(`SELECT pg_advisory_xact_lock(hashtext('asp-ingest:' || $1))`, [input.source]);
    const inserted = await tx.raw.query<{ id: number }>(
      `INSERT INTO raw_payloads (source, sha256, content_type, source_url, fetched_at, size, body, run_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (source, sha256) DO NOTHING RETURNING id`,
      [input.source, sha256, input.contentType ?? null, input.url, fetchedAt, input.bytes.length, input.bytes, input.runId ?? null],
    );
    if (inserted.rows.length === 0) {
      summary.duplicate = true;
      // Seen before and unreadable then: it still is.
      const earlier = await tx.raw.query<{ reason: string }>(
        `SELECT q.reason FROM raw_payloads p JOIN quarantine q ON q.payload_id = p.id AND q.location = 'payload'
          WHERE p.source = $1 AND p.sha256 = $2 LIMIT 1`,
        [input.source, sha256],
      );
      summary.payloadError = earlier.rows[0]?.reason ?? null;
      return summary;
    }
    const payloadId = inserted.rows[0].id;
    summary.payloadId = payloadId;
    // What was refused is kept as evidence even when it holds what the database cannot store.
    const quarantine = async (location: string, reason: string, record?: unknown) => {
      summary.quarantined++;
      await tx.raw.query(
        `INSERT INTO quarantine (run_id, payload_id, source, location, reason, record) VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          input.runId ?? null, payloadId, input.source, shortened(printable(location), 500), shortened(printable(reason), 2000),
          record === undefined ? null : JSON.stringify(storableCopy(record)),
        ],
      );
    };

    let parsed;
    try {
      parsed = adapter.parse(input.bytes, context);
    } catch (error) {
      const reason = unreadableReason(error);
      summary.payloadError = shortened(printable(reason), 2000);
      await quarantine('payload', reason);
      return summary;
    }
    for (const rejection of parsed.rejected) await quarantine(rejection.where, rejection.reason);
    const places = await namedPlaceExtents(tx, parsed.events);

    for (const [index, event] of parsed.events.entries()) {
      const where = `event ${index} (${event?.externalId ?? '?'} version ${event?.version ?? '?'})`;
      const refused = storageProblem(event, { externalId: event?.externalId, aliases: event?.aliases, version: event?.version }, {
        validFrom: event?.validFrom, validTo: event?.validTo, issuedAt: event?.issuedAt,
      });
      if (refused) {
        await quarantine(where, refused, event);
        continue;
      }
      const checked = hazardEventVersionSchema.safeParse(event);
      if (!checked.success) {
        await quarantine(where, describeIssues(checked.error), event);
        continue;
      }
      const placed = checkFootprints(checked.data as HazardEventVersion, { feedBox: input.bbox, places, limits });
      if ('problem' in placed) {
        await quarantine(where, placed.problem, event);
        continue;
      }
      // A savepoint per event: a record the database refuses is quarantined alone.
      await tx.raw.query('SAVEPOINT event_version');
      try {
        const stored = await storeEventVersion(tx, placed.event, payloadId, fetchedAt);
        await tx.raw.query('RELEASE SAVEPOINT event_version');
        if (stored.newEvent) summary.eventsAdded++;
        if (stored.newVersion) summary.versionsAdded++;
        else summary.versionsUpdated++;
        summary.footprints += stored.footprints;
      } catch (error) {
        await tx.raw.query('ROLLBACK TO SAVEPOINT event_version');
        await quarantine(where, `the database refused it: ${(error as Error).message}`, event);
      }
    }

    const indicators: LocatedIndicator[] = [];
    for (const [index, value] of parsed.indicators.entries()) {
      const where = indicatorLocation(index, value);
      const refused = storageProblem(value, { pcode: value?.pcode, indicator: value?.indicator, source: value?.source }, {
        periodStart: value?.periodStart, periodEnd: value?.periodEnd, issuedAt: value?.issuedAt,
      });
      const checked = refused ? null : indicatorValueSchema.safeParse(value);
      const problem = refused ?? (checked!.success ? implausibleIndicator(catalogue, checked!.data) : describeIssues(checked!.error));
      if (problem === null) indicators.push({ where, value: checked!.data! });
      else await quarantine(where, problem, value);
    }
    summary.indicatorsAdded = await storeIndicatorValues(tx, indicators, payloadId, fetchedAt, quarantine);
    return summary;
  });
  log.info({ source: input.source, url: input.url, ...summary }, 'payload ingested');
  return summary;
}

/**
 * Why a payload could not be read. An adapter says so with a PayloadError; anything else it throws
 * on hostile input (a parser's own error, a stack exhausted by deep nesting) still only means the
 * payload is unreadable: it is quarantined, never a crash.
 */
function unreadableReason(error: unknown): string {
  if (error instanceof PayloadError) return error.message;
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'the payload is nested too deeply to read';
  log.warn({ err: { name: (error as Error)?.name, message: (error as Error)?.message } }, 'adapter failed on a payload');
  return `the payload could not be read: ${(error as Error)?.message ?? String(error)}`;
}

/** A reason short enough to read (a parser may quote a whole document). */
function shortened(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The area code table, read once per payload (it is small: codes, never households). */
export async function loadAdapterContext(store: Store): Promise<AdapterContext> {
  const rows = await store.db.selectFrom('area_codes').select(['scheme', 'code', 'pcode']).execute();
  const byKey = new Map(rows.map((r) => [`${r.scheme}\u0000${r.code}`, r.pcode]));
  return { pcodeFor: (scheme, code) => byKey.get(`${scheme}\u0000${code}`) };
}

interface StoredVersion {
  newEvent: boolean;
  newVersion: boolean;
  footprints: number;
}

async function storeEventVersion(tx: Tx, event: HazardEventVersion, payloadId: number, knownAt: Date): Promise<StoredVersion> {
  const { raw } = tx;
  const ids = [event.externalId, ...event.aliases];
  const known = await raw.query<{ event_id: number }>(
    `SELECT event_id FROM hazard_event_aliases WHERE source = $1 AND alias = ANY ($2::text[]) ORDER BY event_id LIMIT 1`,
    [event.source, ids],
  );
  let eventId: number;
  let newEvent = false;
  if (known.rows.length > 0) {
    eventId = known.rows[0].event_id;
  } else {
    const created = await raw.query<{ id: number }>(
      `INSERT INTO hazard_events (source, external_id, hazard, first_known_at) VALUES ($1, $2, $3, $4) RETURNING id`,
      [event.source, event.externalId, event.hazard, knownAt],
    );
    eventId = created.rows[0].id;
    newEvent = true;
  }
  await raw.query(
    `INSERT INTO hazard_event_aliases (source, alias, event_id) SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING`,
    [event.source, ids, eventId],
  );

  // Several payloads may describe one version (a GDACS episode document and its geometry):
  // what a payload says is kept, what it leaves out (null) does not erase what another said.
  const version = await raw.query<{ id: number; inserted: boolean }>(
    `INSERT INTO hazard_event_versions AS v
       (event_id, version, version_rank, hazard, event_alert_level, episode_alert_level, severity,
        valid_from, valid_to, issued_at, title, countries, link, status, supersedes, cancels, pcodes,
        properties, payload_id, known_at, footprints_only)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
     ON CONFLICT (event_id, version) DO UPDATE SET
       version_rank = excluded.version_rank,
       hazard = excluded.hazard,
       event_alert_level = coalesce(excluded.event_alert_level, v.event_alert_level),
       episode_alert_level = coalesce(excluded.episode_alert_level, v.episode_alert_level),
       severity = CASE WHEN jsonb_array_length(excluded.severity) > 0 THEN excluded.severity ELSE v.severity END,
       valid_from = coalesce(excluded.valid_from, v.valid_from),
       valid_to = coalesce(excluded.valid_to, v.valid_to),
       issued_at = coalesce(excluded.issued_at, v.issued_at),
       title = coalesce(excluded.title, v.title),
       countries = ARRAY(SELECT DISTINCT unnest(v.countries || excluded.countries) ORDER BY 1),
       link = coalesce(excluded.link, v.link),
       status = excluded.status,
       supersedes = ARRAY(SELECT DISTINCT unnest(v.supersedes || excluded.supersedes) ORDER BY 1),
       cancels = v.cancels OR excluded.cancels,
       pcodes = ARRAY(SELECT DISTINCT unnest(v.pcodes || excluded.pcodes) ORDER BY 1),
       properties = v.properties || excluded.properties,
       footprints_only = v.footprints_only AND excluded.footprints_only
     RETURNING id, (xmax = 0) AS inserted`,
    [
      eventId, event.version, event.versionRank, event.hazard, event.eventAlertLevel, event.episodeAlertLevel,
      JSON.stringify(event.severity), event.validFrom, event.validTo, event.issuedAt, event.title, event.countries,
      event.link, event.status, event.supersedes, event.cancels, event.pcodes, JSON.stringify(event.properties),
      payloadId, knownAt, Boolean(event.footprintsOnly),
    ],
  );
  const versionId = version.rows[0].id;

  const footprints = await storeFootprints(tx, versionId, event, payloadId);

  // The current version is the latest by the source's own order; a shapes-only version (ShakeMap
  // contours) only while there is no other. Its shapes count either way (event_footprints).
  await raw.query(
    `UPDATE hazard_events e SET current_version_id = latest.id, hazard = latest.hazard
       FROM (SELECT id, hazard FROM hazard_event_versions WHERE event_id = $1
              ORDER BY footprints_only, version_rank DESC, known_at DESC, id DESC LIMIT 1) latest
      WHERE e.id = $1`,
    [eventId],
  );
  await applyLineage(tx, event, eventId);
  return { newEvent, newVersion: version.rows[0].inserted, footprints };
}

/** A payload's footprints replace the stored ones of the same classes for that version. */
async function storeFootprints(tx: Tx, versionId: number, event: HazardEventVersion, payloadId: number): Promise<number> {
  if (event.footprints.length === 0) return 0;
  const classes = [...new Set(event.footprints.map((f) => f.class))];
  await tx.raw.query(`DELETE FROM hazard_footprints WHERE version_id = $1 AND class = ANY ($2::text[])`, [versionId, classes]);
  const seqByClass = new Map<string, number>();
  const rows = event.footprints.map((f) => {
    const seq = seqByClass.get(f.class) ?? 0;
    seqByClass.set(f.class, seq + 1);
    return { ...f, seq };
  });
  await tx.raw.query(
    `WITH input AS (
       SELECT * FROM unnest($2::text[], $3::int[], $4::text[], $5::float8[], $6::text[], $7::text[])
         AS t(class, seq, label, value, unit, geojson)
     ), shaped AS (
       SELECT class, seq, label, value, unit, ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)) AS geom FROM input
     )
     INSERT INTO hazard_footprints (version_id, class, seq, label, value, unit, geom, payload_id)
     SELECT $1, class, seq, label, value, unit,
            CASE WHEN ST_IsValid(geom) THEN geom ELSE ST_MakeValid(geom) END, $8
       FROM shaped`,
    [
      versionId,
      rows.map((r) => r.class), rows.map((r) => r.seq), rows.map((r) => r.label ?? null),
      rows.map((r) => r.value ?? null), rows.map((r) => r.unit ?? null), rows.map((r) => JSON.stringify(r.geometry)),
      payloadId,
    ],
  );
  await tx.raw.query(
    `INSERT INTO hazard_footprint_parts (footprint_id, geom)
     SELECT f.id, parts.geom
       FROM hazard_footprints f,
       LATERAL (SELECT ST_Subdivide(f.geom, 256) AS geom WHERE ST_Dimension(f.geom) = 2
                UNION ALL SELECT f.geom WHERE ST_Dimension(f.geom) < 2) parts
      WHERE f.version_id = $1 AND f.class = ANY ($2::text[])`,
    [versionId, classes],
  );
  return rows.length;
}

/**
 * CAP lineage: an Update supersedes, a Cancel cancels, every event its `references` name, whether
 * those arrived before or arrive after it.
 */
async function applyLineage(tx: Tx, event: HazardEventVersion, eventId: number): Promise<void> {
  const { raw } = tx;
  if (event.supersedes.length > 0) {
    await raw.query(
      `UPDATE hazard_events SET status = $3, closed_by_event_id = $4
        WHERE id IN (SELECT event_id FROM hazard_event_aliases WHERE source = $1 AND alias = ANY ($2::text[]))
          AND id <> $4`,
      [event.source, event.supersedes, event.cancels ? 'cancelled' : 'superseded', eventId],
    );
  }
  if (event.cancels) {
    await raw.query(`UPDATE hazard_events SET status = 'cancelled' WHERE id = $1`, [eventId]);
  }
  // Arrived late: a stored version already names this event.
  await raw.query(
    `UPDATE hazard_events e SET status = CASE WHEN later.cancels THEN 'cancelled' ELSE 'superseded' END,
                                closed_by_event_id = later.event_id
       FROM (SELECT v.event_id, v.cancels FROM hazard_event_versions v JOIN hazard_events le ON le.id = v.event_id
              WHERE le.source = $1 AND v.supersedes && $2::text[] AND v.event_id <> $3
              ORDER BY v.known_at DESC LIMIT 1) later
      WHERE e.id = $3`,
    [event.source, [event.externalId, ...event.aliases], eventId],
  );
}

/**
 * Stores indicator values: a final figure is one row per key (a revision replaces it); every issue
 * of a forecast is a row of its own, keyed by its issue time, so an evaluation as of any date sees
 * the issues known by then. A payload that does not say when a forecast was issued issues it at
 * `knownAt`, unless the latest stored issue already gives the same value (the same forecast
 * fetched again is not a new issue).
 */
async function storeIndicatorValues(
  tx: Tx,
  values: LocatedIndicator[],
  payloadId: number,
  knownAt: Date,
  quarantine: (where: string, reason: string, record: unknown) => Promise<void>,
): Promise<number> {
  let changed = 0;
  for (let start = 0; start < values.length; start += 5000) {
    const batch = values.slice(start, start + 5000);
    // A batch the database refuses is stored again value by value, each under its own savepoint,
    // so that only the refused values are quarantined (the checks before storage make this rare).
    await tx.raw.query('SAVEPOINT indicator_batch');
    try {
      changed += await storeIndicatorBatch(tx, batch.map((v) => v.value), payloadId, knownAt);
      await tx.raw.query('RELEASE SAVEPOINT indicator_batch');
      continue;
    } catch {
      await tx.raw.query('ROLLBACK TO SAVEPOINT indicator_batch');
    }
    for (const { where, value } of batch) {
      await tx.raw.query('SAVEPOINT indicator_value');
      try {
        changed += await storeIndicatorBatch(tx, [value], payloadId, knownAt);
        await tx.raw.query('RELEASE SAVEPOINT indicator_value');
      } catch (error) {
        await tx.raw.query('ROLLBACK TO SAVEPOINT indicator_value');
        await quarantine(where, `the database refused it: ${(error as Error).message}`, value);
      }
    }
  }
  return changed;
}

/** An indicator value with where it was in its payload, for the quarantine. */
interface LocatedIndicator {
  where: string;
  value: IndicatorValue;
}

async function storeIndicatorBatch(tx: Tx, batch: IndicatorValue[], payloadId: number, knownAt: Date): Promise<number> {
  const columns = [
    batch.map((v) => v.pcode), batch.map((v) => v.indicator), batch.map((v) => v.periodStart),
    batch.map((v) => v.periodEnd), batch.map((v) => v.status), batch.map((v) => v.source),
    batch.map((v) => v.value), batch.map((v) => v.issuedAt ?? null), payloadId, knownAt,
  ];
  const finals = await tx.raw.query<{ n: number }>(
    `WITH input AS (
       -- The same key twice in one payload: the later row wins.
       SELECT DISTINCT ON (pcode, indicator, period_start, period_end, source) *
         FROM unnest($1::text[], $2::text[], $3::date[], $4::date[], $5::text[], $6::text[], $7::float8[], $8::timestamptz[])
           WITH ORDINALITY AS t(pcode, indicator, period_start, period_end, status, source, value, issued_at, n)
        WHERE status = 'final'
        ORDER BY pcode, indicator, period_start, period_end, source, n DESC
     ), upserted AS (
       INSERT INTO indicator_values AS iv (pcode, indicator, period_start, period_end, status, source, value, payload_id, known_at, issued_at)
       SELECT pcode, indicator, period_start, period_end, status, source, value, $9, $10, coalesce(issued_at, $10) FROM input
       ON CONFLICT (pcode, indicator, period_start, period_end, source) WHERE status = 'final'
       DO UPDATE SET value = excluded.value, payload_id = excluded.payload_id, known_at = excluded.known_at, issued_at = excluded.issued_at
        WHERE iv.value IS DISTINCT FROM excluded.value
       RETURNING 1
     )
     SELECT count(*)::int AS n FROM upserted`,
    columns,
  );
  const forecasts = await tx.raw.query<{ n: number }>(
    `WITH input AS (
       -- The same issue twice in one payload: the later row wins.
       SELECT DISTINCT ON (pcode, indicator, period_start, period_end, source, issued_at) *
         FROM unnest($1::text[], $2::text[], $3::date[], $4::date[], $5::text[], $6::text[], $7::float8[], $8::timestamptz[])
           WITH ORDINALITY AS t(pcode, indicator, period_start, period_end, status, source, value, issued_at, n)
        WHERE status = 'forecast'
        ORDER BY pcode, indicator, period_start, period_end, source, issued_at, n DESC
     ), upserted AS (
       INSERT INTO indicator_values AS iv (pcode, indicator, period_start, period_end, status, source, value, payload_id, known_at, issued_at)
       SELECT i.pcode, i.indicator, i.period_start, i.period_end, i.status, i.source, i.value, $9, $10, coalesce(i.issued_at, $10)
         FROM input i
        WHERE i.issued_at IS NOT NULL
           OR i.value IS DISTINCT FROM (
                SELECT latest.value FROM indicator_values latest
                 WHERE latest.status = 'forecast' AND latest.pcode = i.pcode AND latest.indicator = i.indicator
                   AND latest.period_start = i.period_start AND latest.period_end = i.period_end AND latest.source = i.source
                 ORDER BY latest.issued_at DESC LIMIT 1)
       ON CONFLICT (pcode, indicator, period_start, period_end, source, issued_at) WHERE status = 'forecast'
       DO UPDATE SET value = excluded.value, payload_id = excluded.payload_id, known_at = excluded.known_at
        WHERE iv.value IS DISTINCT FROM excluded.value
       RETURNING 1
     )
     SELECT count(*)::int AS n FROM upserted`,
    columns,
  );
  return finals.rows[0].n + forecasts.rows[0].n;
}
