import type { RawConnection } from '../db/raw.ts';

/**
 * Households that arrive from a live registry (DCI, openIMIS) rather than a CSV file: each
 * connector turns the registry's records into these, and `importRecords` (import-registry.ts)
 * streams them through the same staging, checks and upsert as the CSV import, so the rules for
 * what a household may be are written once.
 *
 * Values are the registry's, as text or numbers; the import checks them (a record with a bad
 * value is a problem named with `where`, exactly like a bad CSV cell with its line).
 */
export interface RegistryRecord {
  registry_id: string;
  admin_pcode?: string | null;
  lat?: number | string | null;
  lon?: number | string | null;
  size?: number | string | null;
  pmt_score?: number | string | null;
  payment_channel?: string | null;
  payment_account?: string | null;
  head_first_name?: string | null;
  head_last_name?: string | null;
  /** YYYY-MM-DD */
  head_birth_date?: string | null;
  national_id?: string | null;
  phone?: string | null;
  /** For a pull into a programme: whether the household is (still) enrolled in it. Default active. */
  enrolment?: 'active' | 'exited';
  /** Everything else the registry says of the household that the engine keeps (rules may read it). */
  attributes?: Record<string, string>;
}

export interface SourcedRecord {
  record: RegistryRecord;
  /** Where the record came from, for problems: e.g. `page 12, record 7`. */
  where: string;
}

export interface RecordSource {
  /** What is being read, e.g. `dci https://sr.example.org/registry`, the prefix of every problem. */
  label: string;
  records: AsyncIterable<SourcedRecord>;
  /** How many records the registry says it will send (for the progress bar), when it says. */
  expected?: () => number | undefined;
  /**
   * For a source whose records already sit in the database (async DCI callbacks in dci_inbox):
   * on the embedded back end, which has a single connection, `importRecords` hands it the import's
   * own connection to read them with (between COPY chunks, when the connection is idle). On the
   * server it is not called: the source reads through a connection of its own.
   */
  readWith?: (raw: RawConnection) => void;
}
