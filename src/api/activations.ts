import { Router } from 'express';
import type { Store } from '../db/store.ts';
import { getActivation, listActivations } from '../engine/activations.ts';

/**
 * `GET /api/activations[?status=open&rule=ID]`: what the rules decided, per area and shock, with
 * the evidence; `GET /api/activations/:id` adds the history. Read-only for now: coordinators'
 * decisions go through the CLI until the API has keys and roles.
 */
export function activationsRouter(store: Store): Router {
  const router = Router();
  router.get('/activations', async (req, res) => {
    const status = typeof req.query.status === 'string' ? req.query.status : undefined;
    const ruleId = typeof req.query.rule === 'string' ? req.query.rule : undefined;
    res.json({ activations: await listActivations(store, { status, ruleId }) });
  });
  router.get('/activations/:id', async (req, res) => {
    if (!/^\d+$/.test(req.params.id)) {
      res.status(400).json({ error: { code: 'bad_request', message: 'the activation id is a whole number' } });
      return;
    }
    res.json({ activation: await getActivation(store, Number(req.params.id)) });
  });
  return router;
}
