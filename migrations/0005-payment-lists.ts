import { sql, type Kysely } from 'kysely';

/**
 * Payment lists and what follows them: the list generated for an activation (one rule version,
 * one response component, one payment cycle, covering every area the rule version has in
 * activation, so that caps and the budget apply across areas), its entries, what was cut and excluded and why;
 * partners and releases to them; reconciliation of what was paid; and the append-only,
 * hash-chained audit log of every act on money.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE partners (
      id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]*$'),
      name        text NOT NULL,
      role        text NOT NULL CHECK (role IN ('payment_provider', 'humanitarian_partner', 'coordination')),
      -- The fields this partner may receive (a whitelist), and whether ids are pseudonymised.
      fields      text[] NOT NULL CHECK (cardinality(fields) > 0),
      pseudonymise boolean NOT NULL DEFAULT true,
      created_by  text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE payment_lists (
      id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      rule_version_id  bigint NOT NULL REFERENCES rule_versions (id),
      rule_id          text NOT NULL,
      -- The response component of the rule (its position in response[]) and what it does.
      component        smallint NOT NULL CHECK (component >= 0),
      kind             text NOT NULL CHECK (kind IN ('vertical', 'horizontal')),
      programme_code   text NOT NULL REFERENCES programmes (code),
      -- The payment cycle the list pays for, e.g. 2026-11; its areas and shocks are in payment_list_areas.
      cycle            text NOT NULL,
      status           text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'released', 'closed', 'cancelled')),
      currency         char(3),
      households       integer NOT NULL DEFAULT 0,
      total_amount     numeric(16, 2) NOT NULL DEFAULT 0,
      -- Households left out, counted per reason ({"already in list 12": 40, "exclusive with CT": 812}).
      excluded         jsonb NOT NULL DEFAULT '{}',
      -- What caps and the budget cut: [{pcode, step, households, amount, reason}].
      cuts             jsonb NOT NULL DEFAULT '[]',
      generated_by     text NOT NULL,
      generated_at     timestamptz NOT NULL DEFAULT now(),
      approved_by      text,
      approved_at      timestamptz,
      second_approved_by text,
      second_approved_at timestamptz,
      content_sha256   text CHECK (content_sha256 IS NULL OR content_sha256 ~ '^[0-9a-f]{64}$'),
      closed_at        timestamptz,
      cancelled_by     text,
      cancelled_reason text,
      CHECK (approved_by IS NULL OR approved_by <> generated_by),
      CHECK (second_approved_by IS NULL OR (second_approved_by <> generated_by AND second_approved_by <> approved_by)),
      CHECK (status IN ('draft', 'cancelled') OR content_sha256 IS NOT NULL)
    )`.execute(db);

  // One live list per rule version, component and cycle; a cancelled one stays for the record.
  await sql`CREATE UNIQUE INDEX payment_lists_one_live ON payment_lists (rule_version_id, component, cycle) WHERE status <> 'cancelled'`.execute(db);

  // The activations (areas) a list covers, with the stage and tier they had when it was generated.
  await sql`
    CREATE TABLE payment_list_areas (
      list_id       bigint NOT NULL REFERENCES payment_lists (id) ON DELETE CASCADE,
      activation_id bigint NOT NULL REFERENCES activations (id),
      pcode         text NOT NULL REFERENCES admin_areas (pcode),
      shock_key     text NOT NULL,
      tier          text,
      -- Registered households affected in the area, and how many the rule targets there (null: all who qualify).
      registered    integer NOT NULL,
      target        integer,
      PRIMARY KEY (list_id, pcode)
    )`.execute(db);

  await sql`
    CREATE TABLE payment_list_entries (
      list_id       bigint NOT NULL REFERENCES payment_lists (id) ON DELETE CASCADE,
      household_id  bigint NOT NULL REFERENCES households (id),
      -- Copies frozen at generation: the list must not change when the registry does.
      registry_id   text NOT NULL,
      admin_pcode   text NOT NULL,
      -- The affected area the household matched (the activation's area) and why it is listed.
      pcode         text NOT NULL,
      activation_id bigint NOT NULL REFERENCES activations (id),
      tier          text,
      rank          integer NOT NULL,
      size          integer,
      amount        numeric(14, 2) NOT NULL CHECK (amount >= 0),
      currency      char(3) NOT NULL,
      payments      integer,
      first_payment date,
      -- Where the money goes, frozen at generation and covered by the content hash: an account
      -- changed in the registry after approval is not the one paid.
      payment_channel text,
      payment_account text,
      reason        text NOT NULL,
      PRIMARY KEY (list_id, household_id)
    )`.execute(db);
  await sql`CREATE INDEX payment_list_entries_household_idx ON payment_list_entries (household_id)`.execute(db);

  await sql`
    CREATE TABLE list_releases (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      list_id     bigint NOT NULL REFERENCES payment_lists (id),
      partner_id  text NOT NULL REFERENCES partners (id),
      purpose     text NOT NULL CHECK (purpose <> ''),
      expires_on  date NOT NULL,
      fields      text[] NOT NULL,
      pseudonymised boolean NOT NULL,
      content_sha256 text NOT NULL,
      released_by text NOT NULL,
      released_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (list_id, partner_id)
    )`.execute(db);

  // The pseudonymous id each household has in one release: HMAC(server secret, partner, registry id),
  // computed once at release so that exports and reconciliation never need the secret again.
  await sql`
    CREATE TABLE release_ids (
      release_id      bigint NOT NULL REFERENCES list_releases (id),
      household_id    bigint NOT NULL REFERENCES households (id),
      pseudonymous_id text NOT NULL,
      PRIMARY KEY (release_id, household_id),
      UNIQUE (release_id, pseudonymous_id)
    )`.execute(db);

  // Server-side settings the engine generates itself (e.g. the pseudonym secret when none is configured).
  await sql`
    CREATE TABLE engine_settings (
      name       text PRIMARY KEY,
      value      text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  // What a partner reported per row: paid or failed with a reason. The latest report per household counts.
  await sql`
    CREATE TABLE payment_statuses (
      list_id      bigint NOT NULL REFERENCES payment_lists (id),
      household_id bigint NOT NULL REFERENCES households (id),
      release_id   bigint NOT NULL REFERENCES list_releases (id),
      status       text NOT NULL CHECK (status IN ('paid', 'failed')),
      reason       text,
      amount       numeric(14, 2) NOT NULL,
      -- When and with what reference the partner says it paid (as reported; optional).
      paid_at      timestamptz,
      reference    text,
      reported_at  timestamptz NOT NULL DEFAULT now(),
      reported_in  text NOT NULL,
      PRIMARY KEY (list_id, household_id),
      CHECK (status = 'paid' OR reason IS NOT NULL)
    )`.execute(db);

  // An approved list never changes: its entries and areas are frozen, and its content columns too.
  await sql`
    CREATE FUNCTION payment_list_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      list_status text;
    BEGIN
      SELECT status INTO list_status FROM payment_lists WHERE id = COALESCE(NEW.list_id, OLD.list_id);
      IF list_status IS NOT NULL AND list_status <> 'draft' THEN
        RAISE EXCEPTION 'payment list % is %: its entries cannot change', COALESCE(NEW.list_id, OLD.list_id), list_status;
      END IF;
      RETURN COALESCE(NEW, OLD);
    END $$`.execute(db);
  for (const table of ['payment_list_entries', 'payment_list_areas']) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_frozen`)} BEFORE INSERT OR UPDATE OR DELETE ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION payment_list_frozen()`.execute(db);
  }
  await sql`
    CREATE FUNCTION payment_lists_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN RAISE EXCEPTION 'payment list % is %: it cannot be deleted', OLD.id, OLD.status; END IF;
        RETURN OLD;
      END IF;
      IF OLD.status <> 'draft' AND (
           NEW.rule_version_id IS DISTINCT FROM OLD.rule_version_id OR NEW.component IS DISTINCT FROM OLD.component
        OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.programme_code IS DISTINCT FROM OLD.programme_code
        OR NEW.cycle IS DISTINCT FROM OLD.cycle
        OR NEW.currency IS DISTINCT FROM OLD.currency OR NEW.households IS DISTINCT FROM OLD.households
        OR NEW.total_amount IS DISTINCT FROM OLD.total_amount OR NEW.excluded IS DISTINCT FROM OLD.excluded
        OR NEW.cuts IS DISTINCT FROM OLD.cuts OR NEW.generated_by IS DISTINCT FROM OLD.generated_by
        OR NEW.generated_at IS DISTINCT FROM OLD.generated_at OR NEW.content_sha256 IS DISTINCT FROM OLD.content_sha256) THEN
        RAISE EXCEPTION 'payment list % is %: it cannot be regenerated or edited', OLD.id, OLD.status;
      END IF;
      IF OLD.status IN ('closed', 'cancelled') AND NEW.status <> OLD.status THEN
        RAISE EXCEPTION 'payment list % is %', OLD.id, OLD.status;
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER payment_lists_guard BEFORE UPDATE OR DELETE ON payment_lists
    FOR EACH ROW EXECUTE FUNCTION payment_lists_guard()`.execute(db);

  // The audit log: every generation, approval, release, export, download and reconciliation.
  // Each row's hash covers its content and the previous row's hash; the database refuses edits.
  await sql`
    CREATE TABLE audit_log (
      id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at         timestamptz NOT NULL DEFAULT now(),
      actor      text NOT NULL,
      action     text NOT NULL,
      subject    text NOT NULL,
      details    jsonb NOT NULL DEFAULT '{}',
      prev_hash  text NOT NULL,
      hash       text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
    )`.execute(db);
  await sql`CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION append_only()`.execute(db);
  // Row triggers do not see TRUNCATE: refuse it on every append-only table.
  for (const table of ['audit_log', 'activation_changes', 'gate_confirmations']) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${sql.table(table)}
      FOR EACH STATEMENT EXECUTE FUNCTION append_only()`.execute(db);
  }
}
