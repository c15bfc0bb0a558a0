import { sql, type Kysely } from 'kysely';

/**
 * Rule versions: every distinct content of a rule file (by its sha256) is a version. Draft →
 * approved (by someone other than its author) → retired. What a version says never changes: the
 * database refuses to alter its definition or hash.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE rule_versions (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      rule_id     text NOT NULL,
      hash        text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
      definition  jsonb NOT NULL,
      file        text NOT NULL,
      status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'retired')),
      created_by  text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      approved_by text,
      approved_at timestamptz,
      retired_by  text,
      retired_at  timestamptz,
      UNIQUE (rule_id, hash),
      CHECK (approved_by IS NULL OR approved_by <> created_by)
    )`.execute(db);
  // At most one approved version per rule.
  await sql`CREATE UNIQUE INDEX rule_versions_one_approved ON rule_versions (rule_id) WHERE status = 'approved'`.execute(db);
  await sql`
    CREATE FUNCTION rule_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.definition IS DISTINCT FROM OLD.definition OR NEW.hash IS DISTINCT FROM OLD.hash
         OR NEW.rule_id IS DISTINCT FROM OLD.rule_id OR NEW.created_by IS DISTINCT FROM OLD.created_by THEN
        RAISE EXCEPTION 'rule version % of % cannot be changed: an edit is a new version', OLD.hash, OLD.rule_id;
      END IF;
      IF OLD.status = 'retired' AND NEW.status <> 'retired' THEN
        RAISE EXCEPTION 'rule version % of % is retired', OLD.hash, OLD.rule_id;
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER rule_versions_immutable BEFORE UPDATE ON rule_versions
    FOR EACH ROW EXECUTE FUNCTION rule_versions_immutable()`.execute(db);
}
