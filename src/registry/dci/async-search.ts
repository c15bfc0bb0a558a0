import { randomUUID } from 'node:crypto';
import type { RawConnection } from '../../db/raw.ts';
import type { Store } from '../../db/store.ts';
import { UserError } from '../../errors.ts';
import { log } from '../../log.ts';
import type { SourcedRecord } from '../record-source.ts';
import { groupRecord } from './group-record.ts';
import { closeSearch, openSearch, receivedPages } from './inbox.ts';
import type { PullSource } from './pull.ts';
import { envelope, post, type DciRegistry, type DciSender, type Json } from './messages.ts';
import { pageOf, searchItem } from './search.ts';

export interface AsyncSearchOptions {
  /** How long to wait for the callbacks of a batch before asking txn/status. */
  waitMs: number;
  pollMs: number;
  /** txn/status requests per batch before the pull gives up. */
  statusRounds: number;
  /** search_request items per message. */
  batch: number;
}

const DEFAULTS: AsyncSearchOptions = { waitMs: 60_000, pollMs: 250, statusRounds: 3, batch: 100 };

/**
 * A large pull through the async search (`POST /registry/search`): the first page is asked alone
 * to learn the registry's total, then every other page in batches of `search_request` items. Each
 * page arrives as a signed `on-search` callback at our API, which stores it in dci_inbox (once,
 * however often it is sent). Pages that do not come within `waitMs` are asked for again with
 * `POST /registry/txn/status` (answered by the registry at our `txn/on-status`). Only when every
 * page is in does the import start, reading the pages in order; the pages are deleted afterwards.
 *
 * The callbacks must reach the API (ASP_PUBLIC_URL) and the pull must see its database: the
 * server back end, or the embedded one when the pull runs in the API's own process.
 */
export function asyncSearch(store: Store, settings: Partial<AsyncSearchOptions> = {}) {
  const options = { ...DEFAULTS, ...settings };
  return async (registry: DciRegistry, sender: DciSender, since: Date | null): Promise<PullSource> => {
    const callbackUrl = sender.callbackUrl;
    if (!callbackUrl) throw new UserError('an async pull needs ASP_PUBLIC_URL: the address at which the registry reaches our /dci/registry/on-search');
    if (!registry.jwks) throw new UserError(`an async pull needs the registry's JWKS (--jwks) to authenticate its callbacks`);
    const label = `dci ${registry.url}`;
    const transactionId = randomUUID();
    const ref = (page: number) => `${transactionId}-p${page}`;
    await openSearch(store, { transactionId, registry: registry.name, registryUrl: registry.url, jwks: registry.jwks, receiverId: registry.receiverId });
    try {
      await gather(store, registry, sender, callbackUrl, transactionId, [1], since, options);
      const first = pageOf(await readPage(storeReader(store), transactionId, ref(1)), `${label}: page 1`);
      const pages = Math.max(1, Math.ceil(first.total / registry.pageSize));
      const rest = Array.from({ length: pages - 1 }, (_, i) => i + 2);
      for (let from = 0; from < rest.length; from += options.batch) {
        await gather(store, registry, sender, callbackUrl, transactionId, rest.slice(from, from + options.batch), since, options);
      }
      let reader = storeReader(store);
      async function* records(): AsyncGenerator<SourcedRecord> {
        for (let page = 1; page <= pages; page++) {
          const found = pageOf(await readPage(reader, transactionId, ref(page)), `${label}: page ${page}`);
          for (const [i, group] of found.records.entries()) {
            yield { record: groupRecord(group, registry.mapping), where: `page ${page}, record ${i + 1}` };
          }
        }
      }
      return {
        label,
        records: records(),
        expected: () => first.total,
        readWith: (raw) => void (reader = raw.query.bind(raw) as Reader),
        // After the import, whatever its outcome (not inside it: on the embedded back end the
        // import holds the only connection).
        finished: () => closeSearch(store, transactionId),
      };
    } catch (error) {
      await closeSearch(store, transactionId);
      throw error;
    }
  };
}

/** Sends the search for `pages` and waits until each has come back, asking txn/status for the missing. */
async function gather(
  store: Store, registry: DciRegistry, sender: DciSender, callbackUrl: string, transactionId: string,
  pages: number[], since: Date | null, options: AsyncSearchOptions,
): Promise<void> {
  const refs = pages.map((page) => `${transactionId}-p${page}`);
  const what = `dci ${registry.url}: async search, pages ${pages[0]}-${pages.at(-1)}`;
  const message = { transaction_id: transactionId, search_request: pages.map((page) => searchItem(transactionId, since, page, registry.pageSize)) };
  expectAck(await post(registry, '/registry/search', envelope(sender, registry, 'search', message, { sender_uri: callbackUrl, total_count: pages.length }), what), what);
  for (let round = 0; ; round++) {
    const deadline = Date.now() + options.waitMs;
    let missing = refs;
    while (Date.now() < deadline) {
      const received = await receivedPages(store, transactionId);
      missing = refs.filter((r) => !received.has(r));
      if (missing.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, options.pollMs));
    }
    if (round >= options.statusRounds) throw new Error(`${what}: ${missing.length} page(s) never answered, even after ${round} txn/status request(s)`);
    log.warn({ registry: registry.name, missing: missing.length, round: round + 1 }, 'DCI callbacks late; asking txn/status');
    const status = {
      transaction_id: transactionId,
      txnstatus_request: { reference_id: randomUUID(), txn_type: 'search', attribute_type: 'reference_id_list', attribute_value: missing },
    };
    const statusUri = callbackUrl.replace(/on-search$/, 'txn/on-status');
    expectAck(await post(registry, '/registry/txn/status', envelope(sender, registry, 'txn-status', status, { sender_uri: statusUri }), what), `${what}: txn/status`);
  }
}

function expectAck(answer: Json, what: string): void {
  const ack = (answer.message ?? {}) as Json;
  if (ack.ack_status !== 'ACK') {
    const error = (ack.error ?? {}) as Json;
    throw new Error(`${what}: the registry answered ${String(ack.ack_status ?? 'no ack')}${error.code ? ` (${String(error.code)})` : ''}`);
  }
}

type Reader = RawConnection['query'];
const storeReader = (store: Store): Reader => (sql, params) => store.transaction(({ raw }) => raw.query(sql, params)) as never;

async function readPage(reader: Reader, transactionId: string, referenceId: string): Promise<unknown> {
  const { rows } = await reader<{ response: unknown }>(
    `SELECT response FROM dci_inbox WHERE transaction_id = $1 AND reference_id = $2`, [transactionId, referenceId]);
  return rows[0]?.response;
}
