import express, { Router, type Request, type Response } from 'express';
import { loadConfig } from '../config.ts';
import type { Store } from '../db/store.ts';
import { verifyEnvelope } from '../interop/envelope-signature.ts';
import { jwksOf } from '../interop/signing-keys.ts';
import { log } from '../log.ts';
import { adapterFor } from '../payments/adapters.ts';
import { verifyFromHub } from '../payments/hub-keys.ts';
import { loadHubs } from '../payments/hubs.ts';
import { engineKeyRing } from '../interop/engine-keys.ts';
import { applyStatuses } from '../payments/statuses.ts';

/**
 * What payment hubs call, outside the API's key authentication: G2P Connect's `on-disburse` and
 * `txn/on-status` callbacks, accepted only with a valid signature from a configured hub's JWKS
 * (anything else: 401 with the spec's `errors` shape, and nothing changes), answered with the
 * spec's Ack; and the engine's own public keys at /.well-known/jwks.json, which hubs verify our
 * messages with.
 */
export function paymentCallbacks(store: Store): Router {
  const router = Router();
  router.get('/.well-known/jwks.json', async (_req, res, next) => {
    try {
      res.json(jwksOf(await engineKeyRing()));
    } catch (error) {
      next(error);
    }
  });
  // A chunk's statuses: a thousand items are about 200 kB.
  const json = express.json({ limit: '20mb' });
  router.post('/g2p/on-disburse', json, (req, res, next) => void receive(store, 'on-disburse', req, res).catch(next));
  router.post('/g2p/txn/on-status', json, (req, res, next) => void receive(store, 'on-status', req, res).catch(next));
  return router;
}

const refuse = (res: Response, code: string, message: string) => res.status(401).json({ errors: [{ code, message }] });
const ack = (res: Response, correlationId: string, error?: { code: string; message: string }) =>
  res.json({ message: { ack_status: error ? 'ERR' : 'ACK', timestamp: new Date().toISOString(), correlation_id: correlationId, ...(error ? { error } : {}) } });

async function receive(store: Store, path: 'on-disburse' | 'on-status', req: Request, res: Response): Promise<void> {
  const body = (req.body && typeof req.body === 'object' ? req.body : {}) as { signature?: unknown; header?: { sender_id?: unknown; message_id?: unknown } };
  const hubs = await loadHubs();
  const senderId = body.header?.sender_id;
  const hub = hubs.find((h) => h.hubId === senderId);
  const verified = hub ? await verifyFromHub(hub, body) : await verifyEnvelope(body, () => undefined);
  if (!verified.ok || !hub) {
    log.warn({ path, reason: verified.ok ? 'unknown sender' : verified.reason }, 'payment callback refused');
    const code = !body.signature ? 'err.signature.missing' : !hub ? 'err.sender_id.invalid' : 'err.signature.invalid';
    return void refuse(res, code, hub ? (verified.ok ? 'not verified' : verified.reason) : 'the sender is not a configured payment hub');
  }
  const messageId = typeof body.header?.message_id === 'string' ? body.header.message_id : '';
  const parsed = adapterFor(hub, loadConfig().ASP_PUBLIC_URL ?? '').parseCallback(path, body);
  if (!parsed.ok) return void ack(res, messageId, { code: 'err.request.bad', message: parsed.problem });
  const applied = await store.transaction(({ raw }) =>
    // txn/on-status answers our status request: counted with the other answers to it, not as a callback.
    applyStatuses(raw, hub.name, parsed.statuses, { kind: path === 'on-status' ? 'poll' : 'callback', reportedIn: `g2p:${hub.name}:${messageId}` }),
  );
  log.info({ hub: hub.name, path, statuses: parsed.statuses.length, ...applied }, 'payment callback applied');
  ack(res, messageId);
}
