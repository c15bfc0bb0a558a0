import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { openImisOptionsOf, withFlags } from '../../src/registry/configured-pull.ts';
import { configuredRegistry, loadRegistriesConfig } from '../../src/registry/registries-config.ts';
import { tempFile } from '../support/files.ts';
import { projectRoot } from '../support/paths.ts';

const PLAN = '6d3c1f7e-8a3b-4c1e-9f2a-1b2c3d4e5f60';

/** The problems readYamlFile lists for a configuration that is refused. */
async function problems(yaml: string, name = 'bad-registries.yaml'): Promise<string[]> {
  const file = await tempFile(name, yaml);
  try {
    await loadRegistriesConfig(file);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return [(error as UserError).message, ...((error as UserError & { details?: string[] }).details ?? [])];
  }
  throw new Error('the configuration was accepted');
}

describe('the registry configuration', () => {
  it('reads a scheduled DCI and openIMIS registry, enabled unless it says not', async () => {
    const file = await tempFile('registries.yaml', [
      'registries:',
      '  - { name: sr, kind: dci, url: "https://sr.example.org/api", schedule: "0 2 * * *", token: { env: SR_TOKEN } }',
      `  - { name: imis, kind: openimis, url: "https://imis.example.org", benefit_plan: ${PLAN}, username: asp,`,
      '      password: { file: /run/secrets/imis }, schedule: "30 2 * * *", enabled: false, registry_id: uuid, pmt_key: pmt }',
    ].join('\n'));
    expect(await loadRegistriesConfig(file)).toMatchObject([
      { name: 'sr', kind: 'dci', schedule: '0 2 * * *', enabled: true, token: { env: 'SR_TOKEN' } },
      { name: 'imis', kind: 'openimis', schedule: '30 2 * * *', enabled: false, benefit_plan: PLAN, password: { file: '/run/secrets/imis' } },
    ]);
    expect(await configuredRegistry('imis', 'openimis', file)).toMatchObject({ username: 'asp', registry_id: 'uuid', pmt_key: 'pmt' });
    await expect(configuredRegistry('imis', 'dci', file)).rejects.toThrow(`${file}: registry imis is a openimis registry, not dci`);
  });

  it('names the file, line and field of a bad schedule and of a password written in clear (never repeating it)', async () => {
    const [message, ...details] = await problems([
      'registries:',
      '  - name: sr',
      '    kind: dci',
      '    url: https://sr.example.org/api',
      '    schedule: every night',
      '  - name: imis',
      '    kind: openimis',
      '    url: https://imis.example.org',
      '    password: hunter2',
    ].join('\n'));
    const file = message.split(':')[0];
    expect(message).toBe(`${file}: the registry configuration is invalid`);
    expect(details).toEqual([
      `${file}:5: registries.0.schedule: not a valid cron expression`,
      `${file}:9: registries.1.password: where the secret is, { env: VARIABLE } or { file: PATH }, never the secret itself`,
    ]);
  });

  it('refuses a scheduled openIMIS registry without its benefit plan or user, which a command could take as flags', async () => {
    const [message, ...details] = await problems('registries:\n  - name: imis\n    kind: openimis\n    url: https://imis.example.org\n    schedule: "0 2 * * *"\n', 'unscheduled.yaml');
    const file = message.split(':')[0];
    expect(details).toEqual([
      `${file}:5: registries.0.schedule: a scheduled openimis registry needs benefit_plan`,
      `${file}:5: registries.0.schedule: a scheduled openimis registry needs username`,
    ]);
    const unscheduled = await tempFile('by-flags.yaml', 'registries:\n  - name: imis\n    kind: openimis\n    url: https://imis.example.org\n');
    expect(await loadRegistriesConfig(unscheduled)).toMatchObject([{ name: 'imis', enabled: true }]);
  });

  it('refuses a name used twice, and reads no file as no registries', async () => {
    const [message] = await problems('registries:\n  - { name: sr, kind: dci, url: "https://a.example.org" }\n  - { name: sr, kind: dci, url: "https://b.example.org" }\n', 'twice.yaml');
    expect(message).toMatch(/twice\.yaml: registry name sr is used twice$/);
    expect(await loadRegistriesConfig('/nonexistent/registries.yaml')).toEqual([]);
  });

  it('the shipped data/registries.yaml is valid, and its commented example too', async () => {
    const shipped = path.join(projectRoot, 'data/registries.yaml');
    expect(await loadRegistriesConfig(shipped)).toEqual([]);
    // The example with its leading '#' taken off; the prose above it ('# Live…') left out.
    const uncommented = (await readFile(shipped, 'utf8')).split('\n')
      .filter((line) => !/^# \S/.test(line)).map((line) => line.replace(/^#/, '')).join('\n').replace('registries: []', 'registries:');
    const example = await loadRegistriesConfig(await tempFile('example.yaml', uncommented));
    expect(example.map((r) => [r.name, r.kind, r.schedule])).toEqual([['county-sr', 'dci', '0 2 * * *'], ['imis-ct', 'openimis', '30 2 * * *']]);
  });

  it('flags override the file, a flag not given keeps the file value', () => {
    const configured = { name: 'imis', kind: 'openimis' as const, url: 'https://imis.example.org', enabled: true, benefit_plan: PLAN, username: 'asp', page_size: 50, programme: 'CT' };
    const options = openImisOptionsOf(withFlags(configured, { page_size: 10, username: undefined, programme: undefined }), 'ops');
    expect(options).toMatchObject({ registry: 'imis', url: 'https://imis.example.org', benefitPlan: PLAN, username: 'asp', pageSize: 10, programme: 'CT', password: { env: 'OPENIMIS_PASSWORD' }, registryId: 'code', actor: 'ops' });
    expect(() => openImisOptionsOf({ name: 'x', url: 'https://imis.example.org' }, 'ops')).toThrow('registry x: give --benefit-plan (or benefit_plan in the configuration)');
  });
});
