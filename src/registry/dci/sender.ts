import path from 'node:path';
import { loadConfig } from '../../config.ts';
import { loadKeyRing } from '../../interop/signing-keys.ts';
import type { DciSender } from './messages.ts';

/**
 * The engine as a DCI sender, from the environment: ASP_SENDER_ID (default `asp-engine`), its
 * signing keys in ASP_SIGNING_KEY_DIR (default `signing-keys` in the data folder; the first key is
 * generated when none exists), and ASP_PUBLIC_URL, the address registries post callbacks to.
 */
export async function engineSender(env: NodeJS.ProcessEnv = process.env): Promise<DciSender> {
  const dir = env.ASP_SIGNING_KEY_DIR ?? path.join(loadConfig(env).ASP_DATA_DIR, 'signing-keys');
  const ring = await loadKeyRing(dir, env.ASP_SENDER_ID ?? 'asp-engine', { create: true });
  const publicUrl = env.ASP_PUBLIC_URL?.replace(/\/+$/, '');
  return { key: ring.active, callbackUrl: publicUrl ? `${publicUrl}/dci/registry/on-search` : undefined };
}
