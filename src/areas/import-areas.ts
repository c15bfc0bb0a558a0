import { readFile } from 'node:fs/promises';
import type { Feature, FeatureCollection } from 'geojson';
import { UserError } from '../errors.ts';
import { polygonalProblem } from '../geo/polygonal.ts';
import type { Store, Tx } from '../db/store.ts';

export interface AreaImportOptions {
  level: number;
  /** Property holding the P-code; default `ADM{level}_PCODE`. */
  pcodeField?: string;
  /** Property holding the name; default `ADM{level}_EN`, then `ADM{level}_NAME`. */
  nameField?: string;
  /** Property holding the parent's P-code; default `ADM{level-1}_PCODE` from level 2 down. */
  parentField?: string;
  /** ISO 3166-1 alpha-3; default a property `ISO3`/`iso3`, else the parent's. */
  iso3?: string;
}

export interface AreaImportReport {
  level: number;
  features: number;
  /** The P-codes the file held, in file order. */
  pcodes: string[];
  inserted: number;
  updated: number;
  /** Areas whose geometry PostGIS found invalid and repaired, with the reason it gave. */
  repaired: { pcode: string; reason: string }[];
}

interface AreaRow {
  index: number;
  pcode: string;
  name: string;
  parentPcode: string | null;
  iso3: string | null;
  geojson: string;
}

/**
 * Imports a COD-AB style GeoJSON FeatureCollection of one admin level. Every feature is checked
 * first (an error names the feature index, P-code and field); then, in one transaction,
 * geometries are repaired with ST_MakeValid, parents checked, rows upserted by P-code, and the
 * subdivided parts and ancestor closure rebuilt. Any error leaves the database untouched.
 *
 * ```ts
 * await importAreas(store, 'ken_adm2.json', { level: 2 })
 * ```
 */
export async function importAreas(store: Store, file: string, options: AreaImportOptions): Promise<AreaImportReport> {
  const collection = await readFeatureCollection(file);
  const rows = featuresToRows(file, collection, options);
  return store.transaction((tx) => upsertAreas(tx, file, rows, options.level));
}

async function readFeatureCollection(file: string): Promise<FeatureCollection> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(`${file}: cannot read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new UserError(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  const collection = parsed as FeatureCollection;
  if (!collection || collection.type !== 'FeatureCollection' || !Array.isArray(collection.features)) {
    throw new UserError(`${file}: not a GeoJSON FeatureCollection`);
  }
  if (collection.features.length === 0) throw new UserError(`${file}: the FeatureCollection has no features`);
  return collection;
}

function featuresToRows(file: string, collection: FeatureCollection, options: AreaImportOptions): AreaRow[] {
  const { level } = options;
  if (!Number.isInteger(level) || level < 0 || level > 6) throw new UserError(`--level must be 0..6, got ${level}`);
  const pcodeField = options.pcodeField ?? `ADM${level}_PCODE`;
  const nameFields = options.nameField ? [options.nameField] : [`ADM${level}_EN`, `ADM${level}_NAME`, `ADM${level}_REF`];
  const parentField = options.parentField ?? (level >= 2 ? `ADM${level - 1}_PCODE` : undefined);

  const problems: string[] = [];
  const rows: AreaRow[] = [];
  const firstIndexOf = new Map<string, number>();
  collection.features.forEach((feature: Feature, index) => {
    const props = (feature?.properties ?? {}) as Record<string, unknown>;
    const pcode = text(props[pcodeField]);
    const where = `feature ${index}${pcode ? ` (${pcode})` : ''}`;
    const problem = (message: string) => problems.push(`${file}: ${where}: ${message}`);
    if (!pcode) return problem(`field ${pcodeField} is missing or empty`);
    const seen = firstIndexOf.get(pcode);
    if (seen !== undefined) return problem(`P-code ${pcode} already used by feature ${seen}`);
    firstIndexOf.set(pcode, index);
    const name = nameFields.map((f) => text(props[f])).find(Boolean);
    if (!name) return problem(`field ${nameFields.join(' / ')} is missing or empty`);
    let parentPcode: string | null = null;
    if (parentField) {
      parentPcode = text(props[parentField]);
      if (!parentPcode) return problem(`field ${parentField} (the parent P-code) is missing or empty`);
    }
    const geometryProblem = polygonalProblem(feature.geometry);
    if (geometryProblem) return problem(`geometry: ${geometryProblem}`);
    const iso3 = options.iso3 ?? (text(props.ISO3) || text(props.iso3) || null);
    rows.push({ index, pcode, name, parentPcode, iso3, geojson: JSON.stringify(feature.geometry) });
  });
  if (problems.length > 0) {
    throw new UserError(`${file}: ${problems.length} feature(s) are invalid; nothing was imported`, problems);
  }
  return rows;
}

const text = (value: unknown): string =>
  typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';

async function upsertAreas(tx: Tx, file: string, rows: AreaRow[], level: number): Promise<AreaImportReport> {
  const { raw } = tx;
  // One boundary import at a time: parts and the ancestor closure are rebuilt wholesale.
  await raw.query(`SELECT pg_advisory_xact_lock(hashtext('asp-areas-import'))`);
  await raw.query(`
    CREATE TEMP TABLE area_import (
      idx int, pcode text, name text, parent_pcode text, iso3 text, geojson text,
      geom geometry, valid_reason text
    ) ON COMMIT DROP`);
  for (let start = 0; start < rows.length; start += 200) {
    const batch = rows.slice(start, start + 200);
    await raw.query(
      `INSERT INTO area_import (idx, pcode, name, parent_pcode, iso3, geojson)
       SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
      [
        batch.map((r) => r.index),
        batch.map((r) => r.pcode),
        batch.map((r) => r.name),
        batch.map((r) => r.parentPcode),
        batch.map((r) => r.iso3),
        batch.map((r) => r.geojson),
      ],
    );
  }
  await raw.query(`UPDATE area_import SET geom = ST_Multi(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)))`);
  await raw.query(`
    UPDATE area_import
       SET valid_reason = ST_IsValidReason(geom),
           geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3))
     WHERE NOT ST_IsValid(geom)`);

  const problems = await raw.query<{ idx: number; pcode: string; message: string }>(
    `
    SELECT i.idx, i.pcode, 'geometry is empty after repair (' || i.valid_reason || ')' AS message
      FROM area_import i WHERE ST_IsEmpty(i.geom)
    UNION ALL
    SELECT i.idx, i.pcode, 'parent P-code ' || i.parent_pcode || ' does not exist (import the level above first)'
      FROM area_import i
     WHERE i.parent_pcode IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM admin_areas a WHERE a.pcode = i.parent_pcode AND a.level < $1)
    UNION ALL
    SELECT i.idx, i.pcode, 'P-code already exists at level ' || a.level || ', not ' || $1
      FROM area_import i JOIN admin_areas a ON a.pcode = i.pcode AND a.level <> $1
    ORDER BY 1`,
    [level],
  );
  if (problems.rows.length > 0) {
    const details = problems.rows.map((p) => `${file}: feature ${p.idx} (${p.pcode}): ${p.message}`);
    throw new UserError(`${file}: ${details.length} feature(s) cannot be imported; nothing was imported`, details);
  }

  const counts = await raw.query<{ inserted: number; updated: number }>(
    `
    WITH upserted AS (
      INSERT INTO admin_areas AS a (pcode, name, level, parent_pcode, iso3, geom, repaired, imported_at)
      SELECT i.pcode, i.name, $1, i.parent_pcode,
             coalesce(i.iso3, (SELECT p.iso3 FROM admin_areas p WHERE p.pcode = i.parent_pcode)),
             i.geom, i.valid_reason IS NOT NULL, now()
        FROM area_import i
      ON CONFLICT (pcode) DO UPDATE
         SET name = excluded.name, parent_pcode = excluded.parent_pcode, iso3 = excluded.iso3,
             geom = excluded.geom, repaired = excluded.repaired, imported_at = excluded.imported_at
      RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated
      FROM upserted`,
    [level],
  );

  await raw.query(`DELETE FROM admin_area_parts WHERE pcode IN (SELECT pcode FROM area_import)`);
  await raw.query(`
    INSERT INTO admin_area_parts (pcode, level, geom)
    SELECT a.pcode, a.level, (ST_Dump(ST_Subdivide(a.geom, 256))).geom
      FROM admin_areas a WHERE a.pcode IN (SELECT pcode FROM area_import)`);
  await rebuildAncestors(tx);

  const repaired = await raw.query<{ pcode: string; reason: string }>(
    `SELECT pcode, valid_reason AS reason FROM area_import WHERE valid_reason IS NOT NULL ORDER BY idx`,
  );
  return {
    level,
    features: rows.length,
    pcodes: rows.map((r) => r.pcode),
    inserted: counts.rows[0].inserted,
    updated: counts.rows[0].updated,
    repaired: repaired.rows,
  };
}

/** Recomputes the area → ancestor closure; areas number in the thousands, so a full rebuild is cheap. */
async function rebuildAncestors({ raw }: Tx): Promise<void> {
  await raw.query(`DELETE FROM admin_area_ancestors`);
  await raw.query(`
    INSERT INTO admin_area_ancestors (pcode, ancestor_pcode, depth)
    WITH RECURSIVE chain (pcode, ancestor_pcode, depth) AS (
      SELECT pcode, pcode, 0 FROM admin_areas
      UNION ALL
      SELECT c.pcode, a.parent_pcode, c.depth + 1
        FROM chain c JOIN admin_areas a ON a.pcode = c.ancestor_pcode
       WHERE a.parent_pcode IS NOT NULL AND c.depth < 10
    )
    SELECT pcode, ancestor_pcode, depth FROM chain`);
}
