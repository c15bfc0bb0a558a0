import { z } from 'zod';
import { disburseList } from '../payments/disburse.ts';
import { disbursementStatus } from '../payments/status-report.ts';
import type { Caller } from './keys.ts';
import { idParams, route, type RouteSpec } from './route.ts';

/** Who pushed, for the audit log: the key's label and id. */
const actor = (caller: Caller) => `${caller.label} [key ${caller.keyId}]`;

/**
 * The push of a released list to a payment hub (configured in ASP_HUBS), and where it stands. The
 * same functions as `asp lists disburse` and `asp lists disburse-status`; a repeated push sends only
 * what was not delivered.
 */
export function paymentRoutes(): RouteSpec[] {
  return [
    route({
      method: 'post', path: '/lists/:id/disburse', tag: 'payments',
      summary: 'push a released list to a payment hub (G2P Connect); optionally wait up to 60 s for the statuses', roles: ['approver', 'coordinator'],
      params: idParams,
      body: z.object({
        hub: z.string().min(1, { error: 'name the hub' }),
        waitSeconds: z.number().int().min(0).max(60).default(0),
      }),
      handler: async ({ store, params, body, caller }) => {
        const { hub, waitSeconds } = body as { hub: string; waitSeconds: number };
        return disburseList(store, params.id as number, hub, actor(caller), { waitMs: waitSeconds * 1000 });
      },
    }),
    route({
      method: 'get', path: '/lists/:id/disbursements/:hub', tag: 'payments',
      summary: 'where the push of a list to a hub stands: messages, item statuses, reconciliation', roles: ['approver', 'coordinator'],
      params: idParams.extend({ hub: z.string().min(1) }),
      handler: async ({ store, params }) => disbursementStatus(store, params.id as number, params.hub as string),
    }),
  ];
}
