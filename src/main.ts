import { loadConfig } from './config.ts';
import { openMigratedStore, type GlobalOptions } from './cli/context.ts';
import { loadDemo } from './demo/load-demo.ts';
import { progress } from './cli/progress.ts';
import { log } from './log.ts';
import { registryCounts } from './registry/counts.ts';
import { serve } from './api/serve.ts';
import { loadFeedsConfig } from './feeds/config.ts';
import { startScheduler } from './scheduler/scheduler.ts';
import { loadRegistriesConfig } from './registry/registries-config.ts';
import { approveDemoRules } from './demo/demo-rules.ts';
import { evaluateActivations } from './engine/activations.ts';
import { DEMO_PARTNER, demoDraftLists, demoKeys } from './demo/demo-flow.ts';

export interface StartOptions extends GlobalOptions {
  port?: number;
  /** Load the demo when the registry is empty (npm start); off for `asp serve`. */
  demo: boolean;
}

/**
 * `npm start`: open the database (embedded unless DATABASE_URL), migrate, load the demo once,
 * serve the API, run the feed scheduler, and print where it answers. Stops cleanly on SIGINT/SIGTERM so the embedded
 * database is closed properly.
 */
export async function start(options: StartOptions): Promise<void> {
  const config = loadConfig();
  const store = await openMigratedStore(options);
  try {
    if (options.demo && (await registryCounts(store)).households === 0) {
      log.info('empty registry: loading the demo (synthetic Demoland)');
      const shown = progress();
      await loadDemo(store, { progress: shown });
      const rules = await shown.task('rules: approving the demo rules', () => approveDemoRules(store));
      log.info({ rules }, 'demo rules loaded and approved by two demo people');
    }
    const feeds = await loadFeedsConfig(config.ASP_FEEDS);
    const registries = await loadRegistriesConfig();
    const { server, url } = await serve(store, options.port ?? config.PORT, config.HOST);
    // The first tick runs at once, so the demo's feeds are in the store within seconds.
    // New feed data → the approved rules are evaluated again → activations open, move or close;
    // in the demo, a draft payment list follows for what is in activation (the real flow, end to end).
    // Feeds finish at their own pace; evaluations run one after another so that two never decide
    // (or generate a demo list) from the same state at once.
    let evaluations = Promise.resolve();
    const onNewData = () => {
      const run = async () => {
        await evaluateActivations(store);
        if (options.demo) await demoDraftLists(store);
      };
      evaluations = evaluations.then(run, run);
      return evaluations;
    };
    const keys = options.demo ? await demoKeys(store) : null;
    // Data a previous process stored but did not live to evaluate (killed between the two) is
    // evaluated now: its payloads are duplicates to the feeds, so no run would bring them up again.
    onNewData().catch((error: Error) => log.error({ err: { message: error.message } }, 'evaluation at start failed'));
    const scheduler = await startScheduler(store, feeds, { runAtStart: true, onNewData: [onNewData], registries });
    const counts = await registryCounts(store);
    log.info({ url, backend: store.backend, ...counts }, 'asp-engine is up');
    process.stdout.write(
      [
        `asp-engine is up at ${url}`,
        `  database: ${store.backend}${store.backend === 'embedded' ? ` (${options.dataDir ?? config.ASP_DATA_DIR})` : ''}`,
        `  areas: ${counts.areas}, households: ${counts.households}, active enrolments: ${counts.enrolments}`,
        `  feeds: ${feeds.filter((f) => f.enabled).length} enabled (${config.ASP_FEEDS}); health at ${url}/api/feeds`,
        `  health: ${url}/api/health; API documentation: ${url}/api/docs; dashboard: ${url}/`,
        ...(keys
          ? [
              '  demo keys (new at every start; paste one into the dashboard):',
              `  demo coordinator key: ${keys.coordinator}`,
              `  demo approver key: ${keys.approver}`,
              `  demo partner key (partner ${DEMO_PARTNER}): ${keys.partner}`,
            ]
          : []),
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      // Idle keep-alive connections would hold the server open while the database closes under them.
      const stop = () => {
        server.close(() => resolve());
        server.closeAllConnections();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await scheduler.stop();
  } finally {
    await store.close();
  }
}
