import { sql, type Kysely } from 'kysely';

/**
 * `households`, `enrolments` and `payment_list_entries` partitioned by region: the household's
 * first-level admin area (its level-1 ancestor, or its own area where it has none), hashed into
 * `REGION_PARTITIONS` partitions (docs/scaling.md §2). A hash needs no partition to be created when
 * admin areas are imported, and it is the same key Citus distributes on.
 *
 * The region is where a household is stored, never a reason it is selected: no query narrows a
 * match by region (a point outside its admin area's region would be left out). It is the region
 * the household was first registered in and never changes, not when the household moves to an area
 * of another region, nor when boundaries are imported again. So every row about a household (its
 * enrolments, its entries in any list, decided or not) has the household's region, and a join on
 * the household may add equality on region without changing its result: what lets PostgreSQL
 * look in one partition, and Citus on one node.
 *
 * What a partitioned table cannot do, and what stands in for it:
 * - a primary key or unique constraint must contain the region. `households` is unique on
 *   (id, region) and (registry_id, region); a statement trigger refuses a registry id that another
 *   region already holds, with the error a unique constraint gives. Writers of households take
 *   turns on the registry import's advisory lock, so the look sees every committed row. Ids come
 *   from the identity sequence, which a writer cannot override without saying so.
 * - a foreign key to a partitioned table checks each row on its own, through partition routing:
 *   measured, inserting 200,000 enrolments took 23 s with one, against 2 s before partitioning.
 *   Enrolments and list entries carry their household's region and are checked once per statement
 *   (the entries' reference since 0019); an enrolment goes with its household when it is deleted.
 *   The tables that record what happened to a household (release ids, payment statuses, named
 *   lists, disbursements) keep only `household_id`, checked once per statement too.
 */
export const REGION_PARTITIONS = 8;

const REFERENCING = ['enrolments', 'payment_list_entries', 'release_ids', 'payment_statuses', 'named_list_households', 'disbursement_items'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION admin_region(area text) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
      SELECT coalesce((SELECT y.ancestor_pcode FROM admin_area_ancestors y JOIN admin_areas r ON r.pcode = y.ancestor_pcode
                        WHERE y.pcode = area AND r.level = 1 ORDER BY y.depth LIMIT 1), area)
    $$`.execute(db);

  for (const table of REFERENCING.filter((t) => t !== 'payment_list_entries')) {
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.raw(`${table}_household_id_fkey`)}`.execute(db);
  }

  // households: a copy partitioned, the same identity sequence position, then the keys.
  await partitionedCopy(db, 'households', sql`
    SELECT h.*, coalesce(r.region, h.admin_pcode) FROM households h
      LEFT JOIN (SELECT pcode, admin_region(pcode) AS region FROM admin_areas) r ON r.pcode = h.admin_pcode`, true);
  await sql`ALTER TABLE households ADD CONSTRAINT households_pkey PRIMARY KEY (id, region)`.execute(db);
  await sql`ALTER TABLE households ADD CONSTRAINT households_registry_id_key UNIQUE (registry_id, region)`.execute(db);
  await sql`ALTER TABLE households ADD CONSTRAINT households_admin_pcode_fkey FOREIGN KEY (admin_pcode) REFERENCES admin_areas (pcode)`.execute(db);
  await sql`CREATE INDEX households_location_gix ON households USING gist (location)`.execute(db);
  await sql`CREATE INDEX households_admin_pcode_idx ON households (admin_pcode)`.execute(db);

  await partitionedCopy(db, 'enrolments', sql`SELECT e.*, h.region FROM enrolments e JOIN households h ON h.id = e.household_id`);
  await sql`ALTER TABLE enrolments ADD CONSTRAINT enrolments_pkey PRIMARY KEY (household_id, programme_code, region)`.execute(db);
  await sql`ALTER TABLE enrolments ADD CONSTRAINT enrolments_programme_code_fkey FOREIGN KEY (programme_code) REFERENCES programmes (code)`.execute(db);
  await sql`CREATE INDEX enrolments_programme_idx ON enrolments (programme_code, status)`.execute(db);

  // A list entry keeps the region its household had when the list was generated, as it keeps the
  // household's other details.
  await partitionedCopy(db, 'payment_list_entries', sql`
    SELECT e.*, coalesce(h.region, admin_region(e.admin_pcode)) FROM payment_list_entries e LEFT JOIN households h ON h.id = e.household_id`);
  await sql`ALTER TABLE payment_list_entries ADD CONSTRAINT payment_list_entries_pkey PRIMARY KEY (list_id, household_id, region)`.execute(db);
  await sql`ALTER TABLE payment_list_entries ADD CONSTRAINT payment_list_entries_list_id_fkey
    FOREIGN KEY (list_id) REFERENCES payment_lists (id) ON DELETE CASCADE`.execute(db);
  await sql`ALTER TABLE payment_list_entries ADD CONSTRAINT payment_list_entries_activation_id_fkey
    FOREIGN KEY (activation_id) REFERENCES activations (id)`.execute(db);
  await sql`CREATE INDEX payment_list_entries_household_idx ON payment_list_entries (household_id)`.execute(db);
  // The freeze of a decided list's entries (0019), on the new table.
  await sql`CREATE TRIGGER payment_list_entries_inserted_frozen AFTER INSERT ON payment_list_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_rows_frozen()`.execute(db);
  await sql`CREATE TRIGGER payment_list_entries_updated_frozen AFTER UPDATE ON payment_list_entries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_rows_frozen()`.execute(db);
  await sql`CREATE TRIGGER payment_list_entries_deleted_frozen AFTER DELETE ON payment_list_entries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_rows_frozen()`.execute(db);

  await householdsUniqueNationally(db);
  // A household's region never changes (see above): rows about it carry it, and decided lists'
  // entries could not follow.
  await sql`
    CREATE FUNCTION households_region_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'household % is stored in region %: its region does not change (its admin_pcode does)', OLD.id, OLD.region
        USING ERRCODE = 'integrity_constraint_violation';
    END $$`.execute(db);
  await sql`CREATE TRIGGER households_region_fixed BEFORE UPDATE OF region ON households
    FOR EACH ROW WHEN (OLD.region IS DISTINCT FROM NEW.region) EXECUTE FUNCTION households_region_fixed()`.execute(db);
  await householdReferences(db);
}

/**
 * Replaces `table` by a copy partitioned by hash of a new last column, `region`, filled by `rows`
 * (the old table's columns in order, then the region). Keys and indexes are the caller's, built
 * once over the copied rows.
 */
async function partitionedCopy(db: Kysely<any>, table: string, rows: ReturnType<typeof sql>, identity = false): Promise<void> {
  const copy = `${table}_partitioned`;
  await sql`CREATE TABLE ${sql.table(copy)} (
      LIKE ${sql.table(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE ${sql.raw(identity ? 'INCLUDING IDENTITY' : '')},
      region text NOT NULL CONSTRAINT ${sql.raw(`${table}_region_check`)} CHECK (region <> '')
    ) PARTITION BY HASH (region)`.execute(db);
  for (let remainder = 0; remainder < REGION_PARTITIONS; remainder++) {
    await sql`CREATE TABLE ${sql.table(`${table}_r${remainder}`)} PARTITION OF ${sql.table(copy)}
      FOR VALUES WITH (MODULUS ${sql.lit(REGION_PARTITIONS)}, REMAINDER ${sql.lit(remainder)})`.execute(db);
  }
  await sql`INSERT INTO ${sql.table(copy)} ${sql.raw(identity ? 'OVERRIDING SYSTEM VALUE' : '')} ${rows}`.execute(db);
  if (identity) {
    // The next id continues where the old sequence was, whatever was deleted since.
    await sql`SELECT setval(pg_get_serial_sequence(${copy}, 'id'), s.last_value, s.is_called)
                FROM ${sql.raw(`${table}_id_seq`)} s`.execute(db);
  }
  await sql`DROP TABLE ${sql.table(table)}`.execute(db);
  await sql`ALTER TABLE ${sql.table(copy)} RENAME TO ${sql.table(table)}`.execute(db);
  if (identity) await sql`ALTER SEQUENCE ${sql.raw(`${copy}_id_seq`)} RENAME TO ${sql.raw(`${table}_id_seq`)}`.execute(db);
}

/** A registry id held once in the whole registry, across regions. */
async function householdsUniqueNationally(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION households_unique_nationally() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      found_key text;
      nestloop text := current_setting('enable_nestloop');
    BEGIN
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'households are written under READ COMMITTED only (this transaction is %)', current_setting('transaction_isolation')
          USING ERRCODE = 'serialization_failure';
      END IF;
      -- Writers take turns: a household another writer is adding is committed before this looks.
      PERFORM pg_advisory_xact_lock(hashtext('asp-engine:registry-import'));
      -- A few rows (a delta) are looked up by index; many (a first load, whose rows the planner's
      -- statistics do not know yet) in one hash join, not by a probe of every partition per row
      -- (measured: 5.4 s for 200,000 rows). Planned here, with the setting of this statement.
      IF (SELECT count(*) FROM new_rows) > 10000 THEN PERFORM set_config('enable_nestloop', 'off', true); END IF;
      EXECUTE 'SELECT n.registry_id FROM new_rows n JOIN households h ON h.registry_id = n.registry_id AND h.region <> n.region LIMIT 1'
        INTO found_key;
      PERFORM set_config('enable_nestloop', nestloop, true);
      IF found_key IS NOT NULL THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "households_registry_id_key"'
          USING ERRCODE = 'unique_violation', DETAIL = format('Key (registry_id)=(%s) already exists in another region.', found_key);
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER households_inserted_unique AFTER INSERT ON households
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION households_unique_nationally()`.execute(db);
  await sql`CREATE TRIGGER households_updated_unique AFTER UPDATE ON households
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION households_unique_nationally()`.execute(db);
}

/**
 * The references to a household from the tables that record what happened to it, checked once
 * per statement with a foreign key's guarantee and error (SQLSTATE 23503): a row names a household
 * that exists, and a household named anywhere cannot be deleted, renumbered or truncated away.
 */
async function householdReferences(db: Kysely<any>): Promise<void> {
  const tables = sql.raw(`ARRAY[${REFERENCING.map((t) => `'${t}'`).join(', ')}]`);
  await sql`
    CREATE OR REPLACE FUNCTION payment_list_household_reference() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      household bigint;
      referencing text;
      tables text[] := ${tables};
    BEGIN
      -- A foreign key also sees rows committed after the snapshot; this check sees only the
      -- statement's snapshot, which under READ COMMITTED is fresh and under a longer one is not.
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'rows naming a household, and the households they name, are written under READ COMMITTED only (this transaction is %)', current_setting('transaction_isolation')
          USING ERRCODE = 'serialization_failure';
      END IF;
      -- Fired on a table that names households, or (argument 'households') on households itself,
      -- whose row triggers fire on the partition, under the partition's name.
      IF TG_NARGS = 0 AND TG_TABLE_NAME IN ('enrolments', 'payment_list_entries') THEN
        -- Stored with its household, in its region: joins on the household rely on it.
        SELECT n.household_id INTO household FROM new_rows n
         WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.id = n.household_id AND h.region = n.region) LIMIT 1;
      ELSIF TG_NARGS = 0 THEN
        SELECT n.household_id INTO household FROM new_rows n
         WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.id = n.household_id) LIMIT 1;
      END IF;
      IF TG_NARGS = 0 THEN
        IF FOUND THEN
          RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%_household_id_fkey"', TG_TABLE_NAME, TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (household_id)=(%s) is not present in table "households".', household);
        END IF;
        RETURN NULL;
      END IF;
      -- Waits for rows being written to commit (SHARE conflicts with their inserts), then looks.
      FOREACH referencing IN ARRAY tables LOOP
        EXECUTE format('LOCK TABLE %I IN SHARE MODE', referencing);
      END LOOP;
      -- A deleted household's enrolments go with it (as ON DELETE CASCADE did); the rest must not name it.
      IF TG_OP = 'DELETE' THEN
        DELETE FROM enrolments e USING old_rows o WHERE e.household_id = o.id AND e.region = o.region;
      END IF;
      FOREACH referencing IN ARRAY tables LOOP
        IF TG_OP = 'DELETE' THEN
          EXECUTE format('SELECT r.household_id FROM %I r JOIN old_rows o ON o.id = r.household_id LIMIT 1', referencing) INTO household;
        ELSE
          EXECUTE format('SELECT r.household_id FROM %I r WHERE r.household_id = $1 LIMIT 1', referencing) INTO household USING OLD.id;
        END IF;
        IF household IS NOT NULL THEN
          RAISE EXCEPTION 'update or delete on table "households" violates foreign key constraint "%_household_id_fkey" on table "%"', referencing, referencing
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', household, referencing);
        END IF;
      END LOOP;
      RETURN NULL;
    END $$`.execute(db);
  for (const table of REFERENCING) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_inserted_households`)} AFTER INSERT ON ${sql.table(table)}
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_household_reference()`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_updated_households`)} AFTER UPDATE ON ${sql.table(table)}
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_household_reference()`.execute(db);
  }
  await sql`CREATE TRIGGER households_named_kept_on_delete AFTER DELETE ON households
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_list_household_reference('households')`.execute(db);
  await sql`CREATE TRIGGER households_named_kept_on_renumber AFTER UPDATE OF id ON households
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION payment_list_household_reference('households')`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION households_listed_kept_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      referencing text;
      named boolean;
    BEGIN
      FOREACH referencing IN ARRAY ${tables} LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', referencing) INTO named;
        IF named THEN
          RAISE EXCEPTION 'cannot truncate table "households": enrolments, lists, releases, payments or disbursements refer to its households'
            USING ERRCODE = 'foreign_key_violation';
        END IF;
      END LOOP;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER households_named_kept_on_truncate BEFORE TRUNCATE ON households
    FOR EACH STATEMENT EXECUTE FUNCTION households_listed_kept_on_truncate()`.execute(db);
}
