import { randomUUID } from 'node:crypto';
import type { RecordSource, SourcedRecord } from '../record-source.ts';
import { groupRecord } from './group-record.ts';
import { envelope, post, verifyFromRegistry, type DciRegistry, type DciSender, type Json } from './messages.ts';

/** Pages asked for ahead of the one being imported. */
const PAGES_AHEAD = 3;

/** The oldest `last_updated` a full pull asks for: every group. */
const EPOCH = new Date('1970-01-01T00:00:00Z');

/**
 * One page of a search for Groups, as a `search_request` item: a predicate `last_updated ge SINCE`
 * (a full pull asks from 1970), sorted by the group identifier so that pages do not shift while
 * we read them.
 */
export function searchItem(transactionId: string, since: Date | null, page: number, pageSize: number): Json {
  return {
    reference_id: `${transactionId}-p${page}`,
    timestamp: new Date().toISOString(),
    search_criteria: {
      version: '1.0.0',
      query_type: 'predicate',
      response_entity: 'Group',
      query: [{ seq_num: 1, expression1: { attribute_name: 'last_updated', operator: 'ge', attribute_value: (since ?? EPOCH).toISOString() } }],
      sort: [{ attribute_name: 'group_identifier', sort_order: 'asc' }],
      pagination: { page_size: pageSize, page_number: page },
    },
  };
}

export interface SearchPage {
  records: unknown[];
  /** The registry's total for the whole search. */
  total: number;
}

/** The records of one `search_response` item; a status other than succ is an error naming the page. */
export function pageOf(item: unknown, what: string): SearchPage {
  const response = (item ?? {}) as Json;
  if (response.status !== 'succ') {
    const reason = [response.status_reason_code, response.status_reason_message].filter(Boolean).join(': ');
    throw new Error(`${what}: the registry answered ${String(response.status ?? 'no status')}${reason ? ` (${reason})` : ''}`);
  }
  const data = (response.data ?? {}) as Json;
  const pagination = (response.pagination ?? {}) as Json;
  if (!Array.isArray(data.reg_records)) throw new Error(`${what}: the answer has no data.reg_records`);
  const total = Number(pagination.total_count);
  if (!Number.isInteger(total) || total < 0) throw new Error(`${what}: the answer has no pagination.total_count`);
  return { records: data.reg_records, total };
}

/**
 * Reads every Group changed since `since` (all with null) through `POST /registry/sync/search`,
 * page by page until the total the registry gave with the first page is reached. A few pages are
 * asked for ahead while the import takes the current one (the registry's work and ours overlap);
 * memory holds at most PAGES_AHEAD + 1 pages.
 */
export function syncSearch(registry: DciRegistry, sender: DciSender, since: Date | null): RecordSource {
  let total: number | undefined;
  const label = `dci ${registry.url}`;
  const transactionId = randomUUID();
  const fetchPage = async (page: number): Promise<SearchPage> => {
    const what = `${label}: page ${page}`;
    const request = envelope(sender, registry, 'search', { transaction_id: transactionId, search_request: [searchItem(transactionId, since, page, registry.pageSize)] });
    const answer = await post(registry, '/registry/sync/search', request, what);
    await verifyFromRegistry(registry, answer, what);
    const items = ((answer.message ?? {}) as Json).search_response;
    return pageOf(Array.isArray(items) ? items[0] : undefined, what);
  };
  async function* records(): AsyncGenerator<SourcedRecord> {
    const first = await fetchPage(1);
    total = first.total;
    const pages = first.records.length === 0 ? 1 : Math.ceil(first.total / registry.pageSize);
    const asked = new Map<number, Promise<SearchPage>>();
    const ask = (page: number) => {
      if (page > pages || asked.has(page)) return;
      const answer = fetchPage(page);
      // A page that fails while an earlier one is being imported is reported when its turn comes.
      answer.catch(() => {});
      asked.set(page, answer);
    };
    for (let page = 1; page <= pages; page++) {
      for (let ahead = 1; ahead <= PAGES_AHEAD; ahead++) ask(page + ahead);
      const found = page === 1 ? first : await asked.get(page)!;
      asked.delete(page);
      for (const [i, group] of found.records.entries()) {
        yield { record: groupRecord(group, registry.mapping), where: `page ${page}, record ${i + 1}` };
      }
      // The registry's count is the one it gave first: pages do not shift under a stable sort.
      if (found.records.length < registry.pageSize && page < pages) {
        throw new Error(`${label}: page ${page}: ${found.records.length} records where ${registry.pageSize} were due (of ${first.total}); the registry changed while it was read`);
      }
    }
  }
  return { label, records: records(), expected: () => total };
}
