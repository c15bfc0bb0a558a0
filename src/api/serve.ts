import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../db/store.ts';
import { createApp } from './app.ts';

/** Starts the HTTP server and resolves once it listens, with the URL it answers on. */
export async function serve(store: Store, port: number, host: string): Promise<{ server: Server; url: string }> {
  const app = createApp(store);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host}:${address.port}` };
}
