import type { Command } from 'commander';
import { createApiKey, listApiKeys, revokeApiKey } from '../api/keys.ts';
import { asOfOption } from './activation-commands.ts';
import { globals, withStore } from './context.ts';
import { report } from './output.ts';

/** `asp keys create|list|revoke`: API keys, shown once and stored hashed. */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('API keys for the HTTP API and the dashboard');
  keys
    .command('create')
    .description('create a key; it is shown once (store it now), only its hash is kept')
    .requiredOption('--role <role>', 'admin, rule-author, coordinator, approver or partner')
    .option('--partner <id>', 'the partner a partner key belongs to')
    .option('--label <text>', 'a name for the key, recorded with every act done with it')
    .option('--expires <date>', 'the key stops working then (YYYY-MM-DD: the end of that day, UTC; or an ISO date-time)')
    .requiredOption('--by <name>', 'who creates it (recorded)')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      const expiresAt = opts.expires === undefined ? null : new Date(asOfOption(opts.expires)!);
      await withStore(g, async (store) => {
        const { key, caller } = await createApiKey(store, { role: opts.role, partnerId: opts.partner, label: opts.label, expiresAt }, opts.by);
        report(g.json, { key, ...caller, expiresAt }, () => [key, `(${caller.label}: shown once, keep it safe${expiresAt ? `; expires ${expiresAt.toISOString()}` : ''})`]);
      });
    });
  keys
    .command('list')
    .description('keys (never the keys themselves)')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const rows = await listApiKeys(store);
        report(g.json, rows, () => (rows.length ? rows.map((k) => `${k.id}  ${k.role}${k.partnerId ? ` (${k.partnerId})` : ''}  ${k.label}${k.revokedAt ? '  REVOKED' : k.expiresAt ? `  expires ${k.expiresAt.toISOString()}` : ''}`) : ['no keys (asp keys create)']));
      });
    });
  keys
    .command('revoke <id>')
    .description('revoke a key by its id')
    .action(async (id: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        await revokeApiKey(store, id);
        report(g.json, { revoked: id }, () => [`key ${id} revoked`]);
      });
    });
}
