import type { ColumnType, Generated } from 'kysely';

/** Geometry columns travel as hex EWKB; read them with ST_AsGeoJSON when a shape is needed. */
type Geometry = string;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface AdminAreasTable {
  pcode: string;
  name: string;
  level: number;
  parent_pcode: string | null;
  iso3: string | null;
  geom: Geometry;
  repaired: Generated<boolean>;
  imported_at: Timestamp;
}

/** `admin_areas` cut with ST_Subdivide into small polygons, so point matching stays fast. */
export interface AdminAreaPartsTable {
  pcode: string;
  level: number;
  geom: Geometry;
}

/** Closure of the P-code hierarchy: every area with each of its ancestors (and itself, depth 0). */
export interface AdminAreaAncestorsTable {
  pcode: string;
  ancestor_pcode: string;
  depth: number;
}

export interface ProgrammesTable {
  code: string;
  name: string;
  currency: string;
  base_amount: number;
  frequency: 'once' | 'weekly' | 'monthly' | 'bimonthly' | 'quarterly';
  created_at: Timestamp;
}

export interface HouseholdsTable {
  id: Generated<number>;
  registry_id: string;
  admin_pcode: string;
  /** The partition key: the first-level admin area the household was first registered in; never changes (migration 0020). */
  region: string;
  location: Geometry | null;
  size: number | null;
  pmt_score: number | null;
  payment_channel: string | null;
  payment_account: string | null;
  attributes: ColumnType<Record<string, string>, string | undefined, string>;
  head_first_name: string | null;
  head_last_name: string | null;
  /** YYYY-MM-DD */
  head_birth_date: ColumnType<Date | null, string | null | undefined, string | null>;
  national_id: string | null;
  phone: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RegistryPullsTable {
  id: Generated<number>;
  registry: string;
  kind: 'dci' | 'openimis';
  url: string;
  mode: 'full' | 'delta';
  since: Date | null;
  cursor: Date | null;
  status: Generated<'running' | 'success' | 'failed'>;
  counts: ColumnType<Record<string, number>, string | undefined, string>;
  error: string | null;
  actor: string;
  started_at: Timestamp;
  finished_at: Date | null;
}

export interface EnrolmentsTable {
  household_id: number;
  /** The household's region: enrolments are stored with their household. */
  region: string;
  programme_code: string;
  status: 'active' | 'suspended' | 'exited';
  since: ColumnType<Date, string | undefined, string>;
}

export interface FeedsTable {
  name: string;
  adapter: string;
  url: string;
  schedule: string;
  enabled: boolean;
  stale_after_minutes: number;
  options: ColumnType<Record<string, unknown>, string, string>;
  etag: string | null;
  last_modified: string | null;
  last_run_at: Date | null;
  last_success_at: Date | null;
  last_new_data_at: Date | null;
  last_error_at: Date | null;
  last_error: string | null;
  consecutive_failures: Generated<number>;
}

export interface FeedRunsTable {
  id: Generated<number>;
  feed_name: string | null;
  source: string;
  url: string;
  started_at: Timestamp;
  finished_at: Date | null;
  status: 'running' | 'success' | 'not_modified' | 'failed';
  payloads: Generated<number>;
  duplicates: Generated<number>;
  events_added: Generated<number>;
  versions_added: Generated<number>;
  indicators_added: Generated<number>;
  quarantined: Generated<number>;
  error: string | null;
  runner: Generated<'scheduler' | 'command'>;
}

export interface QuarantineTable {
  id: Generated<number>;
  run_id: number | null;
  payload_id: number | null;
  source: string;
  location: string;
  reason: string;
  record: unknown;
  created_at: Timestamp;
}

export interface AreaCodesTable {
  scheme: string;
  code: string;
  pcode: string;
}

export interface RuleVersionsTable {
  id: Generated<number>;
  rule_id: string;
  hash: string;
  definition: ColumnType<unknown, string, never>;
  file: string;
  status: 'draft' | 'approved' | 'retired';
  created_by: string;
  created_at: Timestamp;
  approved_by: string | null;
  approved_at: Date | null;
  retired_by: string | null;
  retired_at: Date | null;
}

export interface Schema {
  rule_versions: RuleVersionsTable;
  feeds: FeedsTable;
  feed_runs: FeedRunsTable;
  quarantine: QuarantineTable;
  area_codes: AreaCodesTable;
  admin_areas: AdminAreasTable;
  admin_area_parts: AdminAreaPartsTable;
  admin_area_ancestors: AdminAreaAncestorsTable;
  programmes: ProgrammesTable;
  households: HouseholdsTable;
  registry_pulls: RegistryPullsTable;
  enrolments: EnrolmentsTable;
}
