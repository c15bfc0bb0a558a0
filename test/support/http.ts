import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app.ts';
import type { Store } from '../../src/db/store.ts';

export type Route = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

/**
 * A real HTTP server on 127.0.0.1 serving recorded payloads, for fetch and feed tests. Each route
 * is told how many times it has been hit (to script "500, then success").
 */
export async function serveRoutes(routes: Record<string, Route>): Promise<{ url: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = routes[path];
    const hit = (hits.get(path) ?? 0) + 1;
    hits.set(path, hit);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    route(req, res, hit);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The API (createApp) on a real server on 127.0.0.1: its base URL and how to stop it. */
export async function serveApi(store: Store): Promise<{ base: string; close(): Promise<void> }> {
  const server = createApp(store).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Serves `app` (the engine's express app) on a free port of 127.0.0.1: its server and base URL. */
export async function listenLocally(app: { listen(port: number, host: string): import('node:http').Server }): Promise<{ server: import('node:http').Server; base: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
