import { sql, type Kysely } from 'kysely';

/**
 * Forecasts as issued, and season calendars.
 *
 * indicator_values kept one forecast row per key, so a newer issue overwrote the older one and an
 * evaluation as of a date between them saw the newer. Now every issue of a forecast is a row of its
 * own, keyed by `issued_at` (when the source issued it; when the engine received it if the payload
 * does not say). A final figure stays one row per key: a revision replaces it.
 *
 * area_seasons: the season calendar of an area (`asp areas seasons FILE`), read by the
 * `end_of_season` aggregation. Seasons recur every year from `start_md` to `end_md` (MM-DD); an end
 * before the start means the season runs into the next year.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE indicator_values ADD COLUMN issued_at timestamptz`.execute(db);
  await sql`UPDATE indicator_values SET issued_at = known_at`.execute(db);
  await sql`ALTER TABLE indicator_values ALTER COLUMN issued_at SET NOT NULL`.execute(db);

  // The view selects *, so it is rebuilt around the new column; the latest issue stands for a forecast.
  await sql`DROP VIEW indicator_values_current`.execute(db);
  await sql`ALTER TABLE indicator_values DROP CONSTRAINT indicator_values_pkey`.execute(db);
  await sql`
    CREATE UNIQUE INDEX indicator_values_final_key
        ON indicator_values (pcode, indicator, period_start, period_end, source)
     WHERE status = 'final'`.execute(db);
  await sql`
    CREATE UNIQUE INDEX indicator_values_forecast_issue_key
        ON indicator_values (pcode, indicator, period_start, period_end, source, issued_at)
     WHERE status = 'forecast'`.execute(db);
  await sql`
    CREATE VIEW indicator_values_current AS
    SELECT DISTINCT ON (pcode, indicator, period_start, period_end, source) *
      FROM indicator_values
     ORDER BY pcode, indicator, period_start, period_end, source, (status = 'final') DESC, issued_at DESC`.execute(db);

  await sql`
    CREATE TABLE area_seasons (
      pcode     text NOT NULL,
      season    text NOT NULL CHECK (season ~ '^[a-z][a-z0-9_]*$'),
      start_md  text NOT NULL CHECK (start_md ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'),
      end_md    text NOT NULL CHECK (end_md ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'),
      loaded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (pcode, season)
    )`.execute(db);
}
