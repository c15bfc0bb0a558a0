import { Router } from 'express';
import { sql } from 'kysely';
import type { Store } from '../db/store.ts';
import { registryCounts } from '../registry/counts.ts';

/** `GET /api/health`: the database back end, PostGIS version and what the registry holds. */
export function healthRouter(store: Store): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const postgis = await sql<{ version: string }>`SELECT postgis_lib_version() AS version`.execute(store.db);
    res.json({
      status: 'ok',
      database: { backend: store.backend, postgis: postgis.rows[0].version },
      counts: await registryCounts(store),
    });
  });
  return router;
}
