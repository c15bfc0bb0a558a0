import express, { type ErrorRequestHandler } from 'express';
import type { Store } from '../db/store.ts';
import { isUserError, NotFoundError } from '../errors.ts';
import { log } from '../log.ts';
import { activationsRouter } from './activations.ts';
import { feedsRouter } from './feeds.ts';
import { healthRouter } from './health.ts';

/**
 * The HTTP API: a thin shell over the same functions the CLI calls.
 *
 * ```ts
 * createApp(store).listen(8080)
 * ```
 */
export function createApp(store: Store): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  app.use('/api', healthRouter(store));
  app.use('/api', feedsRouter(store));
  app.use('/api', activationsRouter(store));
  app.use('/api', (_req, res) => res.status(404).json({ error: { code: 'not_found', message: 'no such endpoint' } }));
  app.use(errorHandler);
  return app;
}

const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  if (error instanceof NotFoundError) {
    res.status(404).json({ error: { code: 'not_found', message: error.message } });
    return;
  }
  if (isUserError(error)) {
    res.status(400).json({ error: { code: 'bad_request', message: error.message, details: error.details } });
    return;
  }
  log.error({ err: { message: (error as Error).message }, path: req.path }, 'request failed');
  res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
};
