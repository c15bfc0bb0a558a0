import { Command, InvalidArgumentError } from 'commander';
import { importAreas } from './areas/import-areas.ts';
import { importAreaCodes } from './areas/area-codes.ts';
import { importSeasons } from './areas/import-seasons.ts';
import { migrate } from './db/migrate.ts';
import { loadDemo } from './demo/load-demo.ts';
import { approveDemoRules } from './demo/demo-rules.ts';
import { isUserError } from './errors.ts';
import { log } from './log.ts';
import { importRegistry } from './registry/import-registry.ts';
import { listProgrammes, upsertProgramme } from './registry/programmes.ts';
import { report } from './cli/output.ts';
import { mebibytes, progress } from './cli/progress.ts';
import { globals, withStore } from './cli/context.ts';
import { start } from './main.ts';
import { loadConfig } from './config.ts';
import { loadFeedsConfig } from './feeds/config.ts';
import { feedHealth, listQuarantine } from './feeds/health.ts';
import { ingestOnce, runFeed, type RunSummary } from './feeds/run-feed.ts';
import { UserError } from './errors.ts';
import { formatProblem, loadRules } from './rules/load.ts';
import { ruleJsonSchema } from './rules/json-schema.ts';
import { dryRunRule } from './engine/dry-run.ts';
import { notTriggeredReasons, warningsForRules } from './engine/rule-data-check.ts';
import { describeEstimate } from './engine/estimate.ts';
import { approveRuleVersion, listRuleVersions, retireRule, storeRuleVersions, type RuleVersionRow } from './rules/versions.ts';
import { fileURLToPath } from 'node:url';
import { registerBacktestCommand } from './cli/backtest-command.ts';
import { asOfOption, describeEvaluation, registerActivationCommands } from './cli/activation-commands.ts';
import { evaluateActivations } from './engine/activations.ts';
import { registerListCommands } from './cli/list-commands.ts';
import { registerNamedListCommands } from './cli/named-list-commands.ts';
import { registerKeyCommands } from './cli/key-commands.ts';
import { registerPartnerCommands, registerReleaseCommands } from './cli/release-commands.ts';
import { registerReconcileCommands } from './cli/reconcile-commands.ts';
import { registerDisburseCommands } from './cli/disburse-commands.ts';
import { registerSigningKeyCommands } from './cli/signing-key-commands.ts';
import { registerAuditCommands, registerDbCommands } from './cli/audit-commands.ts';
import { registerRegistryCommands } from './cli/registry-commands.ts';

const integer = (name: string) => (value: string) => {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(value);
};
const number = (name: string) => (value: string) => {
  if (!Number.isFinite(Number(value)) || value.trim() === '') throw new InvalidArgumentError(`${name} must be a number`);
  return Number(value);
};

export function buildCli(): Command {
  const program = new Command('asp')
    .description('asp-engine: adaptive social protection early warning and shock response')
    .option('--db <url>', 'PostgreSQL + PostGIS URL (else DATABASE_URL, else the embedded database)')
    .option('--data-dir <dir>', 'folder of the embedded database (else ASP_DATA_DIR, default .asp-data)')
    .option('--json', 'print the result as JSON')
    .showHelpAfterError()
    // Set before the subcommands are added so that they inherit it: usage errors throw
    // (and exit 2 below) instead of calling process.exit(1).
    .exitOverride();

  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      // withStore already migrates; report what is applied.
      await withStore(g, async (store) => {
        const results = await migrate(store);
        report(g.json, { applied: results.map((r) => r.migrationName) }, () => ['database schema is up to date']);
      });
    });

  const areas = program.command('areas').description('administrative boundaries with P-codes');
  areas
    .command('import <file>')
    .description('import a GeoJSON FeatureCollection of one admin level (COD-AB style); re-import updates in place')
    .requiredOption('--level <n>', 'admin level of the features (1 = ADM1)', integer('--level'))
    .option('--pcode-field <field>', 'property with the P-code (default ADM{N}_PCODE)')
    .option('--name-field <field>', 'property with the name (default ADM{N}_EN)')
    .option('--parent-field <field>', "property with the parent's P-code (default ADM{N-1}_PCODE from level 2)")
    .option('--iso3 <code>', 'ISO3 country code (default an ISO3 property, else the parent’s)')
    .action(async (file: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const result = await importAreas(store, file, opts);
        report(g.json, result, () => [
          `${file}: level ${result.level}, ${result.features} areas (${result.inserted} new, ${result.updated} updated)`,
          ...result.repaired.map((r) => `  repaired invalid geometry of ${r.pcode}: ${r.reason}`),
        ]);
      });
    });

  areas
    .command('codes <file>')
    .description('import codes of other schemes (CAP geocodes, IPC areas) → P-codes: CSV scheme,code,pcode')
    .action(async (file: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const result = await importAreaCodes(store, file);
        report(g.json, result, () => [
          `${file}: ${result.rows} codes`,
          ...(result.unknownPcodes.length ? [`  not (yet) among the admin areas: ${result.unknownPcodes.join(', ')}`] : []),
        ]);
      });
    });

  areas
    .command('seasons <file>')
    .description('load season calendars for end_of_season rules: CSV pcode,season,start,end (MM-DD; an end before the start runs into the next year); replaces the calendars of the P-codes named, all rows or none')
    .action(async (file: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const result = await importSeasons(store, file);
        report(g.json, result, () => [
          `${file}: ${result.seasons} season(s) for ${result.areas.length} area(s)`,
          ...(result.crossingYear.length ? [`  running into the next year: ${result.crossingYear.join(', ')}`] : []),
        ]);
      });
    });

  const programmes = program.command('programmes').description('the programmes a scale-up extends');
  programmes
    .command('add <code>')
    .description('create or update a programme')
    .requiredOption('--name <name>', 'programme name')
    .requiredOption('--currency <iso4217>', 'currency, e.g. KES')
    .requiredOption('--base-amount <amount>', 'regular transfer value per household', number('--base-amount'))
    .option('--frequency <f>', 'once | weekly | monthly | bimonthly | quarterly', 'monthly')
    .action(async (code: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const programme = await upsertProgramme(store, {
          code, name: opts.name, currency: opts.currency, base_amount: opts.baseAmount, frequency: opts.frequency,
        });
        report(g.json, programme, () => [`programme ${programme.code} saved`]);
      });
    });
  programmes
    .command('list')
    .description('list programmes')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const list = await listProgrammes(store);
        report(g.json, list, () => list.map((p) => `${p.code}\t${p.name}\t${p.base_amount} ${p.currency} ${p.frequency}`));
      });
    });

  const registry = program.command('registry').description('the household registry');
  registry
    .command('import <file>')
    .description('import households from CSV (see README); upserts by registry_id')
    .option('--skip-invalid', 'import the good rows and write the bad ones to a rejects file')
    .option('--rejects <file>', 'where rejected rows go (default FILE.rejects.csv)')
    .option('--programme <code>', 'also enrol every imported household in this programme')
    .action(async (file: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const read = progress(g).meter('importing', 'MiB', mebibytes);
        const result = await importRegistry(store, file, {
          skipInvalid: opts.skipInvalid,
          rejectsFile: opts.rejects,
          programme: opts.programme,
          onProgress: read.update,
        }).finally(read.stop);
        report(g.json, result, () => [
          `${file}: ${result.rows} rows, ${result.inserted} households new, ${result.updated} updated, ${result.unchanged} unchanged, ${result.rejected} rejected, ${result.enrolled} enrolments`,
          ...result.problems.map((p) => `  ${p}`),
          ...(result.rejectsFile ? [`rejected rows written to ${result.rejectsFile}`] : []),
        ]);
      });
    });

  registerRegistryCommands(registry);

  program
    .command('ingest <source> <target>')
    .description('ingest one payload: SOURCE gdacs | usgs | cap | ipc | indicators, TARGET a file or URL')
    .action(async (source: string, target: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const run = await ingestOnce(store, source, target);
        const evaluation = hasNewData(run) ? await evaluateActivations(store) : null;
        report(g.json, { ...run, evaluation }, () => [describeRun(run), ...(evaluation ? describeEvaluation(evaluation) : [])]);
        // A payload nothing could be read from is the user's to fix: exit 2.
        if (run.status === 'failed') process.exitCode = run.payloadErrors.length > 0 ? 2 : 1;
      });
    });

  const feeds = program.command('feeds').description('configured feeds (ASP_FEEDS, default data/feeds.yaml)');
  feeds
    .command('run [name]')
    .description('run the configured feeds once (all enabled ones, or the one named)')
    .option('--config <file>', 'feed configuration file')
    .action(async (name: string | undefined, opts, cmd: Command) => {
      const g = globals(cmd);
      const config = await loadFeedsConfig(opts.config ?? loadConfig().ASP_FEEDS);
      const chosen = name ? config.filter((f) => f.name === name) : config.filter((f) => f.enabled);
      if (name && chosen.length === 0) throw new UserError(`no feed named ${name} in the configuration`);
      await withStore(g, async (store) => {
        const runs: RunSummary[] = [];
        for (const feed of chosen) {
          try {
            runs.push(await runFeed(store, feed));
          } catch (error) {
            // Recorded as a failed run by runFeed; the other feeds still run.
            log.error({ feed: feed.name, err: { message: (error as Error).message } }, 'feed run crashed');
            process.exitCode = 1;
          }
        }
        const evaluation = runs.some(hasNewData) ? await evaluateActivations(store) : null;
        report(g.json, { runs, evaluation }, () => [...runs.map(describeRun), ...(evaluation ? describeEvaluation(evaluation) : [])]);
        if (runs.some((r) => r.status === 'failed')) process.exitCode = 1;
      });
    });
  feeds
    .command('status')
    .description('feed health: last success, last error, consecutive failures, stale')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const health = await feedHealth(store);
        report(g.json, health, () =>
          health.length === 0
            ? ['no feeds have run yet (asp feeds run)']
            : health.map((f) =>
                [
                  `${f.name} (${f.adapter}${f.enabled ? '' : ', disabled'})`,
                  `last success ${f.lastSuccessAt?.toISOString() ?? 'never'}`,
                  `new data ${f.lastNewDataAt?.toISOString() ?? 'never'}${f.stale ? ' STALE' : ''}`,
                  f.consecutiveFailures ? `${f.consecutiveFailures} failure(s), last: ${f.lastError}` : 'ok',
                  `${f.quarantined} quarantined`,
                ].join(' · '),
              ),
        );
      });
    });
  feeds
    .command('quarantine')
    .description('records and payloads that were refused, with the reason (newest first)')
    .option('--limit <n>', 'how many', integer('--limit'), 200)
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const entries = await listQuarantine(store, opts.limit);
        report(g.json, entries, () =>
          entries.length === 0 ? ['quarantine is empty'] : entries.map((q) => `#${q.id} ${q.source} ${q.url ?? ''} ${q.location}: ${q.reason}`),
        );
      });
    });

  const rules = program.command('rules').description('shock rules (YAML files in rules/)');
  rules
    .command('check [path]')
    .description('validate rule files; print every problem as file:line:column: field: message (exit 2 on any)')
    .action(async (target: string | undefined, _opts, cmd: Command) => {
      const g = globals(cmd);
      const path = target ?? defaultRules();
      const { rules: loaded, problems } = await loadRules(path);
      report(g.json, { rules: loaded.map((r) => ({ file: r.file, id: r.rule.id, hash: r.hash })), problems }, () => [
        ...loaded.map((r) => `ok  ${r.file}  ${r.rule.id}  ${r.hash.slice(0, 12)}`),
        ...problems.map(formatProblem),
        `${loaded.length} rule(s) valid, ${problems.length} problem(s)`,
      ]);
      if (problems.length > 0) process.exitCode = 2;
    });
  const defaultRules = () => fileURLToPath(new URL('../rules', import.meta.url));
  const describeVersion = (v: RuleVersionRow) =>
    `${v.ruleId}  ${v.hash.slice(0, 12)}  ${v.status}  by ${v.createdBy}${v.approvedBy ? `, approved by ${v.approvedBy}` : ''}`;
  rules
    .command('load [path]')
    .description('store every valid rule file as a version (draft); an unchanged file adds nothing')
    .requiredOption('--by <name>', 'who loads them (recorded)')
    .action(async (target: string | undefined, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const path = target ?? defaultRules();
        const result = await storeRuleVersions(store, path, opts.by);
        const warnings = await warningsForRules(store, (await loadRules(path)).rules.map((r) => r.rule));
        report(g.json, { ...result, warnings }, () => [
          ...result.added.map(describeVersion), `${result.added.length} new version(s), ${result.unchanged} unchanged`, ...warnings,
        ]);
      });
    });
  rules
    .command('approve <ruleId>')
    .description("approve a rule's draft version (not by its author); the previously approved one is retired")
    .requiredOption('--by <name>', 'who approves (must not be who loaded it)')
    .option('--hash <prefix>', 'the version to approve (default the latest draft)')
    .action(async (ruleId: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const version = await approveRuleVersion(store, ruleId, opts.by, opts.hash);
        report(g.json, version, () => [describeVersion(version)]);
      });
    });
  rules
    .command('retire <ruleId>')
    .description('retire the approved version of a rule')
    .requiredOption('--by <name>', 'who retires it')
    .action(async (ruleId: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        await retireRule(store, ruleId, opts.by);
        report(g.json, { ruleId, status: 'retired' }, () => [`${ruleId}: retired`]);
      });
    });
  rules
    .command('list')
    .description('rule versions and their status')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const versions = await listRuleVersions(store);
        report(g.json, versions, () => (versions.length ? versions.map(describeVersion) : ['no rule versions stored (asp rules load)']));
      });
    });
  rules
    .command('dry-run <file>')
    .description('what a rule would decide now (or --at DATE) from the stored feeds: areas, stages, evidence; nothing is written')
    .option('--at <date>', 'evaluate as of this date (data published later is ignored)')
    .action(async (file: string, opts, cmd: Command) => {
      const g = globals(cmd);
      const at = asOfOption(opts.at) ?? new Date().toISOString();
      await withStore(g, async (store) => {
        const result = await dryRunRule(store, file, at);
        report(g.json, result, () => [
          `${result.ruleId} (${result.hash.slice(0, 12)}) as of ${result.asOf}: ${result.stages.activation} area(s) in activation, ${result.stages.readiness} in readiness, ${result.stages.none} none`,
          ...result.decisions
            .filter((d) => d.stage !== 'none')
            .map((d) => {
              const tests = d.evidence.map((e) => ('test' in e ? e.test : '')).filter(Boolean).join('; ');
              return `  ${d.pcode}  ${d.stage}${d.tier ? ` (${d.tier})` : ''}  ${tests}${d.waitingFor.length ? `  waiting for: ${d.waitingFor.join(', ')}` : ''}`;
            }),
          ...notTriggeredReasons(result.decisions).map((line) => `  ${line}`),
          ...(result.stages.activation > 0 ? describeEstimate(result.estimate) : []),
          ...(result.storedLater ? [`note: ${result.storedLater}`] : []),
          ...result.warnings.map((w) => `warning: ${w}`),
        ]);
      });
    });
  rules
    .command('schema')
    .description('print the JSON Schema of a rule file, for editors')
    .action(() => {
      process.stdout.write(JSON.stringify(ruleJsonSchema(), null, 2) + '\n');
    });
  registerBacktestCommand(program);

  registerActivationCommands(program);
  registerKeyCommands(program);
  const lists = registerListCommands(program);
  registerReleaseCommands(lists);
  registerReconcileCommands(lists);
  registerDisburseCommands(lists);
  registerSigningKeyCommands(program);
  registerNamedListCommands(lists);
  registerPartnerCommands(program);
  registerAuditCommands(program);
  registerDbCommands(program);

  program
    .command('demo')
    .description('load the demo: boundaries (synthetic Demoland unless --areas), programmes and a generated registry')
    .option('--areas <files...>', 'boundary GeoJSON files, coarsest level first (e.g. Kenya ADM1 then ADM2)')
    .option('--households <n>', 'number of households to generate', integer('--households'), 20_000)
    .option('--seed <n>', 'random seed', integer('--seed'), 2026)
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const shown = progress(g);
        const result = await loadDemo(store, { areaFiles: opts.areas, households: opts.households, seed: opts.seed, progress: shown });
        // The demo rules are written for Demoland; with real boundaries they would match nothing.
        if (!opts.areas) await shown.task('rules: approving the demo rules', () => approveDemoRules(store));
        report(g.json, result, () => [
          ...result.areas.map((a) => `areas level ${a.level}: ${a.features}`),
          `households: ${result.registry.inserted} new, ${result.registry.updated} updated; ${result.registry.enrolled} enrolments`,
        ]);
      });
    });

  program
    .command('serve')
    .description('run the HTTP API (and later the dashboard) on the configured database')
    .option('--port <n>', 'port (default PORT or 8080)', integer('--port'))
    .action(async (opts, cmd: Command) => {
      await start({ ...globals(cmd), port: opts.port, demo: false });
    });

  program
    .command('start')
    .description('what `npm start` runs: migrate, load the demo once if the registry is empty, serve')
    .option('--port <n>', 'port (default PORT or 8080)', integer('--port'))
    .action(async (opts, cmd: Command) => {
      await start({ ...globals(cmd), port: opts.port, demo: true });
    });

  return program;
}

/** New event versions or indicator values: the approved rules are evaluated again. */
const hasNewData = (run: RunSummary) => run.versionsAdded + run.versionsUpdated + run.indicatorsAdded > 0;

function describeRun(run: RunSummary): string {
  const what = run.feed ?? run.url;
  if (run.status === 'not_modified') return `${what}: not modified`;
  const counts = `${run.eventsAdded} events new, ${run.versionsAdded} versions new, ${run.versionsUpdated} completed, ${run.indicatorsAdded} indicator values new, ${run.quarantined} quarantined`;
  const dup = run.duplicates ? ` (${run.duplicates} payload(s) seen before)` : '';
  return run.status === 'failed' ? `${what}: FAILED: ${run.error}` : `${what}: ${counts}${dup}`;
}

/** Runs the CLI; a user's mistake exits 2 with what and where, anything else exits 1. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return;
    if (code?.startsWith('commander.')) {
      process.exitCode = 2;
      return;
    }
    if (isUserError(error)) {
      process.stderr.write(`error: ${error.message}\n`);
      for (const detail of error.details) process.stderr.write(`  ${detail}\n`);
      process.exitCode = 2;
      return;
    }
    log.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'command failed');
    process.exitCode = 1;
  }
}
