import type { Writable } from 'node:stream';
import { audit } from '../audit/audit.ts';
import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { NotFoundError, UserError } from '../errors.ts';
import { getPartner, type ShareableField } from '../lists/partners.ts';
import { findRelease, type Release } from '../lists/release.ts';
import { IDENTIFYING_FIELDS, SHAREABLE_FIELDS } from '../rules/schema.ts';
import type { EntryRow } from './entries.ts';

/**
 * What every export format shares: the checks and the audit entry before a byte is written and the
 * fields one may see. The entries are read page by page (entries.ts: keyset on household_id, one
 * short query per page), or for CSV and HXL by one COPY (table-copy.ts), so that memory does not
 * grow with the list and the embedded database is free between pages. An approved list never
 * changes, so pages read apart still make one list.
 */

export const EXPORT_FORMATS = ['csv', 'hxl', 'json', 'geojson', 'openimis', 'openimis-schema', 'g2p'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What only the programme itself sees (an export without a partner). */
const INTERNAL_FIELDS = ['household_id', 'pcode', 'tier', 'rank', 'reason'] as const;
export type ExportField = ShareableField | (typeof INTERNAL_FIELDS)[number];

const EXPORTABLE = ['approved', 'released', 'closed'];

export interface ListHeader {
  id: number;
  ruleId: string;
  ruleVersionId: number;
  ruleHash: string;
  programme: string;
  programmeName: string;
  kind: string;
  /** The shocks of the list's areas (one list covers every area of its rule version in activation). */
  shockKeys: string[];
  cycle: string;
  status: string;
  currency: string | null;
  households: number;
  totalAmount: number;
  contentSha256: string;
  /** Areas with fewer listed households are not shown in aggregates: at least 5, more if the rule says. */
  suppressBelow: number;
}

export interface ExportContext {
  format: ExportFormat;
  list: ListHeader;
  /** The partner's release when downloading for a partner; undefined for the programme's own export. */
  release?: Release;
  fields: ReadonlySet<ExportField>;
  /** What is written: entries, or areas for geojson. */
  rows: number;
  pageSize: number;
  onProgress?: (written: number, total: number) => void;
}

/**
 * The household's id in this export, as reconciliation reads it back: the registry id for the
 * programme itself; for a partner the pseudonymous id when the release is pseudonymised, else the
 * registry id — null when that field was not released.
 */
export function exportIdOf(ctx: ExportContext, e: EntryRow): string | null {
  if (!ctx.release) return e.registryId;
  return ctx.release.pseudonymised ? e.pseudonymousId : e.registryId;
}

/** A format's own refusal, run in the export's transaction before it is audited (e.g. openIMIS's required fields). */
export type ExportCheck = (raw: RawConnection, ctx: Pick<ExportContext, 'format' | 'list' | 'release' | 'fields'>) => Promise<void>;

/**
 * What a release lets its partner read: its whitelist, less what identifies a person outright when
 * the release is pseudonymised (names, birth dates, national ids), even if an older whitelist named them.
 */
export function readableFields(release: Release): ShareableField[] {
  if (!release.pseudonymised) return release.fields;
  return release.fields.filter((f) => !(IDENTIFYING_FIELDS as readonly string[]).includes(f));
}

/**
 * Checks that the list may be exported (and, for a partner, downloaded: released to it, not
 * expired) and that the format can be written for this reader (`options.check`), then audits the
 * export, all before the first byte goes out: a disclosure that is not recorded must not happen,
 * so an export that later fails is still on record; a refused one writes and records nothing.
 */
export async function openExport(
  store: Store,
  listId: number,
  format: ExportFormat,
  options: { partnerId?: string; pageSize: number; onProgress?: ExportContext['onProgress']; check?: ExportCheck },
  actor: string,
): Promise<ExportContext> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UserError(`--format ${format}: choose one of ${EXPORT_FORMATS.join(', ')}`);
  }
  if (!actor?.trim()) throw new UserError('say who exports the list (--by NAME)');
  return store.transaction(async ({ raw }) => {
    const list = await loadListHeader(raw, listId);
    if (!EXPORTABLE.includes(list.status)) {
      throw new UserError(`payment list ${listId} is ${list.status}: only approved, released or closed lists can be exported${list.status === 'draft' ? ' (approve it first)' : ''}`);
    }
    let release: Release | undefined;
    if (options.partnerId !== undefined) {
      const partner = await getPartner(raw, options.partnerId);
      release = await findRelease(raw, listId, partner.id);
      if (!release) {
        throw new UserError(`payment list ${listId} has not been released to ${partner.id}: release it first (asp lists release ${listId} --partner ${partner.id} …)`);
      }
      const { rows } = await raw.query<{ expired: boolean }>(`SELECT $1::date < current_date AS expired`, [release.expiresOn]);
      if (rows[0].expired) {
        throw new UserError(`the release of payment list ${listId} to ${partner.id} expired on ${release.expiresOn}: it can no longer be downloaded`);
      }
    }
    const fields = new Set<ExportField>(release ? readableFields(release) : [...SHAREABLE_FIELDS.filter((f) => f !== 'pseudonymous_id'), ...INTERNAL_FIELDS]);
    if (format === 'g2p' && release) {
      // A disbursement needs an amount and a reference built from the household's id.
      const idField = release.pseudonymised ? 'pseudonymous_id' : 'registry_id';
      const missing = [...(fields.has('amount') ? [] : ['amount']), ...(fields.has(idField) ? [] : [idField])];
      if (missing.length > 0) {
        throw new UserError(`the g2p format needs ${missing.join(' and ')} among the fields released to ${release.partnerId}; use csv or json`);
      }
    }
    await options.check?.(raw, { format, list, release, fields });
    const counted = await raw.query<{ n: number }>(
      format === 'geojson'
        ? `SELECT count(*)::int AS n FROM payment_list_areas WHERE list_id = $1`
        : `SELECT count(*)::int AS n FROM payment_list_entries WHERE list_id = $1`,
      [listId],
    );
    const rows = counted.rows[0].n;
    await audit(raw, {
      actor,
      action: release ? 'list.downloaded' : 'list.exported',
      subject: `list:${listId}`,
      details: { format, partner: release?.partnerId ?? null, release: release?.id ?? null, rows, content_sha256: list.contentSha256 },
    });
    return { format, list, release, fields, rows, pageSize: options.pageSize, onProgress: options.onProgress };
  });
}

async function loadListHeader(raw: RawConnection, listId: number): Promise<ListHeader> {
  const { rows } = await raw.query<Record<string, unknown>>(
    `SELECT l.id, l.rule_id, l.rule_version_id, v.hash AS rule_hash, l.programme_code, p.name AS programme_name, l.kind,
            ARRAY(SELECT DISTINCT shock_key FROM payment_list_areas WHERE list_id = l.id ORDER BY shock_key) AS shock_keys, l.cycle, l.status, l.currency, l.households, l.total_amount, l.content_sha256,
            greatest(5, coalesce((v.definition #>> '{data_sharing,aggregates,suppress_below_households}')::int, 0)) AS suppress_below
       FROM payment_lists l
       JOIN rule_versions v ON v.id = l.rule_version_id
       JOIN programmes p ON p.code = l.programme_code
      WHERE l.id = $1`,
    [listId],
  );
  if (rows.length === 0) throw new NotFoundError(`no payment list ${listId} (asp lists list)`);
  const r = rows[0];
  return {
    id: Number(r.id), ruleId: String(r.rule_id), ruleVersionId: Number(r.rule_version_id), ruleHash: String(r.rule_hash),
    programme: String(r.programme_code), programmeName: String(r.programme_name), kind: String(r.kind), shockKeys: r.shock_keys as string[],
    cycle: String(r.cycle), status: String(r.status), currency: (r.currency as string | null) ?? null, households: Number(r.households),
    totalAmount: Number(r.total_amount), contentSha256: String(r.content_sha256), suppressBelow: Number(r.suppress_below),
  };
}

/** Writes with backpressure: waits for 'drain' so that a slow reader holds the export, not memory. */
export async function write(out: Writable, chunk: string | Buffer): Promise<void> {
  if (out.destroyed) throw new Error('the output was closed before the export finished');
  if (out.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the output was closed before the export finished'));
    };
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}
