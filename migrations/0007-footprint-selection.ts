import { sql, type Kysely } from 'kysely';

/**
 * One footprint selection for evaluation, dry run, estimate and list generation.
 *
 * - `hazard_event_versions.footprints_only`: a version that only carries shapes (ShakeMap contours
 *   stored apart from the event's detail document). It never becomes the event's current version
 *   while another exists; its shapes still count (see `event_footprints`).
 * - `event_footprints(event, known_by)`: the event's shapes as they stand, whatever order the
 *   documents came in: for each class, the footprints of the latest version (by the source's rank)
 *   that carries that class. A newer version replaces the shapes of the classes it carries only.
 * - `footprint_selected(...)`: whether a footprint is the one a rule's event condition names
 *   (class, label, minimum value, unit). Mirrors `footprintSelected` in src/rules/footprint-spec.ts;
 *   a test compares the two.
 * - `footprint_parts(footprint, buffered)`: the parts households and areas are matched against.
 *   Without a buffer only areal parts count: a point, a line or a zero-area polygon never stands
 *   in for an area. With a buffer every part counts (its surroundings are the area).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE hazard_event_versions ADD COLUMN footprints_only boolean NOT NULL DEFAULT false`.execute(db);
  await sql`CREATE INDEX hazard_footprints_version_class_idx ON hazard_footprints (version_id, class)`.execute(db);

  await sql`
    CREATE FUNCTION event_footprints(p_event_id bigint, p_known_by timestamptz)
    RETURNS SETOF hazard_footprints LANGUAGE sql STABLE AS $$
      SELECT f.*
        FROM (SELECT DISTINCT ON (f.class) f.class, v.id AS version_id
                FROM hazard_event_versions v JOIN hazard_footprints f ON f.version_id = v.id
               WHERE v.event_id = p_event_id AND (p_known_by IS NULL OR v.known_at <= p_known_by)
               ORDER BY f.class, v.version_rank DESC, v.known_at DESC, v.id DESC) carrier
        JOIN hazard_footprints f ON f.version_id = carrier.version_id AND f.class = carrier.class
    $$`.execute(db);

  await sql`
    CREATE FUNCTION footprint_selected(p_class text, p_label text, p_value double precision, p_unit text,
                                       want_class text, want_label text, want_min_value double precision, want_unit text)
    RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
      -- true or false, never NULL: a missing label, level or unit does not meet a wanted one.
      SELECT coalesce((want_class IS NULL OR p_class = want_class)
         AND (want_label IS NULL OR p_label = want_label)
         AND (want_min_value IS NULL OR p_value >= want_min_value)
         AND (want_unit IS NULL OR lower(p_unit) = lower(want_unit))
         -- With no class named, a bounding box is an envelope, not a footprint.
         AND (want_class IS NOT NULL OR p_class <> 'bbox'), false)
    $$`.execute(db);

  await sql`
    CREATE FUNCTION footprint_parts(p_footprint_id bigint, p_buffered boolean)
    RETURNS SETOF geometry LANGUAGE sql STABLE AS $$
      SELECT p.geom FROM hazard_footprint_parts p
       WHERE p.footprint_id = p_footprint_id
         AND (p_buffered OR (ST_Dimension(p.geom) = 2 AND ST_Area(p.geom) > 0))
    $$`.execute(db);
}
