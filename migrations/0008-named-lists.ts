import { sql, type Kysely } from 'kysely';

/**
 * Named lists: lists kept outside this engine that a rule's overlap names (`overlap: [{ with:
 * { list: "livelihood assistance from other agencies for this disaster" } }]`), e.g. the families
 * another agency already assisted. A coordinator records each one as it is received, for a shock
 * and/or a payment cycle, with who gave it; the households are matched to the registry when it is
 * recorded. Recorded lists are evidence for the payment lists generated against them: append-only.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE named_lists (
      id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name           text NOT NULL CHECK (name <> ''),
      -- The shock it answers (for overlaps with scope same_shock) and the cycle it covers (same_period).
      shock_key      text CHECK (shock_key <> ''),
      cycle          text CHECK (cycle ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      source         text NOT NULL CHECK (source <> ''),
      households     integer NOT NULL,
      -- sha256 of the sorted registry ids, one a line: what was checked against.
      content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
      recorded_by    text NOT NULL,
      recorded_at    timestamptz NOT NULL DEFAULT now(),
      CHECK (shock_key IS NOT NULL OR cycle IS NOT NULL)
    )`.execute(db);
  await sql`CREATE INDEX named_lists_name_idx ON named_lists (name)`.execute(db);
  await sql`
    CREATE TABLE named_list_households (
      named_list_id bigint NOT NULL REFERENCES named_lists (id),
      household_id  bigint NOT NULL REFERENCES households (id),
      PRIMARY KEY (named_list_id, household_id)
    )`.execute(db);
  await sql`CREATE INDEX named_list_households_household_idx ON named_list_households (household_id)`.execute(db);
  for (const table of ['named_lists', 'named_list_households']) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_append_only`)} BEFORE UPDATE OR DELETE ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION append_only()`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${sql.table(table)}
      FOR EACH STATEMENT EXECUTE FUNCTION append_only()`.execute(db);
  }
}
