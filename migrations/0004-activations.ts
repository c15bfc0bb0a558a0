import { sql, type Kysely } from 'kysely';

/**
 * Activations: what an approved rule version decided for one area and one shock (an event, an
 * indicator episode, a declaration), with the evidence; declarations entered by coordinators;
 * coordinators' confirmations of manual gates; and the append-only history of every change.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // An official declaration (state of calamity, notified calamity…): a trigger source and a gate.
  // Areas are named by P-code or drawn as a polygon; which rule areas a polygon covers is worked
  // out at evaluation, at the rule's own admin level.
  await sql`
    CREATE TABLE declarations (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      reference    text NOT NULL UNIQUE CHECK (reference <> ''),
      kind         text NOT NULL,
      hazard       text NOT NULL,
      issuer       text NOT NULL,
      declared_on  date NOT NULL,
      valid_until  date CHECK (valid_until IS NULL OR valid_until >= declared_on),
      document     jsonb NOT NULL,
      pcodes       text[] NOT NULL DEFAULT '{}',
      geom         geometry(MultiPolygon, 4326),
      recorded_by  text NOT NULL,
      recorded_at  timestamptz NOT NULL DEFAULT now(),
      CHECK (cardinality(pcodes) > 0 OR geom IS NOT NULL)
    )`.execute(db);

  await sql`
    CREATE TABLE activations (
      id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      rule_version_id bigint NOT NULL REFERENCES rule_versions (id),
      rule_id         text NOT NULL,
      shock_key       text NOT NULL,
      pcode           text NOT NULL REFERENCES admin_areas (pcode),
      stage           text NOT NULL CHECK (stage IN ('readiness', 'activation')),
      tier            text,
      status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'rejected', 'closed')),
      forced          boolean NOT NULL DEFAULT false,
      waiting_for     text[] NOT NULL DEFAULT '{}',
      evidence        jsonb NOT NULL,
      opened_at       timestamptz NOT NULL DEFAULT now(),
      opened_as_of    timestamptz NOT NULL,
      evaluated_as_of timestamptz NOT NULL,
      updated_at      timestamptz NOT NULL DEFAULT now(),
      confirmed_by    text,
      confirmed_at    timestamptz,
      closed_at       timestamptz,
      closed_by       text,
      closed_reason   text,
      UNIQUE (rule_version_id, shock_key, pcode),
      CHECK ((status = 'open') = (closed_at IS NULL))
    )`.execute(db);
  await sql`CREATE INDEX activations_open_idx ON activations (rule_id, pcode) WHERE status = 'open'`.execute(db);

  // A coordinator's confirmation of a manual gate for one rule and area (what `gate` conditions wait for).
  await sql`
    CREATE TABLE gate_confirmations (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      rule_id       text NOT NULL,
      pcode         text NOT NULL REFERENCES admin_areas (pcode),
      gate_kind     text NOT NULL,
      activation_id bigint REFERENCES activations (id),
      confirmed_by  text NOT NULL,
      reason        text NOT NULL CHECK (reason <> ''),
      confirmed_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX gate_confirmations_rule_idx ON gate_confirmations (rule_id)`.execute(db);

  // Every change to an activation, by the engine or a person: never updated, never deleted.
  await sql`
    CREATE TABLE activation_changes (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      activation_id bigint NOT NULL REFERENCES activations (id),
      change        text NOT NULL CHECK (change IN ('opened', 'stage', 'tier', 'waiting', 'evidence', 'confirmed', 'rejected', 'forced', 'closed')),
      from_value    text,
      to_value      text,
      actor         text NOT NULL,
      reason        text,
      as_of         timestamptz,
      at            timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX activation_changes_activation_idx ON activation_changes (activation_id)`.execute(db);
  await sql`
    CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: rows cannot be changed or deleted', TG_TABLE_NAME;
    END $$`.execute(db);
  for (const table of ['activation_changes', 'gate_confirmations']) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_append_only`)} BEFORE UPDATE OR DELETE ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION append_only()`.execute(db);
  }
}
