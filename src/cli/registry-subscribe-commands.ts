import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { DEFAULT_MAPPING } from '../registry/dci/group-record.ts';
import type { DciRegistry } from '../registry/dci/messages.ts';
import { engineSender } from '../registry/dci/sender.ts';
import { subscribeDci, unsubscribeDci } from '../registry/dci/subscriptions.ts';
import { configuredRegistry } from '../registry/registries-config.ts';
import { globals, withStore } from './context.ts';
import { report } from './output.ts';

/** `asp registry subscribe dci` and `asp registry unsubscribe dci`: pushed deltas (registry core API). */
export function registerSubscribeCommands(registry: Command): void {
  const connection = (command: Command) => command
    .requiredOption('--registry <name>', 'our name for the registry (notified changes are recorded under it); a configured registry of that name gives the defaults')
    .option('--config <file>', 'the registry configuration (default ASP_REGISTRIES, else data/registries.yaml)')
    .option('--jwks <url-or-file>', "the registry's JWKS: notifications must carry its valid signature")
    .option('--receiver-id <id>', "the registry's sender id: notifications are accepted from it only")
    .option('--token-env <variable>', 'an environment variable holding an OAuth2 bearer token for the registry')
    .option('--by <name>', 'who (recorded in the audit log)', 'cli');
  connection(registry.command('subscribe').command('dci [url]'))
    .description('subscribe to REGISTER, UPDATE and DEREGISTER events of a DCI registry; it then pushes changes to ${ASP_PUBLIC_URL}/dci/registry/notify (needs `asp serve`)')
    .option('--programme <code>', 'enrol notified households in this programme; DEREGISTER exits them from it')
    .option('--id-type <type>', 'the group_identifier type that becomes registry_id (default: the first identifier)')
    .option('--national-id-type <type>', `the identifier type of the head's national id (default ${DEFAULT_MAPPING.nationalIdType})`)
    .option('--pcode-attribute <name>', `the additional attribute that holds the P-code (default ${DEFAULT_MAPPING.pcodeAttribute})`)
    .action(async (givenUrl: string | undefined, opts, cmd: Command) => {
      const publicUrl = loadConfig().ASP_PUBLIC_URL?.replace(/\/+$/, '');
      if (!publicUrl) throw new UserError('a subscription needs ASP_PUBLIC_URL: the address at which the registry reaches our /dci/registry/notify');
      const { dci, configured } = await subscribedRegistry(givenUrl, opts);
      const programme: string | undefined = opts.programme ?? configured?.programme;
      await withStore(globals(cmd), async (store) => {
        const subscriptions = await subscribeDci(store, dci, await engineSender(), { programme, actor: opts.by, callbackBase: `${publicUrl}/dci/registry` });
        report(globals(cmd).json, { registry: dci.name, subscriptions }, () => [
          `${dci.name}: subscribed${programme ? ` for programme ${programme}` : ''}; notifications to ${publicUrl}/dci/registry/notify`,
          ...subscriptions.map((s) => `  ${s.eventType}: subscription ${s.code}`),
        ]);
      });
    });
  connection(registry.command('unsubscribe').command('dci [url]'))
    .description("end the registry's live subscriptions: its notifications are refused from now on")
    .action(async (givenUrl: string | undefined, opts, cmd: Command) => {
      const { dci } = await subscribedRegistry(givenUrl, opts);
      await withStore(globals(cmd), async (store) => {
        const codes = await unsubscribeDci(store, dci, await engineSender(), opts.by);
        report(globals(cmd).json, { registry: dci.name, ended: codes }, () => [`${dci.name}: unsubscribed ${codes.join(', ')}`]);
      });
    });
}

async function subscribedRegistry(givenUrl: string | undefined, opts: Record<string, string | undefined>) {
  const configured = await configuredRegistry(opts.registry!, 'dci', opts.config);
  const url = givenUrl ?? configured?.url;
  if (!url || !/^https?:\/\//.test(url)) throw new UserError(url ? `${url}: the registry URL must start with http:// or https://` : `no URL given and no registry ${opts.registry} in the configuration`);
  const dci: DciRegistry = {
    name: opts.registry!,
    url,
    receiverId: opts.receiverId ?? configured?.receiver_id,
    jwks: opts.jwks ?? configured?.jwks,
    token: opts.tokenEnv ? { env: opts.tokenEnv } : configured?.token,
    pageSize: 1,
    mapping: {
      identifierType: opts.idType ?? configured?.id_type,
      nationalIdType: opts.nationalIdType ?? configured?.national_id_type ?? DEFAULT_MAPPING.nationalIdType,
      pcodeAttribute: opts.pcodeAttribute ?? configured?.pcode_attribute ?? DEFAULT_MAPPING.pcodeAttribute,
    },
  };
  return { dci, configured };
}
