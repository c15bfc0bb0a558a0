import type { Writable } from 'node:stream';
import type { Store } from '../db/store.ts';
import { listJson, releaseJson } from './json.ts';
import { write, type ExportContext } from './source.ts';

/** Areas per page: few rows, but a boundary can be large. */
const AREA_PAGE = 50;

/**
 * GeoJSON: a summary FeatureCollection with one feature per area of the list (its boundary from
 * admin_areas), the households listed there and their amount. An area with fewer households than
 * the threshold (5, or the rule's data_sharing.aggregates.suppress_below_households if higher)
 * shows both as null with `suppressed: true`. The header leaves the list's totals out: with them,
 * a single suppressed area could be computed back by subtraction.
 */
export async function writeGeojson(store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  const head = {
    type: 'FeatureCollection',
    list: listJson(ctx, { totals: false }),
    release: releaseJson(ctx),
    suppress_below_households: ctx.list.suppressBelow,
    exported_at: new Date().toISOString(),
  };
  await write(out, `${JSON.stringify(head).slice(0, -1)},"features":[`);
  let after = '';
  let written = 0;
  for (;;) {
    const { rows } = await store.transaction(({ raw }) =>
      raw.query<{ pcode: string; name: string; level: number; tier: string | null; geometry: string; households: number; amount: number }>(
        `WITH page AS (
           SELECT pcode, tier FROM payment_list_areas WHERE list_id = $1 AND pcode > $2 ORDER BY pcode LIMIT $3
         ), totals AS (
           SELECT e.pcode, count(*)::int AS households, sum(e.amount) AS amount
             FROM payment_list_entries e
            WHERE e.list_id = $1 AND e.pcode IN (SELECT pcode FROM page)
            GROUP BY e.pcode
         )
         SELECT p.pcode, a.name, a.level, p.tier, ST_AsGeoJSON(a.geom, 6) AS geometry,
                coalesce(t.households, 0) AS households, coalesce(t.amount, 0) AS amount
           FROM page p JOIN admin_areas a ON a.pcode = p.pcode LEFT JOIN totals t ON t.pcode = p.pcode
          ORDER BY p.pcode`,
        [ctx.list.id, after, AREA_PAGE],
      ),
    );
    if (rows.length === 0) break;
    const features = rows.map((r) => {
      const suppressed = r.households < ctx.list.suppressBelow;
      const properties = {
        pcode: r.pcode, name: r.name, level: r.level, tier: r.tier,
        households: suppressed ? null : r.households,
        amount: suppressed ? null : Number(r.amount),
        currency: ctx.list.currency,
        suppressed,
      };
      // The geometry is already GeoJSON text: spliced in, not parsed and printed again.
      return `{"type":"Feature","id":${JSON.stringify(r.pcode)},"geometry":${r.geometry},"properties":${JSON.stringify(properties)}}`;
    });
    await write(out, `${written === 0 ? '\n' : ',\n'}${features.join(',\n')}`);
    written += rows.length;
    ctx.onProgress?.(written, ctx.rows);
    after = rows[rows.length - 1].pcode;
    if (rows.length < AREA_PAGE) break;
  }
  await write(out, '\n]}\n');
  return written;
}
