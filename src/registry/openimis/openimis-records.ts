import type { RecordSource, SourcedRecord } from '../record-source.ts';
import type { OpenImisClient } from './graphql-client.ts';
import { groupBeneficiaryPages, type BeneficiaryFilter } from './group-beneficiaries.ts';
import { householdRecord, type RecordMapping } from './household-record.ts';

export interface OpenImisRecordOptions {
  /** The benefit plan's UUID. */
  benefitPlan: string;
  /** A delta: beneficiaries and households changed since then, whatever their status. Else every active one. */
  since?: Date;
  /** openIMIS caps a page at RELAY_CONNECTION_MAX_LIMIT, 100 unless the deployment changed it. */
  pageSize: number;
  mapping: RecordMapping;
  /** Say for each record whether it is (still) enrolled: for a pull into a programme. */
  enrolment: boolean;
  /** Taken off the registry's clock for the next cursor: changes committed while the pull began are read again, not lost. */
  overlapMs?: number;
}

export interface PullStats {
  pages: number;
  /** Group beneficiaries received, before merging repeats of a group. */
  received: number;
  /** Households passed on. */
  households: number;
  /** Records whose location (and its parents) has no P-code in the crosswalk. */
  unmappedLocations: number;
  /** The registry's count of the caseload changed during a full pull: offsets may have shifted. */
  changedDuringPull: boolean;
}

export interface OpenImisRecords {
  source: RecordSource;
  /** Where the next delta starts; known once the first page has arrived. */
  cursor(): Date | undefined;
  stats(): PullStats;
}

const DEFAULT_OVERLAP_MS = 60_000;

/**
 * The households of one openIMIS benefit plan as a RecordSource for `importRecords`.
 *
 * A full pull pages through `groupBeneficiary(status: "ACTIVE", isDeleted: false)` and streams
 * each page on as it arrives. A delta asks twice, `dateUpdated_Gte` (enrolment changes) and
 * `group_DateUpdated_Gte` (household changes), since the two update different rows; the answers
 * are merged by group before anything is passed on, a group with an active enrolment winning over
 * an ended one of the same group. Each record's `where` is `page N, group CODE`.
 *
 * ```ts
 * const pulled = openImisRecords(client, { benefitPlan, pageSize: 100, mapping, enrolment: true })
 * await importRecords(store, pulled.source, { programme: 'CT' }); pulled.cursor()
 * ```
 */
export function openImisRecords(client: OpenImisClient, options: OpenImisRecordOptions): OpenImisRecords {
  const stats: PullStats = { pages: 0, received: 0, households: 0, unmappedLocations: 0, changedDuringPull: false };
  let cursor: Date | undefined;
  let expected: number | undefined;
  const overlap = options.overlapMs ?? DEFAULT_OVERLAP_MS;

  async function* pages(filter: BeneficiaryFilter, label: string): AsyncGenerator<SourcedRecord> {
    const startedAt = new Date();
    let firstTotal: number | undefined;
    for await (const page of groupBeneficiaryPages(client, filter, options.pageSize)) {
      stats.pages++;
      if (!cursor) cursor = new Date((page.serverDate ?? startedAt).getTime() - overlap);
      if (page.page === 1) firstTotal = page.totalCount;
      else if (page.totalCount !== firstTotal) stats.changedDuringPull = true;
      if (page.page === 1 && filter.kind === 'active') expected = page.totalCount;
      for (const node of page.nodes) {
        stats.received++;
        const { record, unmappedLocation } = householdRecord(node, options.mapping, options.enrolment);
        const where = `${label}page ${page.page}, group ${node.group.code}`;
        if (unmappedLocation) stats.unmappedLocations++;
        yield {
          record,
          where: unmappedLocation ? `${where} (openIMIS location ${unmappedLocation} and its parents have no P-code in area_codes, scheme openimis)` : where,
        };
      }
    }
  }

  async function* full(): AsyncGenerator<SourcedRecord> {
    // A group is listed once per enrolment; graphene's offset cursors can also repeat a row when the
    // caseload changes under the pull. The import refuses a registry_id twice, so the first one wins.
    const seen = new Set<string>();
    for await (const sourced of pages({ benefitPlan: options.benefitPlan, kind: 'active' }, '')) {
      if (seen.has(sourced.record.registry_id)) continue;
      seen.add(sourced.record.registry_id);
      yield count(sourced);
    }
  }

  async function* delta(since: Date): AsyncGenerator<SourcedRecord> {
    const merged = new Map<string, SourcedRecord>();
    const queries: [BeneficiaryFilter, string][] = [
      [{ benefitPlan: options.benefitPlan, kind: 'beneficiary changed', since }, 'enrolment changes '],
      [{ benefitPlan: options.benefitPlan, kind: 'household changed', since }, 'household changes '],
    ];
    for (const [filter, label] of queries) {
      for await (const sourced of pages(filter, label)) {
        const before = merged.get(sourced.record.registry_id);
        if (!before || (before.record.enrolment === 'exited' && sourced.record.enrolment === 'active')) merged.set(sourced.record.registry_id, sourced);
      }
    }
    expected = merged.size;
    for (const sourced of merged.values()) yield count(sourced);
  }

  function count(sourced: SourcedRecord): SourcedRecord {
    stats.households++;
    return sourced;
  }

  const mode = options.since ? `changes since ${options.since.toISOString()}` : 'active beneficiaries';
  return {
    source: {
      label: `openIMIS ${client.endpoint} benefit plan ${options.benefitPlan} (${mode})`,
      records: { [Symbol.asyncIterator]: () => (options.since ? delta(options.since) : full()) },
      expected: () => expected,
    },
    cursor: () => cursor,
    stats: () => ({ ...stats }),
  };
}
