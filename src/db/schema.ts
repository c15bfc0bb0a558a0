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
  location: Geometry | null;
  size: number | null;
  pmt_score: number | null;
  payment_channel: string | null;
  payment_account: string | null;
  attributes: ColumnType<Record<string, string>, string | undefined, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EnrolmentsTable {
  household_id: number;
  programme_code: string;
  status: 'active' | 'suspended' | 'exited';
  since: ColumnType<Date, string | undefined, string>;
}

export interface Schema {
  admin_areas: AdminAreasTable;
  admin_area_parts: AdminAreaPartsTable;
  admin_area_ancestors: AdminAreaAncestorsTable;
  programmes: ProgrammesTable;
  households: HouseholdsTable;
  enrolments: EnrolmentsTable;
}
