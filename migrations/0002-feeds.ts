import { sql, type Kysely } from 'kysely';

/**
 * Feeds, their runs and health, raw payloads (evidence), quarantine, hazard events with their
 * versions and footprints, and indicator values.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE feeds (
      name                 text PRIMARY KEY,
      adapter              text NOT NULL,
      url                  text NOT NULL,
      schedule             text NOT NULL,
      enabled              boolean NOT NULL,
      stale_after_minutes  integer NOT NULL,
      options              jsonb NOT NULL DEFAULT '{}',
      etag                 text,
      last_modified        text,
      last_run_at          timestamptz,
      last_success_at      timestamptz,
      last_new_data_at     timestamptz,
      last_error_at        timestamptz,
      last_error           text,
      consecutive_failures integer NOT NULL DEFAULT 0
    )`.execute(db);

  await sql`
    CREATE TABLE feed_runs (
      id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      feed_name         text,
      source            text NOT NULL,
      url               text NOT NULL,
      started_at        timestamptz NOT NULL DEFAULT now(),
      finished_at       timestamptz,
      status            text NOT NULL DEFAULT 'running'
                        CHECK (status IN ('running', 'success', 'not_modified', 'failed')),
      payloads          integer NOT NULL DEFAULT 0,
      duplicates        integer NOT NULL DEFAULT 0,
      events_added      integer NOT NULL DEFAULT 0,
      versions_added    integer NOT NULL DEFAULT 0,
      indicators_added  integer NOT NULL DEFAULT 0,
      quarantined       integer NOT NULL DEFAULT 0,
      error             text
    )`.execute(db);
  await sql`CREATE INDEX feed_runs_feed_idx ON feed_runs (feed_name, started_at DESC)`.execute(db);

  // The bytes exactly as received: the evidence behind every decision, and replayable.
  await sql`
    CREATE TABLE raw_payloads (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      source       text NOT NULL,
      sha256       text NOT NULL,
      content_type text,
      source_url   text NOT NULL,
      fetched_at   timestamptz NOT NULL,
      size         integer NOT NULL,
      body         bytea NOT NULL,
      run_id       bigint REFERENCES feed_runs (id),
      UNIQUE (source, sha256)
    )`.execute(db);

  await sql`
    CREATE TABLE quarantine (
      id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      run_id     bigint REFERENCES feed_runs (id),
      payload_id bigint REFERENCES raw_payloads (id),
      source     text NOT NULL,
      location   text NOT NULL,
      reason     text NOT NULL,
      record     jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE hazard_events (
      id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      source             text NOT NULL,
      external_id        text NOT NULL,
      hazard             text NOT NULL,
      current_version_id bigint,
      status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'superseded', 'cancelled')),
      closed_by_event_id bigint REFERENCES hazard_events (id),
      first_known_at     timestamptz NOT NULL DEFAULT now(),
      UNIQUE (source, external_id)
    )`.execute(db);

  // USGS merges event ids: an event is found by any of its aliases.
  await sql`
    CREATE TABLE hazard_event_aliases (
      source   text NOT NULL,
      alias    text NOT NULL,
      event_id bigint NOT NULL REFERENCES hazard_events (id) ON DELETE CASCADE,
      PRIMARY KEY (source, alias)
    )`.execute(db);

  await sql`
    CREATE TABLE hazard_event_versions (
      id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_id            bigint NOT NULL REFERENCES hazard_events (id) ON DELETE CASCADE,
      version             text NOT NULL,
      version_rank        double precision NOT NULL,
      hazard              text NOT NULL,
      event_alert_level   text CHECK (event_alert_level IN ('green', 'yellow', 'orange', 'red')),
      episode_alert_level text CHECK (episode_alert_level IN ('green', 'yellow', 'orange', 'red')),
      severity            jsonb NOT NULL DEFAULT '[]',
      valid_from          timestamptz,
      valid_to            timestamptz,
      issued_at           timestamptz,
      title               text,
      countries           text[] NOT NULL DEFAULT '{}',
      link                text,
      status              text NOT NULL,
      supersedes          text[] NOT NULL DEFAULT '{}',
      cancels             boolean NOT NULL DEFAULT false,
      pcodes              text[] NOT NULL DEFAULT '{}',
      properties          jsonb NOT NULL DEFAULT '{}',
      payload_id          bigint REFERENCES raw_payloads (id),
      known_at            timestamptz NOT NULL,
      UNIQUE (event_id, version)
    )`.execute(db);
  await sql`ALTER TABLE hazard_events ADD FOREIGN KEY (current_version_id) REFERENCES hazard_event_versions (id)`.execute(db);
  await sql`CREATE INDEX hazard_event_versions_supersedes_gin ON hazard_event_versions USING gin (supersedes)`.execute(db);

  await sql`
    CREATE TABLE hazard_footprints (
      id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      version_id bigint NOT NULL REFERENCES hazard_event_versions (id) ON DELETE CASCADE,
      class      text NOT NULL,
      seq        integer NOT NULL,
      label      text,
      value      double precision,
      unit       text,
      geom       geometry(Geometry, 4326) NOT NULL,
      payload_id bigint REFERENCES raw_payloads (id),
      UNIQUE (version_id, class, seq)
    )`.execute(db);
  await sql`CREATE INDEX hazard_footprints_geom_gix ON hazard_footprints USING gist (geom)`.execute(db);
  // Footprints cut small for matching against households and areas (as admin_area_parts).
  await sql`
    CREATE TABLE hazard_footprint_parts (
      footprint_id bigint NOT NULL REFERENCES hazard_footprints (id) ON DELETE CASCADE,
      geom         geometry(Geometry, 4326) NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX hazard_footprint_parts_geom_gix ON hazard_footprint_parts USING gist (geom)`.execute(db);
  await sql`CREATE INDEX hazard_footprint_parts_fp_idx ON hazard_footprint_parts (footprint_id)`.execute(db);

  // One forecast and one final row per key; evaluation prefers final. known_at says since when
  // the engine knew the value, so an as-of evaluation can ignore what was published later.
  await sql`
    CREATE TABLE indicator_values (
      pcode        text NOT NULL,
      indicator    text NOT NULL,
      period_start date NOT NULL,
      period_end   date NOT NULL CHECK (period_end >= period_start),
      status       text NOT NULL CHECK (status IN ('final', 'forecast')),
      source       text NOT NULL,
      value        double precision NOT NULL,
      payload_id   bigint REFERENCES raw_payloads (id),
      known_at     timestamptz NOT NULL,
      PRIMARY KEY (pcode, indicator, period_start, period_end, source, status)
    )`.execute(db);
  await sql`CREATE INDEX indicator_values_indicator_idx ON indicator_values (indicator, period_end)`.execute(db);
  // What is true now: a final value replaces the forecast for the same key.
  await sql`
    CREATE VIEW indicator_values_current AS
    SELECT DISTINCT ON (pcode, indicator, period_start, period_end, source) *
      FROM indicator_values
     ORDER BY pcode, indicator, period_start, period_end, source, (status = 'final') DESC`.execute(db);

  // Codes other schemes give areas (CAP geocodes, IPC area ids, WFP adm ids) → P-codes.
  await sql`
    CREATE TABLE area_codes (
      scheme text NOT NULL,
      code   text NOT NULL,
      pcode  text NOT NULL,
      PRIMARY KEY (scheme, code)
    )`.execute(db);
}
