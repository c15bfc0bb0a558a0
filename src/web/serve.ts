import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Response } from 'express';

const WEB_DIR = fileURLToPath(new URL('.', import.meta.url));
const LEAFLET_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('leaflet/package.json')), 'dist');
/** The dashboard's own files; nothing else in this folder (such as this file) is served. */
const WEB_FILES = new Set(['index.html', 'dashboard.js', 'dashboard.css']);

// The dashboard changes with the engine: the browser revalidates instead of keeping a stale copy.
const noCache = (res: Response) => res.setHeader('Cache-Control', 'no-cache');

/**
 * The coordinators' dashboard: `/` (index.html), `/web/*` (its script and style) and
 * `/vendor/leaflet/*` (Leaflet from node_modules, so no internet is needed). Static files only; the
 * data comes from /api with the key the user pastes.
 *
 * ```ts
 * app.use(webRouter())
 * ```
 */
export function webRouter(): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    noCache(res);
    res.sendFile(path.join(WEB_DIR, 'index.html'));
  });
  router.get('/web/:file', (req, res, next) => {
    if (!WEB_FILES.has(req.params.file)) return next();
    noCache(res);
    res.sendFile(path.join(WEB_DIR, req.params.file));
  });
  router.use('/vendor/leaflet', express.static(LEAFLET_DIR, { index: false, setHeaders: noCache }));
  return router;
}
