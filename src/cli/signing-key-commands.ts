import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { addSigningKey, jwksOf, loadKeyRing, retireSigningKey } from '../interop/signing-keys.ts';
import { signingKeyDir } from '../interop/engine-keys.ts';
import { globals } from './context.ts';
import { report } from './output.ts';

/**
 * `asp keys signing rotate|retire|jwks`: the engine's ed25519 keys that sign messages to payment
 * hubs and registries (ASP_SIGNING_KEY_DIR). Rotation adds a key that signs from then on; the
 * older ones stay published at /.well-known/jwks.json until retired, so messages in flight verify.
 */
export function registerSigningKeyCommands(program: Command): void {
  const keys = program.commands.find((c) => c.name() === 'keys') ?? program.command('keys');
  const signing = keys.command('signing').description('the engine’s message signing keys, published at /.well-known/jwks.json');
  signing
    .command('rotate')
    .description('add a new signing key; it signs from now on, the older ones stay published until retired')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      const keyId = await addSigningKey(signingKeyDir(g.dataDir));
      report(g.json, { keyId }, () => [`signing key ${keyId} added: it signs from now on (retire the old one once messages in flight are answered)`]);
    });
  signing
    .command('retire <keyId>')
    .description('stop publishing a key (kept in retired/, not deleted)')
    .action(async (keyId: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await retireSigningKey(signingKeyDir(g.dataDir), keyId);
      report(g.json, { retired: keyId }, () => [`signing key ${keyId} retired`]);
    });
  signing
    .command('jwks')
    .description('print the published public keys (what /.well-known/jwks.json serves)')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      const ring = await loadKeyRing(signingKeyDir(g.dataDir), loadConfig().ASP_SENDER_ID, { create: false });
      process.stdout.write(`${JSON.stringify(jwksOf(ring), null, 2)}\n`);
    });
}
