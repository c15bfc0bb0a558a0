import { readFile } from 'node:fs/promises';
import type { Geometry } from 'geojson';
import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { polygonalProblem } from '../geo/polygonal.ts';
import { declarationRecordSchema, type DeclarationRecord } from '../rules/schema.ts';

/**
 * Official declarations (a state of calamity, a notified calamity, an official alert): entered by
 * a coordinator with `asp declare`, stored with who recorded them and when. A rule's `declaration`
 * trigger fires in the areas a declaration names, and a `declaration` gate is satisfied by one.
 * Like a feed event, a declaration counts from the moment it was recorded, never before.
 */

export interface DeclarationRow {
  reference: string;
  kind: string;
  hazard: string;
  issuer: string;
  declaredOn: string;
  validUntil: string | null;
  document: DeclarationRecord['document'];
  pcodes: string[];
  drawn: boolean;
  recordedBy: string;
  recordedAt: Date;
}

const COLUMNS = `reference, kind, hazard, issuer, to_char(declared_on, 'YYYY-MM-DD') AS "declaredOn",
  to_char(valid_until, 'YYYY-MM-DD') AS "validUntil", document, pcodes, geom IS NOT NULL AS drawn,
  recorded_by AS "recordedBy", recorded_at AS "recordedAt"`;

/**
 * Checks a declaration (every field; the P-codes must be known areas; a drawn area must be a
 * polygon) and stores it. A reference already recorded is refused: a declaration is not edited,
 * a new one is issued.
 */
export async function recordDeclaration(store: Store, input: unknown, actor: string): Promise<DeclarationRow> {
  if (!actor?.trim()) throw new UserError('say who records the declaration: --by NAME');
  const parsed = declarationRecordSchema.safeParse(input);
  if (!parsed.success) {
    throw new UserError(
      'the declaration is not valid; nothing was recorded',
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(declaration)'}: ${issue.message}`),
    );
  }
  const record = parsed.data;
  const pcodes = 'pcodes' in record.areas ? [...new Set(record.areas.pcodes)] : [];
  const polygon = 'polygon' in record.areas ? (record.areas.polygon as Geometry) : null;
  if (polygon) {
    const problem = polygonalProblem(polygon);
    if (problem) throw new UserError(`declaration ${record.id}: the drawn area is not a usable polygon: ${problem}`);
  }
  return store.transaction(async ({ raw }) => {
    const known = await raw.query<{ pcode: string }>(`SELECT pcode FROM admin_areas WHERE pcode = ANY ($1::text[])`, [pcodes]);
    const unknown = pcodes.filter((p) => !known.rows.some((k) => k.pcode === p));
    if (unknown.length > 0) {
      throw new UserError(`declaration ${record.id}: unknown P-code(s) ${unknown.join(', ')}; import the boundaries first (asp areas import)`);
    }
    const existing = await raw.query(`SELECT 1 FROM declarations WHERE reference = $1`, [record.id]);
    if (existing.rows.length > 0) throw new UserError(`declaration ${record.id} is already recorded; a declaration is never edited, record a new one`);
    const { rows } = await raw.query<DeclarationRow>(
      `INSERT INTO declarations (reference, kind, hazard, issuer, declared_on, valid_until, document, pcodes, geom, recorded_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
               CASE WHEN $9::text IS NULL THEN NULL
                    ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($9::text), 4326)), 3)) END,
               $10)
       RETURNING ${COLUMNS}`,
      [
        record.id, record.kind, record.hazard, record.issuer, record.date, record.valid_until ?? null,
        JSON.stringify(record.document), pcodes, polygon ? JSON.stringify(polygon) : null, actor,
      ],
    );
    return rows[0];
  });
}

/** Reads a drawn area from a GeoJSON file: a Polygon/MultiPolygon, a Feature, or a collection of one feature. */
export async function readDeclarationPolygon(file: string): Promise<Geometry> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UserError(`${file}: not a readable GeoJSON file (${(error as Error).message})`);
  }
  const value = json as { type?: string; geometry?: Geometry; features?: { geometry?: Geometry }[] };
  const geometry = value.type === 'FeatureCollection' ? (value.features?.length === 1 ? value.features[0].geometry : undefined)
    : value.type === 'Feature' ? value.geometry : (json as Geometry);
  if (!geometry || (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon')) {
    throw new UserError(`${file}: give one Polygon or MultiPolygon (a geometry, a Feature, or a FeatureCollection of one feature)`);
  }
  return geometry;
}

export async function listDeclarations(store: Store): Promise<DeclarationRow[]> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<DeclarationRow>(`SELECT ${COLUMNS} FROM declarations ORDER BY declared_on DESC, id DESC`),
  );
  return rows;
}
