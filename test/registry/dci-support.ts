import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadKeyRing, jwksOf, type KeyRing } from '../../src/interop/signing-keys.ts';
import { DEFAULT_MAPPING } from '../../src/registry/dci/group-record.ts';
import type { DciRegistry, DciSender } from '../../src/registry/dci/messages.ts';
import type { Store } from '../../src/db/store.ts';
import { startDciPeer, type DciPeer, type DciPeerOptions } from '../peers/dci-registry.ts';

/** The engine's key ring in a temp folder, as a DCI sender. */
export async function testSender(callbackUrl?: string): Promise<{ sender: DciSender; ring: KeyRing; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-dci-keys-'));
  const ring = await loadKeyRing(dir, 'asp-engine', { create: true });
  return { sender: { key: ring.active, callbackUrl }, ring, dir };
}

/** Demoland's district P-codes, which the peer spreads its households over. */
export async function districtPcodes(store: Store): Promise<string[]> {
  const rows = await store.db.selectFrom('admin_areas').select('pcode').where('level', '=', 2).orderBy('pcode').execute();
  return rows.map((r) => r.pcode);
}

/** A peer that checks the engine's signatures against its published keys, and the registry as the engine sees it. */
export async function peerAndRegistry(
  ring: KeyRing,
  options: Omit<DciPeerOptions, 'engineJwks'>,
  registry: Partial<DciRegistry> = {},
): Promise<{ peer: DciPeer; registry: DciRegistry }> {
  const peer = await startDciPeer({ ...options, engineJwks: () => jwksOf(ring) });
  return {
    peer,
    registry: {
      name: 'sr',
      url: peer.url,
      receiverId: peer.senderId,
      jwks: `${peer.url}/.well-known/jwks.json`,
      pageSize: 1000,
      mapping: { ...DEFAULT_MAPPING, identifierType: 'HouseholdID' },
      ...registry,
    },
  };
}
