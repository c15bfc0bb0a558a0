import { UserError } from '../errors.ts';
import { MAX_KEY_BYTES } from '../db/storable.ts';
import type { Tx } from '../db/store.ts';
import type { CanonicalColumn } from './columns.ts';
import { isEmpty } from './first-load.ts';

/**
 * The one path by which households enter the registry, whatever they came from (a CSV file, a
 * DCI or openIMIS pull): rows land as text in a temporary staging table `registry_import`
 * (record, c1, c2, ...), are checked there in SQL into `registry_problems`, and the good ones are
 * upserted by `registry_id` with `INSERT … SELECT`. Households never pass through Node one by one.
 */
export interface Staged {
  /** Column names as the source spells them, in staging order (c1 is names[0]). */
  names: string[];
  /** Canonical column → staging column (c1, c2, ...), for the columns the source gives. */
  canonical: Partial<Record<CanonicalColumn, string>>;
  /** Extra CSV column name → staging column; each becomes an attribute. */
  extra: [string, string][];
  /** A staging column holding a jsonb object of attributes (registry records), if any. */
  attributesColumn?: string;
  /** A staging column holding 'active' or 'exited' for the pull's programme (registry records), if any. */
  enrolmentColumn?: string;
}

// Decimal numbers that fit a double (no 400-digit integers, no 1e999): a value out of range is
// a row problem, never a failed cast that aborts the whole import.
const NUMBER = String.raw`^\s*[-+]?([0-9]{1,15}(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,2})?\s*$`;
const WHOLE = String.raw`^\s*[0-9]{1,9}\s*$`;
// Written as a decimal number, of any size; with the length cap below, a cast to numeric cannot fail.
const DECIMAL = String.raw`^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,4})?\s*$`;
const ISO_DATE = String.raw`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`;
/** A PMT or wealth score is a modest number: beyond this it is a typing or export mistake, not a score. */
export const PMT_SCORE_LIMIT = 1e15;

/** The text columns of the head and their identifiers: each held to the limit of an indexed identifier. */
const PERSON_TEXT: CanonicalColumn[] = ['head_first_name', 'head_last_name', 'national_id', 'phone'];

export async function createProblemsTable({ raw }: Tx): Promise<void> {
  await raw.query(`
    CREATE TEMP TABLE registry_problems (record bigint NOT NULL, col text NOT NULL, message text NOT NULL, other_record bigint)
    ON COMMIT DROP`);
}

export async function countRows({ raw }: Tx): Promise<number> {
  const result = await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM registry_import');
  return result.rows[0].n;
}

/** `nullif(trim(cN), '')` for a column, or NULL when the source does not have it. */
function value(staged: Staged, column: CanonicalColumn): string {
  const staging = staged.canonical[column];
  return staging ? `nullif(trim(i.${staging}), '')` : 'NULL::text';
}

export async function findProblems({ raw }: Tx, staged: Staged): Promise<void> {
  const v = (c: CanonicalColumn) => value(staged, c);
  const hasLocation = Boolean(staged.canonical.lat);
  const tooLong = (c: CanonicalColumn) =>
    `CASE WHEN octet_length(${v(c)}) > ${MAX_KEY_BYTES}
          THEN 'is ' || octet_length(${v(c)}) || ' bytes long; at most ${MAX_KEY_BYTES} (a value that long is not plausible)' END`;
  // Checks that need only the row itself: [column, message or NULL]. Rows are filtered on the
  // checks first and expanded into one problem per column only when bad: the expansion per row
  // costs more than the checks (measured: 28 s → 8 s for 1M rows).
  const rowChecks: [string, string][] = [
    // registry_id is unique-indexed: held to the limit of every indexed identifier.
    ['registry_id', `CASE WHEN ${v('registry_id')} IS NULL THEN 'is required'
               WHEN octet_length(${v('registry_id')}) > ${MAX_KEY_BYTES}
               THEN 'is ' || octet_length(${v('registry_id')}) || ' bytes long; at most ${MAX_KEY_BYTES} (an identifier that long is not plausible)' END`],
    ['size', `CASE WHEN ${v('size')} IS NOT NULL AND CASE WHEN ${v('size')} ~ '${WHOLE}' THEN ${v('size')}::int < 1 ELSE true END
               THEN '"' || ${v('size')} || '" is not a whole number of at least 1' END`],
    ['pmt_score', `CASE WHEN ${v('pmt_score')} IS NULL THEN NULL
               WHEN ${v('pmt_score')} !~ '${DECIMAL}' THEN '"' || ${v('pmt_score')} || '" is not a number'
               WHEN length(${v('pmt_score')}) > 1000 OR abs(${v('pmt_score')}::numeric) > ${PMT_SCORE_LIMIT}
                    OR (${v('pmt_score')}::numeric <> 0 AND abs(${v('pmt_score')}::numeric) < ${1 / PMT_SCORE_LIMIT})
               THEN '"' || ${v('pmt_score')} || '" is out of range: a score lies between -1e15 and 1e15 (and is 0 or at least 1e-15 from 0)' END`],
    ['lat', `CASE WHEN ${v('lat')} IS NOT NULL AND CASE WHEN ${v('lat')} ~ '${NUMBER}' THEN abs(${v('lat')}::float8) > 90 ELSE true END
               THEN '"' || ${v('lat')} || '" is not a latitude in decimal degrees (-90..90)' END`],
    ['lon', `CASE WHEN ${v('lon')} IS NOT NULL AND CASE WHEN ${v('lon')} ~ '${NUMBER}' THEN abs(${v('lon')}::float8) > 180 ELSE true END
               THEN '"' || ${v('lon')} || '" is not a longitude in decimal degrees (-180..180)' END`],
    ['lon', `CASE WHEN (${v('lat')} IS NULL) <> (${v('lon')} IS NULL) THEN 'lat and lon must both be given or both be empty' END`],
    ['admin_pcode', `CASE WHEN ${v('admin_pcode')} IS NULL AND (${v('lat')} IS NULL OR ${v('lon')} IS NULL)
               THEN 'is required unless lat and lon are given' END`],
  ];
  if (staged.canonical.head_birth_date) rowChecks.push(['head_birth_date', birthDateCheck(v('head_birth_date'))]);
  for (const c of PERSON_TEXT) if (staged.canonical[c]) rowChecks.push([c, tooLong(c)]);
  await raw.query(`
    INSERT INTO registry_problems (record, col, message)
    SELECT record, p.col, p.message
      FROM (SELECT * FROM registry_import i WHERE ${rowChecks.map(([, check]) => `(${check}) IS NOT NULL`).join(' OR ')}) i,
      LATERAL (VALUES ${rowChecks.map(([col, check]) => `('${col}', ${check})`).join(', ')}) AS p(col, message)
     WHERE p.message IS NOT NULL`);

  if (staged.canonical.admin_pcode) {
    await raw.query(`
      INSERT INTO registry_problems (record, col, message)
      SELECT i.record, 'admin_pcode', 'unknown P-code "' || ${v('admin_pcode')} || '"'
        FROM registry_import i
       WHERE ${v('admin_pcode')} IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM admin_areas a WHERE a.pcode = ${v('admin_pcode')})`);
  }

  await raw.query(`
    INSERT INTO registry_problems (record, col, message, other_record)
    SELECT record, 'registry_id', 'the same registry_id is already', first_record
      FROM (SELECT record, min(record) OVER (PARTITION BY ${v('registry_id')}) AS first_record
              FROM registry_import i WHERE ${v('registry_id')} IS NOT NULL) d
     WHERE record <> first_record`);

  if (staged.canonical.programmes) {
    await raw.query(`
      INSERT INTO registry_problems (record, col, message)
      SELECT i.record, 'programmes', 'unknown programme "' || code || '"'
        FROM registry_import i,
        LATERAL (SELECT DISTINCT trim(c) AS code FROM unnest(string_to_array(${v('programmes')}, ';')) c WHERE trim(c) <> '') codes
       WHERE NOT EXISTS (SELECT 1 FROM programmes p WHERE p.code = codes.code)`);
  }

  // Rows without a P-code but with a valid point get the lowest-level area containing it.
  await raw.query(`CREATE TEMP TABLE registry_located (record bigint PRIMARY KEY, pcode text) ON COMMIT DROP`);
  if (hasLocation) {
    await raw.query(`
      INSERT INTO registry_located (record, pcode)
      SELECT i.record,
             (SELECT p.pcode FROM admin_area_parts p
               WHERE p.level = (SELECT max(level) FROM admin_areas)
                 AND ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(${v('lon')}::float8, ${v('lat')}::float8), 4326))
               ORDER BY p.pcode LIMIT 1)
        FROM registry_import i
       WHERE ${v('admin_pcode')} IS NULL
         AND NOT EXISTS (SELECT 1 FROM registry_problems r WHERE r.record = i.record)`);
    await raw.query(`
      INSERT INTO registry_problems (record, col, message)
      SELECT l.record, 'lat', 'the point (' || ${v('lat')} || ', ' || ${v('lon')} || ') is outside every imported admin area'
        FROM registry_located l JOIN registry_import i USING (record)
       WHERE l.pcode IS NULL`);
  }
  await raw.query(`CREATE INDEX ON registry_problems (record)`);
}

/**
 * A real calendar date written YYYY-MM-DD, not after today. Checked without a cast that could
 * fail (a failed cast would abort the whole import instead of naming the row): the day must lie
 * within its month, whose length comes from the first of the next month.
 */
function birthDateCheck(v: string): string {
  const part = (from: number, length: number) => `substr(${v}, ${from}, ${length})::int`;
  return `CASE WHEN ${v} IS NULL THEN NULL
               WHEN ${v} !~ '${ISO_DATE}' OR ${part(1, 4)} < 1 OR ${part(6, 2)} NOT BETWEEN 1 AND 12
                    OR ${part(9, 2)} NOT BETWEEN 1
                       AND extract(day FROM make_date(${part(1, 4)}, ${part(6, 2)}, 1) + interval '1 month' - interval '1 day')
               THEN '"' || ${v} || '" is not a date written YYYY-MM-DD'
               WHEN ${v}::date > current_date THEN '"' || ${v} || '" is in the future' END`;
}

export interface StagedProblem {
  record: number;
  col: string;
  message: string;
  /** The earlier record a duplicate repeats. */
  other_record: number | null;
}

/**
 * Problems named one by one in a message or report: the first ones, in file order. A file of ten
 * million bad rows must not become ten million strings in Node; the rejects file has every one.
 */
export const PROBLEMS_SHOWN = 1000;

/** The first `PROBLEMS_SHOWN` problems, in file order. */
export async function stagedProblems({ raw }: Tx): Promise<StagedProblem[]> {
  const result = await raw.query<StagedProblem>(
    `SELECT record::int, col, message, other_record::int FROM registry_problems ORDER BY record, col, message LIMIT $1`,
    [PROBLEMS_SHOWN],
  );
  return result.rows;
}

/** How many problems were found, in how many rows (records). */
export async function problemCounts({ raw }: Tx): Promise<{ problems: number; rejected: number }> {
  const result = await raw.query<{ problems: number; rejected: number }>(
    `SELECT count(*)::int AS problems, count(DISTINCT record)::int AS rejected FROM registry_problems`,
  );
  return result.rows[0];
}

/** The line that stands for the problems not named one by one (none when all were). */
export function moreProblems(counts: { problems: number }, shown: number, where: string): string[] {
  const more = counts.problems - shown;
  return more > 0 ? [`and ${more} more problem(s) ${where}`] : [];
}

export async function upsertHouseholds({ raw }: Tx, staged: Staged): Promise<{ inserted: number; updated: number }> {
  const v = (c: CanonicalColumn) => value(staged, c);
  const present = (c: CanonicalColumn) => Boolean(staged.canonical[c]);
  const location = present('lat')
    ? `CASE WHEN ${v('lat')} IS NOT NULL THEN ST_SetSRID(ST_MakePoint(${v('lon')}::float8, ${v('lat')}::float8), 4326) END`
    : 'NULL::geometry';
  const attributes = staged.attributesColumn
    ? `coalesce(jsonb_strip_nulls(i.${staged.attributesColumn}), '{}'::jsonb)`
    : staged.extra.length
      ? `jsonb_strip_nulls(jsonb_object($1::text[], ARRAY[${staged.extra.map(([, s]) => `nullif(trim(i.${s}), '')`).join(', ')}]))`
      : `'{}'::jsonb`;
  const columns: [string, string, boolean][] = [
    // [households column, expression, update it on re-import]
    ['registry_id', v('registry_id'), false],
    ['admin_pcode', `coalesce(${v('admin_pcode')}, l.pcode)`, true],
    ['location', location, present('lat')],
    ['size', `${v('size')}::int`, present('size')],
    ['pmt_score', `${v('pmt_score')}::float8`, present('pmt_score')],
    ['payment_channel', v('payment_channel'), present('payment_channel')],
    ['payment_account', v('payment_account'), present('payment_account')],
    ['head_first_name', v('head_first_name'), present('head_first_name')],
    ['head_last_name', v('head_last_name'), present('head_last_name')],
    ['head_birth_date', `${v('head_birth_date')}::date`, present('head_birth_date')],
    ['national_id', v('national_id'), present('national_id')],
    ['phone', v('phone'), present('phone')],
    ['attributes', attributes, false],
  ];
  const updatable = columns.filter(([, , update]) => update).map(([c]) => c);
  const updates = updatable.map((c) => `${c} = n.${c}`);
  // Attributes merge: a re-import with fewer columns keeps what earlier imports said.
  updates.push('attributes = h.attributes || n.attributes', 'updated_at = now()');
  // A row that would not change is left alone: rewriting it costs four index entries (measured:
  // a 1M re-import of an unchanged file 83 s → 25 s), and a delta pull must touch only what changed.
  const changed = [...updatable.map((c) => `h.${c} IS DISTINCT FROM n.${c}`), 'NOT (h.attributes @> n.attributes)'].join(' OR ');
  const params = !staged.attributesColumn && staged.extra.length ? [staged.extra.map(([name]) => name)] : [];
  // The records to write, with the region (the partition a household is stored in) of each
  // record's area, worked out once per area.
  const incoming = `
    SELECT i.record, ${columns.map(([c, e]) => `${e} AS ${c}`).join(', ')}, coalesce(r.region, ${v('admin_pcode')}, l.pcode) AS region
      FROM registry_import i LEFT JOIN registry_located l USING (record)
      LEFT JOIN (SELECT pcode, admin_region(pcode) AS region FROM admin_areas) r ON r.pcode = coalesce(${v('admin_pcode')}, l.pcode)
     WHERE NOT EXISTS (SELECT 1 FROM registry_problems p WHERE p.record = i.record)`;
  // Two statements where one upsert was: a partitioned table cannot return `xmax`, which told an
  // upsert's inserts from its updates. A known household is found by its registry id in whatever
  // region it is stored: its region is where it was first registered and does not follow a move
  // (migration 0020). Imports take turns (first-load.ts), so nothing comes between the two.
  // The records are worked out before they meet the registry: a join may otherwise evaluate a
  // cast on a record that has a problem before the problem has filtered it out.
  const updated = !(await isEmpty(raw))
    ? await raw.query(
      `WITH n AS MATERIALIZED (${incoming})
       UPDATE households h SET ${updates.join(', ')} FROM n WHERE h.registry_id = n.registry_id AND (${changed})`,
      params,
    )
    : { rowCount: 0 };
  const inserted = await raw.query(
    `INSERT INTO households (${columns.map(([c]) => c).join(', ')}, region)
     SELECT ${columns.map(([c]) => `n.${c}`).join(', ')}, n.region FROM (${incoming}) n
      WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.registry_id = n.registry_id)
      ORDER BY n.record`,
    params,
  );
  return { inserted: inserted.rowCount, updated: updated.rowCount };
}

/**
 * Enrolments follow the source: each listed programme becomes (or stays) active; with a
 * `programmes` column, the household's other active enrolments are ended ('exited'). A registry
 * record marked 'exited' ends its enrolment in the pull's programme.
 */
export async function upsertEnrolments({ raw }: Tx, staged: Staged, programme: string | undefined): Promise<number> {
  if (!staged.canonical.programmes && !programme) return 0;
  const programmes = value(staged, 'programmes');
  const listed = staged.canonical.programmes
    ? `CASE WHEN ${programmes} IS NULL THEN ARRAY[]::text[]
            ELSE ARRAY(SELECT DISTINCT trim(c) FROM unnest(string_to_array(${programmes}, ';')) c WHERE trim(c) <> '') END`
    : `ARRAY[]::text[]`;
  const exited = staged.enrolmentColumn ? `coalesce(i.${staged.enrolmentColumn} = 'exited', false)` : 'false';
  await raw.query(`
    CREATE TEMP TABLE registry_enrolments ON COMMIT DROP AS
    SELECT h.id AS household_id, h.region,
           ${listed} || CASE WHEN $1::text IS NULL OR ${exited} THEN ARRAY[]::text[] ELSE ARRAY[$1::text] END AS codes,
           ${exited} AS exited
      FROM registry_import i
      JOIN households h ON h.registry_id = ${value(staged, 'registry_id')}
     WHERE NOT EXISTS (SELECT 1 FROM registry_problems p WHERE p.record = i.record)`,
    [programme ?? null],
  );
  const enrolled = await raw.query(`
    INSERT INTO enrolments AS e (household_id, region, programme_code, status, since)
    SELECT DISTINCT r.household_id, r.region, code, 'active', current_date
      FROM registry_enrolments r, unnest(r.codes) code
    ON CONFLICT (household_id, programme_code, region) DO UPDATE SET status = 'active', since = current_date
     WHERE e.status <> 'active'`);
  if (staged.canonical.programmes) {
    await raw.query(`
      UPDATE enrolments e SET status = 'exited'
        FROM registry_enrolments r
       WHERE e.household_id = r.household_id AND e.status = 'active' AND NOT (e.programme_code = ANY (r.codes))`);
  }
  if (staged.enrolmentColumn && programme) {
    await raw.query(
      `UPDATE enrolments e SET status = 'exited'
         FROM registry_enrolments r
        WHERE r.exited AND e.household_id = r.household_id AND e.programme_code = $1 AND e.status <> 'exited'`,
      [programme],
    );
  }
  return enrolled.rowCount;
}

export async function assertProgramme({ raw }: Tx, code: string): Promise<void> {
  const found = await raw.query('SELECT 1 FROM programmes WHERE code = $1', [code]);
  if (found.rows.length === 0) throw new UserError(`--programme ${code}: no such programme (create it with \`asp programmes add\`)`);
}
