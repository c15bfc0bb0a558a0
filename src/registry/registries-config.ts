import { fileURLToPath } from 'node:url';
import cron from 'node-cron';
import { z } from 'zod';
import { readYamlFile } from '../feeds/data-file.ts';
import { UserError } from '../errors.ts';

/**
 * Live registries named in a configuration file (ASP_REGISTRIES, default data/registries.yaml), so
 * that `asp registry pull dci --registry county-sr` needs no other flag. Credentials are named by
 * where they are (`{env: VAR}` or `{file: PATH}`), never written in the file.
 *
 * ```yaml
 * registries:
 *   - name: county-sr
 *     kind: dci
 *     url: https://sr.example.org/api
 *     receiver_id: sr.example.org
 *     jwks: https://sr.example.org/api/.well-known/jwks.json
 *     token: { env: SR_TOKEN }
 *     page_size: 1000
 *     programme: CT
 *     id_type: HouseholdID
 *     schedule: '0 2 * * *'      # pulled by the scheduler (a delta from the last cursor)
 *   - name: imis-ct
 *     kind: openimis
 *     url: https://imis.example.org
 *     benefit_plan: 6d3c1f7e-8a3b-4c1e-9f2a-1b2c3d4e5f60
 *     username: asp
 *     password: { env: OPENIMIS_PASSWORD }
 *     programme: CT
 *     schedule: '30 2 * * *'
 * ```
 */
const secretRef = z.union([z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()], {
  error: 'where the secret is, { env: VARIABLE } or { file: PATH }, never the secret itself',
});

const registrySchema = z.object({
  name: z.string().min(1),
  kind: z.enum(['dci', 'openimis']),
  url: z.string().url(),
  receiver_id: z.string().min(1).optional(),
  jwks: z.string().min(1).optional(),
  token: secretRef.optional(),
  page_size: z.number().int().min(1).max(100_000).optional(),
  programme: z.string().min(1).optional(),
  id_type: z.string().min(1).optional(),
  national_id_type: z.string().min(1).optional(),
  pcode_attribute: z.string().min(1).optional(),
  /** When the scheduler pulls it (cron, as a feed's schedule); without one it is pulled by command only. */
  schedule: z.string().refine((s) => cron.validate(s), 'not a valid cron expression').optional(),
  enabled: z.boolean().default(true),
  skip_invalid: z.boolean().optional(),
  // openIMIS: the same names as the flags of `asp registry pull openimis`.
  benefit_plan: z.string().uuid().optional(),
  username: z.string().min(1).optional(),
  password: secretRef.optional(),
  registry_id: z.enum(['code', 'uuid']).optional(),
  size_key: z.string().min(1).optional(),
  pmt_key: z.string().min(1).optional(),
  phone_key: z.string().min(1).optional(),
  national_id_key: z.string().min(1).optional(),
}).passthrough().superRefine((registry, context) => {
  // What a command may give by flag, the scheduler must find in the file.
  for (const field of ['benefit_plan', 'username'] as const) {
    if (registry.kind === 'openimis' && registry.schedule && !registry[field]) {
      context.addIssue({ code: 'custom', path: ['schedule'], message: `a scheduled openimis registry needs ${field}` });
    }
  }
});

const fileSchema = z.object({ registries: z.array(registrySchema).default([]) }).strict();

export type ConfiguredRegistry = z.infer<typeof registrySchema>;

export const defaultRegistriesFile = () =>
  process.env.ASP_REGISTRIES ?? fileURLToPath(new URL('../../data/registries.yaml', import.meta.url));

/**
 * Every registry in the file (none when there is no file: the flags say everything); a file that
 * is there must be right: problems name the file, line and field, and a name is used once.
 */
export async function loadRegistriesConfig(file = defaultRegistriesFile()): Promise<ConfiguredRegistry[]> {
  let registries: ConfiguredRegistry[];
  try {
    ({ registries } = await readYamlFile(file, fileSchema, 'the registry configuration'));
  } catch (error) {
    if (error instanceof UserError && /cannot read .*ENOENT/.test(error.message)) return [];
    throw error;
  }
  const names = new Set<string>();
  for (const registry of registries) {
    if (names.has(registry.name)) throw new UserError(`${file}: registry name ${registry.name} is used twice`);
    names.add(registry.name);
  }
  return registries;
}

/** The registry of that name and kind in the file; undefined when the file does not exist or does not name it. */
export async function configuredRegistry(name: string, kind: 'dci' | 'openimis', file = defaultRegistriesFile()): Promise<ConfiguredRegistry | undefined> {
  const found = (await loadRegistriesConfig(file)).find((r) => r.name === name);
  if (found && found.kind !== kind) throw new UserError(`${file}: registry ${name} is a ${found.kind} registry, not ${kind}`);
  return found;
}
