import express, { Router, type Response } from 'express';
import type { Store } from '../db/store.ts';
import { log } from '../log.ts';
import { acceptCallback, type CallbackVerdict } from '../registry/dci/inbox.ts';
import { acceptNotify } from '../registry/dci/notify.ts';
import { acceptOnSubscribe } from '../registry/dci/subscriptions.ts';

type Json = Record<string, unknown>;

/**
 * Where DCI social registries answer our async searches (`POST /dci/registry/on-search`,
 * `POST /dci/registry/txn/on-status`) and subscriptions (`/on-subscribe`), and push changes
 * (`/notify`). Outside the /api key check: a callback is authenticated by
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
  router.post('/dci/registry/on-subscribe', async (req, res, next) => {
    try {
      answer(res, await acceptOnSubscribe(store, req.body as Json), 'on-subscribe');
    } catch (error) {
      next(error);
    }
  });
  router.post('/dci/registry/notify', async (req, res, next) => {
    try {
      const verdict = await acceptNotify(store, req.body as Json);
      if (verdict.ok) log.info({ callback: 'notify', applied: verdict.applied, duplicates: verdict.duplicates }, 'DCI notification');
      answer(res, verdict.ok ? { ok: true, stored: verdict.applied, correlationId: verdict.correlationId } : verdict, 'notify');
    } catch (error) {
      next(error);
    }
  });
  return router;
}
