import { fileURLToPath } from 'node:url';
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
 * ```
 */
const secretRef = z.union([z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]);

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
}).passthrough();

const fileSchema = z.object({ registries: z.array(registrySchema).default([]) }).strict();

export type ConfiguredRegistry = z.infer<typeof registrySchema>;

export const defaultRegistriesFile = () =>
  process.env.ASP_REGISTRIES ?? fileURLToPath(new URL('../../data/registries.yaml', import.meta.url));

/** The registry of that name and kind in the file; undefined when the file does not exist or does not name it. */
export async function configuredRegistry(name: string, kind: 'dci' | 'openimis', file = defaultRegistriesFile()): Promise<ConfiguredRegistry | undefined> {
  let registries: ConfiguredRegistry[];
  try {
    ({ registries } = await readYamlFile(file, fileSchema, 'the registry configuration'));
  } catch (error) {
    // No file is no configuration (the flags say everything); a file that is there must be right.
    if (error instanceof UserError && /cannot read .*ENOENT/.test(error.message)) return undefined;
    throw error;
  }
  const found = registries.find((r) => r.name === name);
  if (found && found.kind !== kind) throw new UserError(`${file}: registry ${name} is a ${found.kind} registry, not ${kind}`);
  return found;
}
