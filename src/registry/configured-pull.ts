import { UserError } from '../errors.ts';
import type { SecretRef } from '../interop/secrets.ts';
import { DEFAULT_MAPPING } from './dci/group-record.ts';
import type { DciRegistry } from './dci/messages.ts';
import type { OpenImisPullOptions } from './openimis/pull.ts';
import type { ConfiguredRegistry } from './registries-config.ts';

/** A registry's settings: what the configuration file says, with what flags were given over it. */
export type RegistrySettings = Partial<ConfiguredRegistry>;

/** The configured settings with the given flags over them; a flag not given (undefined) keeps the file's value. */
export function withFlags(configured: RegistrySettings | undefined, flags: RegistrySettings): RegistrySettings {
  const given = Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
  return { ...configured, ...given };
}

/** A DCI registry as `pullDci` reads it, from its settings (the defaults of `asp registry pull dci`). */
export function dciRegistryOf(settings: RegistrySettings): DciRegistry {
  const url = settings.url;
  if (!url) throw new UserError(settings.name ? `no URL given and no registry ${settings.name} in the configuration` : 'give the registry URL (or --registry NAME of a configured one)');
  if (!/^https?:\/\//.test(url)) throw new UserError(`${url}: the registry URL must start with http:// or https://`);
  return {
    name: settings.name ?? url,
    url,
    receiverId: settings.receiver_id,
    jwks: settings.jwks,
    token: settings.token,
    pageSize: settings.page_size ?? 1000,
    mapping: {
      identifierType: settings.id_type,
      nationalIdType: settings.national_id_type ?? DEFAULT_MAPPING.nationalIdType,
      pcodeAttribute: settings.pcode_attribute ?? DEFAULT_MAPPING.pcodeAttribute,
    },
  };
}

/**
 * `pullOpenImis`'s options from a registry's settings (the defaults of `asp registry pull
 * openimis`): the user from $OPENIMIS_USERNAME and the password from $OPENIMIS_PASSWORD unless
 * named. A named registry keeps its pulls and cursor under its name.
 */
export function openImisOptionsOf(settings: RegistrySettings, actor: string): OpenImisPullOptions {
  const where = settings.name ? `registry ${settings.name}` : 'openIMIS';
  if (!settings.url) throw new UserError(`${where}: give the openIMIS URL (or --registry NAME of a configured one)`);
  if (!settings.benefit_plan) throw new UserError(`${where}: give --benefit-plan (or benefit_plan in the configuration)`);
  const username = settings.username ?? process.env.OPENIMIS_USERNAME;
  if (!username) throw new UserError(`${where}: say which openIMIS user pulls (--username, username in the configuration, or OPENIMIS_USERNAME)`);
  const password: SecretRef = settings.password ?? { env: 'OPENIMIS_PASSWORD' };
  const key = (value: string | undefined) => (value ? [value] : undefined);
  return {
    registry: settings.name,
    url: settings.url,
    benefitPlan: settings.benefit_plan,
    programme: settings.programme,
    username,
    password,
    pageSize: settings.page_size ?? 100,
    registryId: settings.registry_id ?? 'code',
    jsonExtKeys: { size: key(settings.size_key), pmtScore: key(settings.pmt_key), phone: key(settings.phone_key), nationalId: key(settings.national_id_key) },
    skipInvalid: settings.skip_invalid,
    actor,
  };
}
