import os from 'node:os';
import path from 'node:path';
import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { loadConfig } from '../config.ts';
import type { Store } from '../db/store.ts';
import { unstorableText } from '../db/storable.ts';
import { ConflictError, ForbiddenError, isUserError, NotFoundError } from '../errors.ts';
import { log } from '../log.ts';
import { webRouter } from '../web/serve.ts';
import { dciCallbackRouter } from './dci-callbacks.ts';
import { docsPage } from './docs.ts';
import { healthRouter } from './health.ts';
import { verifyApiKey, type Caller } from './keys.ts';
import { openApiDocument } from './openapi.ts';
import { paymentCallbacks } from './payment-callbacks.ts';
import { mountRoutes, RequestError, type RouteSpec } from './route.ts';
import { apiRoutes } from './routes.ts';

const VERSION = '0.1.0';

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * The HTTP API and the dashboard: a thin shell over the same functions the CLI calls. Every
 * route is declared once (routes.ts) with its roles and zod schemas; the OpenAPI document at
 * /api/openapi.json is generated from the same declarations.
 *
 * ```ts
 * createApp(store).listen(8080)
 * ```
 */
export function createApp(store: Store): express.Express {
  const config = loadConfig();
  const app = express();
  app.disable('x-powered-by');
  const tileHost = config.ASP_TILE_URL ? new URL(config.ASP_TILE_URL.replace(/\{[a-z]\}/g, 'a')).origin : null;
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'default-src': ["'self'"],
          'img-src': ["'self'", 'data:', ...(tileHost ? [tileHost] : [])],
          'style-src': ["'self'"],
          'script-src': ["'self'"],
          'connect-src': ["'self'"],
          // Served over plain http on a LAN too: do not rewrite the page's requests to https.
          'upgrade-insecure-requests': null,
        },
      },
    }),
  );
  app.use(webRouter());
  app.use(paymentCallbacks(store));

  const routes = apiRoutes(VERSION);
  const document = openApiDocument(routes, VERSION);
  const api = Router();
  api.use(express.json({ limit: '1mb' }));
  api.use(express.text({ type: ['text/csv', 'text/yaml', 'application/yaml', 'text/plain'], limit: '20mb' }));
  api.use(refuseUnstorableBody);
  api.use(
    rateLimit({
      windowMs: 60_000,
      limit: config.ASP_RATE_LIMIT,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      // Per key when one is presented (by its public id, never the secret), else per address.
      keyGenerator: (req) => {
        const id = /^asp_([a-z0-9]+)_/.exec(presentedKey(req) ?? '')?.[1];
        return id ? `key:${id}` : ipKeyGenerator(req.ip ?? '0.0.0.0');
      },
      handler: (_req, res) => res.status(429).json({ error: { code: 'too_many_requests', message: 'too many requests: slow down' } }),
    }),
  );
  api.use(healthRouter(store));
  api.get('/openapi.json', (_req, res) => res.json(document));
  api.get('/docs', (_req, res) => res.type('html').send(docsPage(document)));
  mountRoutes(api, routes, store, (spec, req) => authorise(store, spec, req));
  api.use((_req, res) => res.status(404).json({ error: { code: 'not_found', message: 'no such endpoint (see /api/openapi.json)' } }));
  app.use(dciCallbackRouter(store));
  app.use('/api', api);
  app.use(errorHandler);
  return app;
}

/** The routes the app serves (for tests and the docs). */
export const servedRoutes = (): RouteSpec[] => apiRoutes(VERSION);

function presentedKey(req: Request): string | null {
  const header = req.get('authorization');
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1] ?? null;
}

/** 401 without a valid key, 403 when the key's role may not call the route; admin may call all. */
async function authorise(store: Store, spec: RouteSpec, req: Request): Promise<Caller | null> {
  if (spec.roles === 'public') return null;
  const key = presentedKey(req);
  if (!key) throw new HttpError(401, 'unauthorized', 'an API key is needed: Authorization: Bearer <key> (asp keys create)');
  const caller = await verifyApiKey(store, key);
  if (!caller) throw new HttpError(401, 'unauthorized', 'the API key is unknown, wrong or revoked');
  if (caller.role !== 'admin' && !spec.roles.includes(caller.role)) {
    throw new HttpError(403, 'forbidden', `a ${caller.role} key may not do this (allowed: ${['admin', ...spec.roles].join(', ')})`);
  }
  return caller;
}

/**
 * A body the database could not store (a NUL character, an unpaired surrogate) or nested deeper
 * than any request of this API is refused before a handler sees it: 400 with the field's path.
 */
const refuseUnstorableBody: RequestHandler = (req, _res, next) => {
  const problem = req.body === undefined ? null : unstorableText(req.body, 'body');
  if (!problem) return next();
  const split = problem.indexOf(': ');
  next(new RequestError([{ path: problem.slice(0, split), message: problem.slice(split + 2) }]));
};

/** PostgreSQL's data exceptions (SQLSTATE class 22: out of range, invalid text, bad encoding). */
const isDataException = (error: unknown): boolean => /^22[0-9A-Z]{3}$/.test(String((error as { code?: unknown })?.code ?? ''));

const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const send = (status: number, code: string, message: string, details?: unknown) =>
    res.status(status).json({ error: { code, message, ...(details !== undefined ? { details } : {}) } });
  if (isUserError(error)) {
    // Messages name the files they are about; a client must not learn the server's folders.
    error.message = withoutServerPaths(error.message);
    error.details.splice(0, error.details.length, ...error.details.map(withoutServerPaths));
  }
  if (error instanceof HttpError) return void send(error.status, error.code, error.message);
  if (error instanceof RequestError) return void send(400, 'bad_request', error.message, error.details);
  if (error instanceof NotFoundError) return void send(404, 'not_found', error.message);
  if (error instanceof ConflictError) return void send(409, 'conflict', error.message);
  if (error instanceof ForbiddenError) return void send(403, 'forbidden', error.message);
  if (isUserError(error)) return void send(400, 'bad_request', error.message, error.details.length ? error.details.map((d) => ({ path: '', message: d })) : undefined);
  const status = (error as { status?: number; type?: string }).status;
  if (status === 413) return void send(413, 'payload_too_large', 'the request body is too large');
  if (status === 400) return void send(400, 'bad_request', 'the request body is not valid JSON');
  // The body parser's other refusals (an unsupported charset or encoding) are the client's to fix.
  if (status && status >= 400 && status < 500 && (error as { expose?: boolean }).expose) return void send(status, 'bad_request', (error as Error).message);
  if (isDataException(error)) {
    // What the checks before did not foresee: a value the database refuses is still the request's.
    log.warn({ err: { code: (error as { code: string }).code }, method: req.method, path: req.route?.path ?? req.path }, 'request refused by the database');
    return void send(400, 'bad_request', `a value of the request cannot be stored: ${(error as Error).message.split('\n')[0]}`);
  }
  // Never the request body or its values in the log: they may hold personal data.
  log.error({ err: { message: (error as Error).message }, method: req.method, path: req.route?.path ?? req.path }, 'request failed');
  if (!res.headersSent) send(500, 'internal', 'internal error');
  else res.destroy();
};

/**
 * The text with every path under the server's temporary folder, data folder, working folder or
 * home replaced by the file's own name: `/tmp/asp-api-x1/status.csv: line 3` → `status.csv: line 3`.
 */
export function withoutServerPaths(text: string): string {
  const roots = [os.tmpdir(), loadConfig().ASP_DATA_DIR, process.cwd(), os.homedir()]
    .map((root) => path.resolve(root))
    .filter((root) => root !== path.parse(root).root)
    .sort((a, b) => b.length - a.length);
  let scrubbed = text;
  for (const root of roots) {
    const escaped = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // The root, then the rest of the path up to a space or punctuation (or nothing): not a longer folder name.
    const under = new RegExp(String.raw`(?:file://)?${escaped}(?:/[^\s:'"(),;]*|(?=[\s:'"(),;]|$))`, 'g');
    scrubbed = scrubbed.replace(under, (found) => path.basename(found) || 'a server folder');
  }
  return scrubbed;
}
