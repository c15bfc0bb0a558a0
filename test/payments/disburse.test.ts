import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { exportList } from '../../src/exports/index.ts';
import { disburseList } from '../../src/payments/disburse.ts';
import { disbursementStatus } from '../../src/payments/status-report.ts';
import { collector } from '../exports/list-fixture.ts';
import { testBackend } from '../support/backend.ts';
import type { G2pHub } from '../peers/g2p-hub.ts';
import { expectSpecCompliant, releasedList, usePaymentWorld } from './payment-world.ts';

/**
 * The Done-when for payments: a 100,000-entry list pushed to a G2P Connect hub ends with
 * every entry reconciled from callbacks, against a hub that drops 10 % of its callbacks (polling
 * recovers them) and one that sends each callback twice (no double reconciliation). 100,000 on the
 * server back end; 10,000 on the embedded one (one PGlite connection in this process serves both
 * the push and the callbacks, about 3x slower). Every message sent and every callback accepted is
 * validated against the G2P Connect spec (with the one patched `required` entry, see
 * test/support/specs.ts).
 */

const server = testBackend() === 'server';
const ENTRIES = server ? 100_000 : 10_000;
const SLOW = 900_000;
const FIELDS = ['pseudonymous_id', 'name', 'phone', 'amount', 'currency', 'payment_channel', 'payment_account'];

const payments = usePaymentWorld(SLOW);
const { query } = payments;

/** What was sent to the hub, item by item. */
const disbursementsSent = (hub: G2pHub) =>
  hub.requests.filter((r) => r.path === '/disburse').flatMap((r) => r.body.message.disbursements as Record<string, unknown>[]);

describe(`a ${ENTRIES.toLocaleString('en-US')}-entry list pushed to a G2P Connect hub`, () => {
  it('that drops 10 % of its callbacks: every entry is reconciled once, the lost ones by txn/status', async () => {
    const { listId, entries } = await releasedList(payments.db.store, ENTRIES, { id: 'fsp-drop', fields: FIELDS });
    const hub = await payments.world.addHub('drop-hub', 'fsp-drop', { dropShare: 0.1 });
    const started = Date.now();
    const report = await disburseList(payments.db.store, listId, 'drop-hub', 'payer', { waitMs: 300_000, pollEveryMs: 250 });
    const ms = Date.now() - started;
    console.info(`disburse ${ENTRIES} entries (${testBackend()}): ${ms} ms, ${Math.round(ENTRIES / (ms / 1000))} entries/s; polled ${report.polled}`);
    await hub.idle();

    expect(report.complete).toBe(true);
    expect(report.sent).toMatchObject({ acked: ENTRIES / 1000, errors: [] });
    expect(report.items.succ).toBe(ENTRIES);
    expect(report.reconciled).toBe(ENTRIES);
    // About a tenth never came back by callback: each of those was recovered by txn/status.
    const calledBack = new Set(hub.callbacks.flatMap((c) => (c.body.message.disbursements_status as { reference_id: string }[]).map((d) => d.reference_id)));
    const lost = [...hub.payments.keys()].filter((id) => !calledBack.has(id));
    expect(lost.length).toBeGreaterThan(ENTRIES * 0.07);
    expect(lost.length).toBeLessThan(ENTRIES * 0.13);
    const [recovered] = await query<{ final: number; polled: number }>(
      `SELECT count(*) FILTER (WHERE state = 'succ')::int AS final, count(*) FILTER (WHERE polled > 0)::int AS polled FROM disbursement_items WHERE reference_id = ANY($1::text[])`,
      [lost],
    );
    expect(recovered).toEqual({ final: lost.length, polled: lost.length });
    expect(report.callbacks + report.polled).toBeGreaterThanOrEqual(ENTRIES);
    const [statuses] = await query<{ n: number; paid: number; amount: string }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'paid')::int AS paid, sum(amount)::text AS amount FROM payment_statuses WHERE list_id = $1`,
      [listId],
    );
    expect(statuses.n).toBe(ENTRIES);
    expect(statuses.paid).toBe(ENTRIES);

    // The hub was sent every entry once, and paid each once.
    expect(hub.payments.size).toBe(ENTRIES);
    expect(hub.duplicates).toBe(0);
    const sent = disbursementsSent(hub);
    expect(new Set(sent.map((d) => d.reference_id)).size).toBe(ENTRIES);
    // Amounts: what was sent adds up to the list (plain arithmetic over its entries), in cents.
    const cents = (amount: string) => Math.round(Number(amount) * 100);
    expect(sent.reduce((sum, d) => sum + cents(String(d.amount)), 0)).toBe(entries.reduce((sum, e) => sum + Math.round(e.amount * 100), 0));
    expect(cents(statuses.amount)).toBe(entries.reduce((sum, e) => sum + Math.round(e.amount * 100), 0));
    // A pseudonymised partner's hub gets no names, though its fields include name.
    expect(sent.filter((d) => 'payee_name' in d)).toEqual([]);
    // The push and the list's G2P file for the same partner agree on every item but the name.
    const file = collector();
    await exportList(payments.db.store, listId, 'g2p', file.out, { partnerId: 'fsp-drop' }, 'auditor');
    const exported = (JSON.parse(file.text()).message.disbursements as Record<string, unknown>[]).map(({ payee_name: _n, ...rest }) => rest);
    expect(exported.length).toBe(ENTRIES);
    const sentByReference = new Map(sent.map((d) => [d.reference_id, d]));
    const differing = exported.filter((d) => !isDeepStrictEqual(sentByReference.get(d.reference_id), d));
    expect(differing.slice(0, 1).map((d) => [d, sentByReference.get(d.reference_id)])).toEqual([]);
    expectSpecCompliant(hub);

    const audits = await query<{ action: string; details: Record<string, unknown> }>(
      `SELECT action, details FROM audit_log WHERE subject = $1 AND action LIKE 'list.disburse%' ORDER BY id`,
      [`list:${listId}`],
    );
    expect(audits.map((a) => a.action)).toEqual(['list.disbursed', 'list.disbursement_reconciled']);
    expect(audits[0].details).toMatchObject({ hub: 'drop-hub', chunks: ENTRIES / 1000, entries: ENTRIES });
    expect(audits[1].details).toMatchObject({ entries: ENTRIES, paid: ENTRIES, rejected: 0 });

    // Run again: nothing new in the outbox, nothing sent.
    const requests = hub.requests.length;
    const again = await disburseList(payments.db.store, listId, 'drop-hub', 'payer');
    expect(again.sent).toEqual({ acked: 0, nacked: 0, errors: [], waiting: 0 });
    expect(hub.requests.length).toBe(requests);
    const [outbox] = await query<{ messages: number; items: number }>(
      `SELECT (SELECT count(*)::int FROM disbursement_messages WHERE list_id = $1) AS messages, (SELECT count(*)::int FROM disbursement_items WHERE list_id = $1) AS items`,
      [listId],
    );
    expect(outbox).toEqual({ messages: ENTRIES / 1000, items: ENTRIES });
  }, SLOW);

  it('that sends each callback twice: reconciled once, every second copy counted as a duplicate', async () => {
    const { listId } = await releasedList(payments.db.store, ENTRIES, { id: 'fsp-twice', fields: FIELDS });
    // No polling here (status_after 10 minutes): every status comes by callback, twice.
    const hub = await payments.world.addHub('twice-hub', 'fsp-twice', { duplicateCallbacks: true }, { status_after_seconds: 600 });
    const report = await disburseList(payments.db.store, listId, 'twice-hub', 'payer', { waitMs: 300_000, pollEveryMs: 250 });
    await hub.idle();
    const status = await disbursementStatus(payments.db.store, listId, 'twice-hub');
    expect(report.complete).toBe(true);
    expect(status.reconciled).toBe(ENTRIES);
    expect(hub.callbacks.filter((c) => c.status !== 200).map((c) => [c.status, c.answer])).toEqual([]);
    expect(status.polled).toBe(0);
    expect(status.callbacks).toBe(2 * ENTRIES);
    expect(status.duplicates).toBe(ENTRIES);
    const [rows] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM payment_statuses WHERE list_id = $1`, [listId]);
    expect(rows.n).toBe(ENTRIES);
    expectSpecCompliant(hub);
  }, SLOW);
});
