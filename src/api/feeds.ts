import { Router } from 'express';
import type { Store } from '../db/store.ts';
import { feedHealth, listQuarantine } from '../feeds/health.ts';

/** `GET /api/feeds`: every feed's health; `GET /api/feeds/quarantine`: what was refused. */
export function feedsRouter(store: Store): Router {
  const router = Router();
  router.get('/feeds', async (_req, res) => {
    res.json({ feeds: await feedHealth(store) });
  });
  router.get('/feeds/quarantine', async (_req, res) => {
    res.json({ quarantine: await listQuarantine(store) });
  });
  return router;
}
