import { sql, type Kysely } from 'kysely';

/** Admin areas (P-code hierarchy), programmes, the household registry and enrolments. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS postgis`.execute(db);

  await sql`
    CREATE TABLE admin_areas (
      pcode        text PRIMARY KEY CHECK (pcode <> ''),
      name         text NOT NULL,
      level        smallint NOT NULL CHECK (level BETWEEN 0 AND 6),
      parent_pcode text REFERENCES admin_areas (pcode),
      iso3         text,
      geom         geometry(MultiPolygon, 4326) NOT NULL,
      repaired     boolean NOT NULL DEFAULT false,
      imported_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX admin_areas_geom_gix ON admin_areas USING gist (geom)`.execute(db);
  await sql`CREATE INDEX admin_areas_parent_idx ON admin_areas (parent_pcode)`.execute(db);
  await sql`CREATE INDEX admin_areas_level_idx ON admin_areas (level)`.execute(db);

  // Big polygons make point-in-polygon slow (every test walks every vertex); ST_Subdivide cuts
  // them into parts of at most 256 vertices with tight bounding boxes for the GiST index.
  await sql`
    CREATE TABLE admin_area_parts (
      pcode text NOT NULL REFERENCES admin_areas (pcode) ON DELETE CASCADE,
      level smallint NOT NULL,
      geom  geometry(Polygon, 4326) NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX admin_area_parts_geom_gix ON admin_area_parts USING gist (geom)`.execute(db);
  await sql`CREATE INDEX admin_area_parts_pcode_idx ON admin_area_parts (pcode)`.execute(db);

  // "This area and everything below it" is a join on this closure, not a recursive query.
  await sql`
    CREATE TABLE admin_area_ancestors (
      pcode          text NOT NULL REFERENCES admin_areas (pcode) ON DELETE CASCADE,
      ancestor_pcode text NOT NULL REFERENCES admin_areas (pcode) ON DELETE CASCADE,
      depth          smallint NOT NULL,
      PRIMARY KEY (ancestor_pcode, pcode)
    )`.execute(db);
  await sql`CREATE INDEX admin_area_ancestors_pcode_idx ON admin_area_ancestors (pcode)`.execute(db);

  await sql`
    CREATE TABLE programmes (
      code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]+$'),
      name        text NOT NULL,
      currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      base_amount numeric(14, 2) NOT NULL CHECK (base_amount >= 0),
      frequency   text NOT NULL CHECK (frequency IN ('once', 'weekly', 'monthly', 'bimonthly', 'quarterly')),
      created_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE households (
      id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      registry_id     text NOT NULL UNIQUE CHECK (registry_id <> ''),
      admin_pcode     text NOT NULL REFERENCES admin_areas (pcode),
      location        geometry(Point, 4326),
      size            integer CHECK (size >= 1),
      pmt_score       double precision,
      payment_channel text,
      payment_account text,
      attributes      jsonb NOT NULL DEFAULT '{}',
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX households_location_gix ON households USING gist (location)`.execute(db);
  await sql`CREATE INDEX households_admin_pcode_idx ON households (admin_pcode)`.execute(db);

  await sql`
    CREATE TABLE enrolments (
      household_id   bigint NOT NULL REFERENCES households (id) ON DELETE CASCADE,
      programme_code text NOT NULL REFERENCES programmes (code),
      status         text NOT NULL CHECK (status IN ('active', 'suspended', 'exited')),
      since          date NOT NULL DEFAULT current_date,
      PRIMARY KEY (household_id, programme_code)
    )`.execute(db);
  await sql`CREATE INDEX enrolments_programme_idx ON enrolments (programme_code, status)`.execute(db);
}
