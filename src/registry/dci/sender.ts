import { loadConfig } from '../../config.ts';
import { engineKeyRing } from '../../interop/engine-keys.ts';
import type { DciSender } from './messages.ts';

/**
 * The engine as a DCI sender: ASP_SENDER_ID, its active signing key (ASP_SIGNING_KEY_DIR; the first
 * key is generated when none exists), and ASP_PUBLIC_URL, the address registries post callbacks to.
 */
export async function engineSender(): Promise<DciSender> {
  const ring = await engineKeyRing();
  const publicUrl = loadConfig().ASP_PUBLIC_URL?.replace(/\/+$/, '');
  return { key: ring.active, callbackUrl: publicUrl ? `${publicUrl}/dci/registry/on-search` : undefined };
}
