import path from 'node:path';
import { loadConfig } from '../config.ts';
import { loadKeyRing, type KeyRing } from './signing-keys.ts';

/** The engine's signing key folder: ASP_SIGNING_KEY_DIR, else signing-keys in the data folder. */
export function signingKeyDir(dataDir?: string): string {
  const config = loadConfig();
  return config.ASP_SIGNING_KEY_DIR ?? path.join(dataDir ?? config.ASP_DATA_DIR, 'signing-keys');
}

/** The engine's key ring; its first key is generated on first use and kept from then on. */
export function engineKeyRing(dataDir?: string): Promise<KeyRing> {
  return loadKeyRing(signingKeyDir(dataDir), loadConfig().ASP_SENDER_ID, { create: true });
}
