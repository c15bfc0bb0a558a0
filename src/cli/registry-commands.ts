import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { dciRegistryOf, withFlags } from '../registry/configured-pull.ts';
import { DEFAULT_MAPPING } from '../registry/dci/group-record.ts';
import { asyncSearch } from '../registry/dci/async-search.ts';
import { pullDci } from '../registry/dci/pull.ts';
import { engineSender } from '../registry/dci/sender.ts';
import { configuredRegistry, loadRegistriesConfig } from '../registry/registries-config.ts';
import { describeRegistryStatus, registryStatus } from '../registry/registry-status.ts';
import { globals, sinceInstant, wholeNumber, withStore } from './context.ts';
import { registerOpenImisPull } from './openimis-pull-command.ts';
import { registerSubscribeCommands } from './registry-subscribe-commands.ts';
import { report } from './output.ts';
import { progress } from './progress.ts';

/** `asp registry pull dci URL ...` and `asp registry status`, added to the existing `asp registry` command. */
export function registerRegistryCommands(registry: Command): void {
  registry
    .command('status')
    .description('each configured registry: kind, schedule, last pull (when, mode, status, counts), cursor, last error')
    .option('--config <file>', 'the registry configuration (default ASP_REGISTRIES, else data/registries.yaml)')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      const registries = await loadRegistriesConfig(opts.config);
      await withStore(g, async (store) => {
        const status = await registryStatus(store, registries);
        report(g.json, status, () => (status.length === 0 ? ['no registries configured (data/registries.yaml or ASP_REGISTRIES)'] : status.map(describeRegistryStatus)));
      });
    });
  const pull = registry.command('pull').description('pull households from a live registry (recorded; the next pull is a delta)');
  registerOpenImisPull(pull);
  registerSubscribeCommands(registry);
  pull
    .command('dci [url]')
    .description('pull Groups from a DCI Social Registry (SR API 1.0.0) at URL: signed sync/search, paged; all or nothing')
    .option('--registry <name>', 'the name pulls and their cursor are kept under (default: the URL); a registry of that name in the configuration file gives the defaults of every other option')
    .option('--config <file>', 'the registry configuration (default ASP_REGISTRIES, else data/registries.yaml)')
    .option('--since <iso>', 'pull groups changed since then (default: the last successful pull of this registry)', sinceInstant)
    .option('--full', 'pull every group, even when an earlier pull left a cursor')
    .option('--programme <code>', 'enrol the pulled households in this programme (active unless the registry says exited)')
    .option('--page-size <n>', 'groups per page (default 1000)', wholeNumber('--page-size'))
    .option('--skip-invalid', 'import the good households and report the bad ones instead of importing nothing')
    .option('--async', 'use the async search with on-search callbacks to ASP_PUBLIC_URL (large pulls; needs `asp serve` reachable)')
    .option('--jwks <url-or-file>', "the registry's JWKS: its answers must then carry its valid signature")
    .option('--receiver-id <id>', "the registry's sender id (header.receiver_id; with --jwks, the only signer accepted)")
    .option('--token-env <variable>', 'an environment variable holding an OAuth2 bearer token for the registry')
    .option('--id-type <type>', 'the group_identifier type that becomes registry_id (default: the first identifier)')
    .option('--national-id-type <type>', `the identifier type of the head's national id (default ${DEFAULT_MAPPING.nationalIdType})`)
    .option('--pcode-attribute <name>', `the additional attribute that holds the P-code (default ${DEFAULT_MAPPING.pcodeAttribute})`)
    .option('--by <name>', 'who pulls (recorded in the audit log)', 'cli')
    .action(async (givenUrl: string | undefined, opts, cmd: Command) => {
      const g = globals(cmd);
      if (opts.since && opts.full) throw new UserError('give --since or --full, not both');
      const configured = opts.registry ? await configuredRegistry(opts.registry, 'dci', opts.config) : undefined;
      const settings = withFlags(configured, {
        name: opts.registry, url: givenUrl, receiver_id: opts.receiverId, jwks: opts.jwks, token: opts.tokenEnv ? { env: opts.tokenEnv } : undefined,
        page_size: opts.pageSize, id_type: opts.idType, national_id_type: opts.nationalIdType, pcode_attribute: opts.pcodeAttribute,
      });
      const dci = dciRegistryOf(settings);
      const programme: string | undefined = opts.programme ?? configured?.programme;
      const sender = await engineSender();
      await withStore(g, async (store) => {
        const pulled = progress(g).meter('pulling', 'households');
        const result = await pullDci(store, dci, sender, {
          since: opts.since, full: opts.full, programme, skipInvalid: opts.skipInvalid,
          onProgress: pulled.update, actor: opts.by, source: opts.async ? asyncSearch(store) : undefined,
        }).finally(pulled.stop);
        report(g.json, result, () => [
          `${dci.name}: ${result.mode} pull${result.since ? ` since ${result.since.toISOString()}` : ''}: ${result.rows} households, ${result.inserted} new, ${result.updated} updated, ${result.unchanged} unchanged, ${result.rejected} rejected, ${result.enrolled} enrolments`,
          ...result.problems.map((p) => `  ${p}`),
          `next delta from ${result.cursor.toISOString()} (pull ${result.pull})`,
        ]);
      });
    });
}
