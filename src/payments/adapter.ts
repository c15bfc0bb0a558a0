import type { SigningKey } from '../interop/envelope-signature.ts';
import type { Hub } from './hubs.ts';

/**
 * What the outbox needs of a hub's protocol, so that G2P Connect and OpenG2P's G2P Bridge are two
 * implementations of one push: build a chunk's message, send it, ask for statuses, read a callback.
 */

/** One payment instruction, as the list's G2P export writes it (src/exports/g2p.ts). */
export interface Disbursement {
  reference_id: string;
  amount: string;
  [field: string]: unknown;
}

export const ITEM_STATUSES = ['rcvd', 'pdng', 'succ', 'rjct'] as const;
export type ItemStatusCode = (typeof ITEM_STATUSES)[number];

/** A hub's word on one disbursement. */
export interface ItemStatus {
  referenceId: string;
  status: ItemStatusCode;
  reasonCode: string | null;
  /** When the hub says the status was reached (ISO date-time), if it says. */
  at: string | null;
}

/** The signed parts of a message: kept in the outbox and sent again as they are on a retry. */
export interface Envelope {
  header: Record<string, unknown>;
  message: Record<string, unknown>;
}

export interface ChunkInput {
  messageId: string;
  transactionId: string;
  disbursements: Disbursement[];
  now: Date;
}

/**
 * How a send ended. `ack`: accepted, callbacks follow; `nack`: accepted, none follow (ask for the
 * statuses); `err`: the hub found our message invalid (not retried: reported); `retry`: a 5xx, a
 * timeout or a broken connection (`unknown`: the hub may have it); `refused`: a 4xx (our credentials
 * or signature; not retried).
 */
export type SendOutcome =
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'err'; error: string }
  | { kind: 'retry'; error: string; unknown: boolean }
  | { kind: 'refused'; error: string };

/** A callback, verified and read: the statuses it carries, or why it is not one. */
export type ParsedCallback = { ok: true; transactionId: string; statuses: ItemStatus[] } | { ok: false; problem: string };

/** The control totals of a whole disbursement, for a hub that is told them before the first chunk. */
export interface BatchTotals {
  listId: number;
  /** Items (one per entry, each a beneficiary) and their sum, as the filled outbox holds them. */
  entries: number;
  totalAmount: string;
  currency: string;
}

export interface HubAdapter {
  prepareChunk(input: ChunkInput): Envelope;
  /**
   * Opens the hub's own batch for the disbursement (G2P Bridge: the envelope) and returns its id;
   * absent for hubs without one. Called once per list and hub, the id kept (disbursements.hub_batch_id).
   */
  openBatch?(totals: BatchTotals, key: SigningKey): Promise<string>;
  /** `batchId`: what openBatch returned, for hubs that have one. */
  send(envelope: Envelope, key: SigningKey, batchId?: string | null): Promise<SendOutcome>;
  /**
   * Asks for the statuses of some items. The statuses the hub holds (an item it does not know is
   * absent), or null when the answer comes later as a callback (/g2p/txn/on-status).
   */
  queryStatus(transactionId: string, referenceIds: string[], key: SigningKey): Promise<ItemStatus[] | null>;
  /** Reads a callback body whose signature was already verified. */
  parseCallback(path: 'on-disburse' | 'on-status', body: unknown): ParsedCallback;
}

export type AdapterFactory = (hub: Hub, context: { senderId: string; publicUrl: string }) => HubAdapter;
