import { sql, type Kysely } from 'kysely';

/**
 * What receivers need of a household's head (openIMIS's upload refuses rows without first name,
 * last name and birth date; payment hubs want an identifier and a phone), kept in columns rather
 * than free attributes, and a record of every registry pull so that the next one asks only for
 * what changed since.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE households
      ADD COLUMN head_first_name text CHECK (head_first_name <> ''),
      ADD COLUMN head_last_name  text CHECK (head_last_name <> ''),
      ADD COLUMN head_birth_date date,
      -- A national or programme identifier of the head, as the registry holds it.
      ADD COLUMN national_id     text CHECK (national_id <> ''),
      ADD COLUMN phone           text CHECK (phone <> '')`.execute(db);

  // One row per pull from a live registry. `cursor` is where the next delta starts: the time the
  // pull began as the registry's clock reported it, or our own minus a margin (see README).
  await sql`
    CREATE TABLE registry_pulls (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      registry    text NOT NULL CHECK (registry <> ''),
      kind        text NOT NULL CHECK (kind IN ('dci', 'openimis')),
      url         text NOT NULL,
      mode        text NOT NULL CHECK (mode IN ('full', 'delta')),
      since       timestamptz,
      cursor      timestamptz,
      status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'success', 'failed')),
      counts      jsonb NOT NULL DEFAULT '{}',
      error       text,
      actor       text NOT NULL,
      started_at  timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      CHECK (mode = 'full' OR since IS NOT NULL)
    )`.execute(db);
  await sql`CREATE INDEX registry_pulls_last_idx ON registry_pulls (registry, started_at DESC) WHERE status = 'success'`.execute(db);
}
