import express, { Router, type Response } from 'express';
import type { Store } from '../db/store.ts';
import { log } from '../log.ts';
import { acceptCallback, type CallbackVerdict } from '../registry/dci/inbox.ts';

type Json = Record<string, unknown>;

/**
 * Where DCI social registries answer our async searches: `POST /dci/registry/on-search` and
 * `POST /dci/registry/txn/on-status`. Outside the /api key check: a callback is authenticated by
 * its signature, which must be that of the registry the search was sent to (its JWKS, recorded with
 * the search). The answer is the spec's Ack; a bad or missing signature is a 401.
 */
export function dciCallbackRouter(store: Store): Router {
  const router = Router();
  // A page of 1,000 groups with their members is a few MiB of JSON.
  router.use('/dci/registry', express.json({ limit: '64mb' }));
  const answer = (res: Response, verdict: CallbackVerdict, what: string) => {
    const timestamp = new Date().toISOString();
    if (!verdict.ok) {
      log.warn({ callback: what, code: verdict.code }, 'DCI callback refused');
      return void res.status(verdict.status).json({ errors: [{ code: verdict.code, message: verdict.message }] });
    }
    log.info({ callback: what, pages: verdict.stored }, 'DCI callback accepted');
    res.json({ message: { ack_status: 'ACK', timestamp, correlation_id: verdict.correlationId } });
  };
  router.post('/dci/registry/on-search', async (req, res, next) => {
    try {
      answer(res, await acceptCallback(store, req.body as Json, (m) => m.search_response), 'on-search');
    } catch (error) {
      next(error);
    }
  });
  router.post('/dci/registry/txn/on-status', async (req, res, next) => {
    try {
      const items = (m: Json) => (((m.txnstatus_response as Json | undefined)?.txn_status as Json | undefined)?.search_response);
      answer(res, await acceptCallback(store, req.body as Json, items), 'txn-on-status');
    } catch (error) {
      next(error);
    }
  });
  return router;
}
