import { randomUUID } from 'node:crypto';
import type { RecordSource, SourcedRecord } from '../record-source.ts';
import { groupRecord } from './group-record.ts';
import { envelope, post, verifyFromRegistry, type DciRegistry, type DciSender, type Json } from './messages.ts';

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
 * page by page until the registry's total is reached. Each page is fetched only when the import
 * has taken the one before, so memory holds one page.
 */
export function syncSearch(registry: DciRegistry, sender: DciSender, since: Date | null): RecordSource {
  let total: number | undefined;
  const label = `dci ${registry.url}`;
  async function* records(): AsyncGenerator<SourcedRecord> {
    const transactionId = randomUUID();
    for (let page = 1; ; page++) {
      const what = `${label}: page ${page}`;
      const request = envelope(sender, registry, 'search', { transaction_id: transactionId, search_request: [searchItem(transactionId, since, page, registry.pageSize)] });
      const answer = await post(registry, '/registry/sync/search', request, what);
      await verifyFromRegistry(registry, answer, what);
      const items = ((answer.message ?? {}) as Json).search_response;
      const found = pageOf(Array.isArray(items) ? items[0] : undefined, what);
      total = found.total;
      for (const [i, group] of found.records.entries()) {
        yield { record: groupRecord(group, registry.mapping), where: `page ${page}, record ${i + 1}` };
      }
      if (found.records.length === 0 || page * registry.pageSize >= found.total) return;
    }
  }
  return { label, records: records(), expected: () => total };
}
