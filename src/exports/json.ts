import type { Writable } from 'node:stream';
import type { Store } from '../db/store.ts';
import { columnsFor } from './columns.ts';
import { entryPages } from './entries.ts';
import { readableFields, write, type ExportContext } from './source.ts';

/**
 * JSON: `{ list, release, exported_at, entries: [...] }`, written as it is read: the header, then
 * one entry per line. Entries have the same keys as the CSV columns, with numbers as numbers.
 */
export async function writeJson(store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  const head = { list: listJson(ctx), release: releaseJson(ctx), exported_at: new Date().toISOString() };
  await write(out, `${JSON.stringify(head).slice(0, -1)},"entries":[`);
  const columns = columnsFor(ctx);
  let rows = 0;
  for await (const page of entryPages(store, ctx)) {
    const lines = page.map((e) => JSON.stringify(Object.fromEntries(columns.map((c) => [c.name, c.value(e, ctx.list)]))));
    await write(out, `${rows === 0 ? '\n' : ',\n'}${lines.join(',\n')}`);
    rows += page.length;
  }
  await write(out, '\n]}\n');
  return rows;
}

/** The list's header as every JSON-based format carries it; totals can be left out (see geojson). */
export function listJson({ list }: ExportContext, options: { totals: boolean } = { totals: true }) {
  const header = {
    id: list.id,
    rule: { id: list.ruleId, version: list.ruleVersionId, hash: list.ruleHash },
    programme: list.programme,
    kind: list.kind,
    shocks: list.shockKeys,
    cycle: list.cycle,
    status: list.status,
    content_sha256: list.contentSha256,
    currency: list.currency,
  };
  return options.totals ? { ...header, households: list.households, total_amount: list.totalAmount } : header;
}

export function releaseJson({ release }: ExportContext) {
  if (!release) return null;
  return {
    id: release.id, partner: release.partnerId, purpose: release.purpose, expires_on: release.expiresOn,
    released_at: release.releasedAt.toISOString(), pseudonymised: release.pseudonymised, fields: readableFields(release),
    // Named in the whitelist but never given to a pseudonymised partner.
    withheld: release.fields.filter((f) => !readableFields(release).includes(f)),
  };
}
