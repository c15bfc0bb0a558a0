import { createHash, randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Store } from '../db/store.ts';
import { listJson } from './json.ts';
import { entryPages, type EntryRow } from './entries.ts';
import { exportIdOf, write, type ExportContext } from './source.ts';

/**
 * A G2P Connect disburse request (disburse_core_api v1.0.0): `{ header, message }`, with one
 * disbursement per entry. The sender signs it (the envelope's `signature`) on its way out; the
 * engine does not hold the signing key.
 *
 * reference_id, the receiver's idempotency key, is `L<list id>-` and the first 32 hex digits of
 * sha256("<list id>:<content_sha256>:<the household's id in this export>"): the same for the same
 * household whenever the same list is exported to the same reader, different between partners
 * (their ids differ), and it reveals nothing itself. See {@link g2pReferenceId}.
 */
export async function writeG2p(store: Store, ctx: ExportContext, out: Writable): Promise<number> {
  const { list, release } = ctx;
  const header = {
    version: '1.0.0',
    message_id: randomUUID(),
    message_ts: new Date().toISOString(),
    action: 'disburse',
    sender_id: 'asp-engine',
    receiver_id: release?.partnerId ?? '',
    total_count: ctx.rows,
    is_msg_encrypted: false,
    meta: { list: listJson(ctx), purpose: release?.purpose ?? null, expires_on: release?.expiresOn ?? null },
  };
  await write(out, `{"header":${JSON.stringify(header)},"message":{"transaction_id":${JSON.stringify(g2pTransactionId(ctx))},"disbursements":[`);
  let rows = 0;
  for await (const page of g2pDisbursementPages(store, ctx)) {
    await write(out, `${rows === 0 ? '\n' : ',\n'}${page.map((d) => JSON.stringify(d)).join(',\n')}`);
    rows += page.length;
  }
  await write(out, '\n]}}\n');
  return rows;
}

/** Stable per list content and reader: sending the same request twice is one transaction. */
export function g2pTransactionId({ list, release }: ExportContext): string {
  return `asp-${list.id}-${list.contentSha256.slice(0, 16)}${release ? `-${release.partnerId}` : ''}`;
}

/** The list's disbursements as this reader may see them, a page of entries at a time: what the file holds and a hub is sent. */
export async function* g2pDisbursementPages(store: Store, ctx: ExportContext): AsyncGenerator<G2pDisbursement[]> {
  for await (const page of entryPages(store, ctx)) yield page.map((e) => disbursement(ctx, e));
}

export function g2pReferenceId(listId: number, contentSha256: string, householdExportId: string): string {
  const digest = createHash('sha256').update(`${listId}:${contentSha256}:${householdExportId}`).digest('hex');
  return `L${listId}-${digest.slice(0, 32)}`;
}

export type G2pDisbursement = ReturnType<typeof disbursement>;

function disbursement(ctx: ExportContext, e: EntryRow) {
  const { list, release, fields } = ctx;
  const id = exportIdOf(ctx, e) ?? '';
  return {
    reference_id: g2pReferenceId(list.id, list.contentSha256, id),
    payer_fa: `programme:${faPart(list.programme)}@asp-engine`,
    payee_fa: payeeFa(ctx, e, id),
    amount: g2pAmount(e.amount),
    currency_code: e.currency ?? list.currency,
    ...(fields.has('payment_window') && e.firstPayment ? { scheduled_timestamp: `${e.firstPayment}T00:00:00Z` } : {}),
    payer_name: list.programmeName,
    ...(e.name ? { payee_name: e.name } : {}),
    note: `${list.ruleId} ${list.cycle}`.slice(0, 99),
    purpose: (release?.purpose ?? e.shockKey ?? '').slice(0, 99),
    meta: { beneficiary_id: id },
  };
}

/**
 * The payee's financial address (type:id@provider): the payment account when it may be shared
 * (as is when it already is an address), else a token of the household's id in this export that
 * the receiver resolves through its own ID ↔ account mapper.
 */
function payeeFa(ctx: ExportContext, e: EntryRow, id: string): string {
  if (e.paymentAccount) {
    if (e.paymentAccount.includes('@')) return e.paymentAccount;
    const provider = e.paymentChannel ?? ctx.release?.partnerId ?? 'unknown';
    const type = /mobile/i.test(provider) ? 'mobile' : 'account';
    return `${type}:${faPart(e.paymentAccount)}@${faPart(provider)}`;
  }
  return `token:${faPart(id)}@${faPart(ctx.release?.partnerId ?? 'asp-engine')}`;
}

/**
 * The spec's amount: a string of up to 13 digits, a point and 1-2 decimals. Entries hold numeric(14,2)
 * amounts of 0 or more, so this cannot fail for a stored list; it refuses rather than send a wrong figure.
 */
function g2pAmount(amount: number | null): string {
  const text = amount === null ? '' : amount.toFixed(2);
  if (!/^\d{1,13}\.\d{1,2}$/.test(text)) throw new Error(`an entry's amount ${amount} cannot be written as a G2P Connect amount`);
  return text;
}

/** Financial addresses allow letters, digits, dots and hyphens. */
const faPart = (text: string) => text.replace(/[^A-Za-z0-9.-]/g, '-');
