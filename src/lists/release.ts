import { Readable } from 'node:stream';
import { audit } from '../audit/audit.ts';
import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { ConflictError, NotFoundError, UserError } from '../errors.ts';
import { log } from '../log.ts';
import { isRealDate } from '../rules/schema.ts';
import { getPartner, type ShareableField } from './partners.ts';
import { pseudonymSecret, pseudonymousId } from './pseudonym.ts';

/**
 * Releasing an approved list to a partner: for a stated purpose, until a date, with the fields the
 * partner may receive at that moment, and a pseudonymous id per household computed once, so that
 * exports and reconciliation never need the secret again.
 */

export interface ReleaseRequest {
  partnerId: string;
  /** Why the partner gets the list, e.g. the data-sharing agreement and the payment it is for. */
  purpose: string;
  /** YYYY-MM-DD, today or later: the last day the partner may download the list. */
  expiresOn: string;
}

export interface Release {
  id: number;
  listId: number;
  partnerId: string;
  purpose: string;
  expiresOn: string;
  fields: ShareableField[];
  pseudonymised: boolean;
  contentSha256: string;
  releasedBy: string;
  releasedAt: Date;
}

export interface ReleaseOptions {
  /** Entries read, hashed and copied per batch; memory stays the same whatever the list's size. */
  pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 5000;

/**
 * Releases an approved (or already released) list to a partner, once per partner: records the
 * release, fills release_ids for every entry, marks the list released and audits `list.released`.
 *
 * ```ts
 * await releaseList(store, 12, { partnerId: 'mpesa', purpose: 'DSA-2026-04, November payment', expiresOn: '2026-12-31' }, 'alice')
 * ```
 */
export async function releaseList(
  store: Store,
  listId: number,
  request: ReleaseRequest,
  actor: string,
  options: ReleaseOptions = {},
): Promise<Release & { households: number }> {
  const purpose = request.purpose?.trim() ?? '';
  if (!purpose) throw new UserError('say what the release is for (--purpose TEXT): it is recorded and bounds the use of the list');
  if (!isRealDate(request.expiresOn ?? '')) throw new UserError(`--expires ${request.expiresOn}: write a date as YYYY-MM-DD, e.g. 2026-12-31`);
  if (!actor?.trim()) throw new UserError('say who releases the list (--by NAME)');
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;

  const release = await store.transaction(async ({ raw }) => {
    const { rows: lists } = await raw.query<{ status: string; content_sha256: string | null; past: boolean }>(
      `SELECT status, content_sha256, $2::date < current_date AS past FROM payment_lists WHERE id = $1 FOR UPDATE`,
      [listId, request.expiresOn],
    );
    if (lists.length === 0) throw new NotFoundError(`no payment list ${listId} (asp lists list)`);
    const list = lists[0];
    if (list.status !== 'approved' && list.status !== 'released') {
      throw new UserError(`payment list ${listId} is ${list.status}: only an approved list can be released${list.status === 'draft' ? ' (approve it first)' : ''}`);
    }
    if (list.past) throw new UserError(`--expires ${request.expiresOn} is in the past: a release must be usable for at least a day`);
    const partner = await getPartner(raw, request.partnerId);
    const earlier = await findRelease(raw, listId, partner.id);
    if (earlier) {
      // A conflict with the state of the list (409 through the API), not a mistake in the request.
      throw new ConflictError(
        `payment list ${listId} was already released to ${partner.id} on ${earlier.releasedAt.toISOString().slice(0, 10)} (release ${earlier.id}, until ${earlier.expiresOn}): a list is released to a partner once; export it again with asp lists export ${listId} --partner ${partner.id}`,
      );
    }
    const { rows } = await raw.query<ReleaseRow>(
      `INSERT INTO list_releases (list_id, partner_id, purpose, expires_on, fields, pseudonymised, content_sha256, released_by)
       VALUES ($1, $2, $3, $4::date, $5::text[], $6, $7, $8) RETURNING ${RELEASE_COLUMNS}`,
      [listId, partner.id, purpose, request.expiresOn, partner.fields, partner.pseudonymise, list.content_sha256, actor],
    );
    const release = toRelease(rows[0]);
    const households = await fillReleaseIds(raw, release, await pseudonymSecret(raw), pageSize);
    await raw.query(`UPDATE payment_lists SET status = 'released' WHERE id = $1 AND status = 'approved'`, [listId]);
    await audit(raw, {
      actor,
      action: 'list.released',
      subject: `list:${listId}`,
      details: {
        release: release.id, partner: partner.id, purpose, expires_on: release.expiresOn, fields: release.fields,
        pseudonymised: release.pseudonymised, households, content_sha256: release.contentSha256,
      },
    });
    return { ...release, households };
  });
  log.info({ list: listId, partner: release.partnerId, release: release.id, households: release.households }, 'list released');
  return release;
}

/** The release of a list to a partner, if there is one. */
export async function findRelease(raw: RawConnection, listId: number, partnerId: string): Promise<Release | undefined> {
  const { rows } = await raw.query<ReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM list_releases WHERE list_id = $1 AND partner_id = $2`,
    [listId, partnerId],
  );
  return rows.length ? toRelease(rows[0]) : undefined;
}

/**
 * One pseudonymous id per entry, through a cursor in batches: fetch a batch, hash it here (the
 * secret never goes to the database), COPY it in. The order does not matter, so nothing is sorted.
 */
async function fillReleaseIds(raw: RawConnection, release: Release, secret: string, pageSize: number): Promise<number> {
  // The id is a number: written into the statement, as utility statements take no bind parameters everywhere.
  await raw.query(
    `DECLARE release_entries NO SCROLL CURSOR FOR SELECT household_id, registry_id FROM payment_list_entries WHERE list_id = ${Number(release.listId)}`,
  );
  let filled = 0;
  for (;;) {
    const { rows } = await raw.query<{ household_id: number; registry_id: string }>(`FETCH ${Number(pageSize)} FROM release_entries`);
    if (rows.length === 0) break;
    // Numbers and base32 need no CSV quoting.
    const csv = rows.map((r) => `${release.id},${r.household_id},${pseudonymousId(secret, release.partnerId, r.registry_id)}\n`).join('');
    filled += await raw.copyFrom(
      `COPY release_ids (release_id, household_id, pseudonymous_id) FROM STDIN WITH (FORMAT csv)`,
      Readable.from([csv]),
    );
  }
  await raw.query('CLOSE release_entries');
  return filled;
}

const RELEASE_COLUMNS = `id, list_id, partner_id, purpose, to_char(expires_on, 'YYYY-MM-DD') AS expires_on, fields, pseudonymised,
  content_sha256, released_by, released_at`;

interface ReleaseRow {
  id: number;
  list_id: number;
  partner_id: string;
  purpose: string;
  expires_on: string;
  fields: ShareableField[];
  pseudonymised: boolean;
  content_sha256: string;
  released_by: string;
  released_at: Date;
}

const toRelease = (r: ReleaseRow): Release => ({
  id: Number(r.id), listId: Number(r.list_id), partnerId: r.partner_id, purpose: r.purpose, expiresOn: r.expires_on, fields: r.fields,
  pseudonymised: r.pseudonymised, contentSha256: r.content_sha256, releasedBy: r.released_by, releasedAt: new Date(r.released_at),
});
