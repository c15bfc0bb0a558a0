import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { checkBenefitPlanId } from '../registry/openimis/group-beneficiaries.ts';
import { pullOpenImis } from '../registry/openimis/pull.ts';
import { openImisOptionsOf, withFlags } from '../registry/configured-pull.ts';
import { configuredRegistry } from '../registry/registries-config.ts';
import { globals, sinceInstant, wholeNumber, withStore } from './context.ts';
import { report } from './output.ts';
import { progress } from './progress.ts';

interface PullFlags {
  registry?: string;
  config?: string;
  benefitPlan?: string;
  programme?: string;
  since?: Date;
  full?: boolean;
  username?: string;
  passwordEnv?: string;
  passwordFile?: string;
  pageSize?: number;
  registryId?: 'code' | 'uuid';
  sizeKey?: string;
  pmtKey?: string;
  phoneKey?: string;
  nationalIdKey?: string;
  skipInvalid?: boolean;
  by: string;
}

/**
 * `asp registry pull openimis URL --benefit-plan ID [--programme CODE] [--since ISO | --full]
 * [--username U --password-env VAR | --password-file F] [--page-size N]`, or `asp registry pull
 * openimis --registry NAME` of a configured one (flags override the file), registered under the
 * `asp registry pull` command.
 */
export function registerOpenImisPull(pull: Command): void {
  pull
    .command('openimis [url]')
    .description("pull a benefit plan's households from openIMIS (GraphQL): every active one, or what changed since the last pull (a delta); upserts by group code")
    .option('--registry <name>', 'a registry of that name in the configuration file gives the defaults of every other option; its pulls and cursor are kept under the name')
    .option('--config <file>', 'the registry configuration (default ASP_REGISTRIES, else data/registries.yaml)')
    .option('--benefit-plan <uuid>', "the benefit plan's id (UUID)")
    .option('--programme <code>', 'enrol the households in this programme; a beneficiary no longer active exits it')
    .option('--since <iso>', 'a delta from this instant (default: where the last pull of this plan left off)', sinceInstant)
    .option('--full', 'every active beneficiary, even when an earlier pull left a cursor')
    .option('--username <name>', 'openIMIS service user (default $OPENIMIS_USERNAME)')
    .option('--password-env <var>', 'environment variable holding the password (default OPENIMIS_PASSWORD)')
    .option('--password-file <file>', 'file holding the password')
    .option('--page-size <n>', 'groups per page (openIMIS allows 100 unless RELAY_CONNECTION_MAX_LIMIT was raised)', wholeNumber('--page-size'))
    .option('--registry-id <field>', 'what becomes registry_id: code | uuid (default code)')
    .option('--size-key <key>', 'jsonExt key of the household size (default number_of_members, household_size, size)')
    .option('--pmt-key <key>', 'jsonExt key of the PMT score (default pmt_score, poverty_score)')
    .option('--phone-key <key>', 'jsonExt key of the phone (default phone, phone_number, mobile_number)')
    .option('--national-id-key <key>', 'jsonExt key of the national id (default national_id, national_id_number, nin)')
    .option('--skip-invalid', 'import the good households and report the bad ones instead of importing nothing')
    .option('--by <name>', 'who pulls (recorded with the pull)', 'cli')
    .action(async (url: string | undefined, opts: PullFlags, cmd: Command) => {
      const g = globals(cmd);
      if (opts.since && opts.full) throw new UserError('--since and --full: give one or the other');
      if (opts.passwordEnv && opts.passwordFile) throw new UserError('--password-env and --password-file: give one or the other');
      if (opts.registryId && opts.registryId !== 'code' && opts.registryId !== 'uuid') throw new UserError(`--registry-id ${opts.registryId}: use code or uuid`);
      if (opts.benefitPlan) checkBenefitPlanId(opts.benefitPlan);
      const configured = opts.registry ? await configuredRegistry(opts.registry, 'openimis', opts.config) : undefined;
      if (opts.registry && !configured && !url) throw new UserError(`no URL given and no registry ${opts.registry} in the configuration`);
      const password = opts.passwordFile ? { file: opts.passwordFile } : opts.passwordEnv ? { env: opts.passwordEnv } : undefined;
      const options = openImisOptionsOf(withFlags(configured, {
        name: opts.registry, url, benefit_plan: opts.benefitPlan, programme: opts.programme, username: opts.username, password,
        page_size: opts.pageSize, registry_id: opts.registryId, size_key: opts.sizeKey, pmt_key: opts.pmtKey, phone_key: opts.phoneKey,
        national_id_key: opts.nationalIdKey, skip_invalid: opts.skipInvalid,
      }), opts.by);
      await withStore(g, async (store) => {
        const pulled = progress(g).meter('pulling', 'households');
        const result = await pullOpenImis(store, { ...options, since: opts.since, full: opts.full, onProgress: pulled.update }).finally(pulled.stop);
        report(g.json, result, () => [
          `${opts.registry ?? options.url}: ${result.mode} pull #${result.pull}${result.since ? ` of changes since ${result.since}` : ''}, ${result.stats.pages} page(s): ` +
            `${result.rows} households, ${result.inserted} new, ${result.updated} updated, ${result.unchanged} unchanged, ${result.rejected} rejected, ${result.enrolled} enrolments`,
          ...result.problems.map((p) => `  ${p}`),
          `the next pull asks for changes since ${result.cursor}`,
        ]);
      });
    });
}
