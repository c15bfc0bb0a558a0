import { expect, it } from 'vitest';
import { createApiKey } from '../../src/api/keys.ts';
import { releasedList, usePaymentWorld } from './payment-world.ts';

/** The push through the API: an approver or coordinator may push and look; other roles may not. */

const payments = usePaymentWorld();

it('POST /api/lists/:id/disburse pushes and waits; GET …/disbursements/:hub tells where it stands; a rule author may not', async () => {
  const { listId } = await releasedList(payments.db.store, 120, { id: 'fsp-api', fields: ['pseudonymous_id', 'amount', 'currency'] });
  await payments.world.addHub('api-hub', 'fsp-api', {}, { chunk_size: 50 });
  const key = async (role: string) => (await createApiKey(payments.db.store, { role, label: `${role} test` }, 'admin')).key;
  const call = async (method: string, path: string, apiKey: string, body?: unknown) => {
    const response = await fetch(`${payments.world.api.base}/api${path}`, {
      method, headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const approver = await key('approver');
  const author = await key('rule-author');

  expect((await call('POST', `/lists/${listId}/disburse`, author, { hub: 'api-hub' })).status).toBe(403);
  const pushed = await call('POST', `/lists/${listId}/disburse`, approver, { hub: 'api-hub', waitSeconds: 30 });
  expect(pushed.status).toBe(200);
  expect(pushed.body).toMatchObject({ complete: true, entries: 120, chunks: 3, reconciled: 120, sent: { acked: 3 } });

  const status = await call('GET', `/lists/${listId}/disbursements/api-hub`, await key('coordinator'));
  expect(status.status).toBe(200);
  expect(status.body).toMatchObject({ open: 0, reconciled: 120, items: { succ: 120 } });
  expect((await call('GET', `/lists/${listId}/disbursements/other-hub`, approver)).status).toBe(404);
  expect((await call('POST', `/lists/${listId}/disburse`, approver, {})).status).toBe(400);
});
