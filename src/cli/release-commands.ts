import { open, rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Store } from '../db/store.ts';
import { EXPORT_FORMATS, exportFileName, exportList, schemaFileBeside, type ExportFormat, type ExportSummary } from '../exports/index.ts';
import { addPartner, listPartners, PARTNER_ROLES, type Partner } from '../lists/partners.ts';
import { releaseList } from '../lists/release.ts';
import { SHAREABLE_FIELDS } from '../rules/schema.ts';
import { globals, withStore } from './context.ts';
import { report } from './output.ts';
import { progress, type Progress } from './progress.ts';

const listId = (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('the list id is a whole number (asp lists list)');
  return Number(value);
};

const format = (value: string): ExportFormat => {
  if (!(EXPORT_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`choose one of ${EXPORT_FORMATS.join(', ')}`);
  return value as ExportFormat;
};

const describePartner = (p: Partner) =>
  `${p.id}  ${p.name}  ${p.role}  ${p.pseudonymise ? 'pseudonymised' : 'registry ids'}  fields: ${p.fields.join(',')}`;

/** `asp partners add|list`: who lists may be released to, and what each may receive. */
export function registerPartnerCommands(program: Command): void {
  const partners = program.command('partners').description('partners payment lists are released to, with the fields each may receive');
  partners
    .command('add <id>')
    .description('add a partner, or update it if the id exists (earlier releases keep the fields they were given)')
    .requiredOption('--name <name>', 'the organisation')
    .requiredOption('--role <role>', PARTNER_ROLES.join(' | '))
    .requiredOption('--fields <a,b,c>', `the fields it may receive, of: ${SHAREABLE_FIELDS.join(', ')}`)
    .option('--no-pseudonymise', 'give the registry ids instead of pseudonymous ids (allows registry_id)')
    .requiredOption('--by <name>', 'who adds it (recorded)')
    .action(async (id: string, opts, cmd: Command) => {
      const g = globals(cmd);
      const fields = String(opts.fields).split(',').map((f) => f.trim()).filter(Boolean);
      await withStore(g, async (store) => {
        const partner = await addPartner(store, { id, name: opts.name, role: opts.role, fields, pseudonymise: opts.pseudonymise }, opts.by);
        report(g.json, partner, () => [`partner ${partner.id} ${partner.created ? 'added' : 'updated'}`, `  ${describePartner(partner)}`]);
      });
    });
  partners
    .command('list')
    .description('the partners and their fields')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const rows = await listPartners(store);
        report(g.json, rows, () => (rows.length ? rows.map(describePartner) : ['no partners (asp partners add)']));
      });
    });
}

/** `asp lists release` and `asp lists export`, added to the `lists` command group. */
export function registerReleaseCommands(lists: Command): void {
  lists
    .command('release <listId>')
    .description('release an approved list to a partner for a purpose until a date; once per partner')
    .requiredOption('--partner <id>', 'the partner (asp partners list)')
    .requiredOption('--purpose <text>', 'what the partner may use it for, e.g. the data-sharing agreement and payment (recorded)')
    .requiredOption('--expires <date>', 'last day it may be downloaded (YYYY-MM-DD)')
    .requiredOption('--by <name>', 'who releases it (recorded)')
    .action(async (id: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const release = await releaseList(store, listId(id), { partnerId: opts.partner, purpose: opts.purpose, expiresOn: opts.expires }, opts.by);
        report(g.json, release, () => [
          `list ${release.listId} released to ${release.partnerId} (release ${release.id}) until ${release.expiresOn}: ${release.households} households, ${release.pseudonymised ? 'pseudonymous ids' : 'registry ids'}`,
          `  fields: ${release.fields.join(', ')}`,
          `  content sha256: ${release.contentSha256}`,
        ]);
      });
    });

  lists
    .command('export <listId>')
    .description(`write a list as ${EXPORT_FORMATS.join(' | ')}; with --partner, what that partner may download`)
    .requiredOption('--format <format>', EXPORT_FORMATS.join(' | '), format)
    .option('--partner <id>', "the partner's download: its pseudonymous ids and whitelisted fields only")
    .option('--out [file]', `write to this file; --out alone: the format's own name (${exportFileName(12, 'hxl')}, ${exportFileName(12, 'openimis')}…); without it, standard output. An openimis file gets its benefit-plan schema beside it (f.csv → f.schema.json)`)
    .requiredOption('--by <name>', 'who exports it (recorded)')
    .action(async (id: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        if (!opts.out) {
          // The data is the output: no summary mixed into it, and progress (on stderr) only when
          // the data goes elsewhere than the terminal, e.g. `> file.csv`.
          const written = exportMeter(progress(process.stdout.isTTY ? { mode: 'off' } : g), opts.format);
          await exportList(store, listId(id), opts.format, process.stdout, { partnerId: opts.partner, onProgress: written.update }, opts.by).finally(written.stop);
          return;
        }
        const out: string = opts.out === true ? exportFileName(listId(id), opts.format, opts.partner) : opts.out;
        const shown = progress(g);
        const summary = await exportToFile(store, listId(id), opts.format, out, opts.partner, opts.by, shown);
        // openIMIS refuses columns its benefit plan's schema does not declare: the schema travels with the file.
        const schema = opts.format === 'openimis' ? schemaFileBeside(out) : undefined;
        if (schema) await exportToFile(store, listId(id), 'openimis-schema', schema, opts.partner, opts.by, shown);
        report(g.json, { ...summary, file: out, ...(schema ? { schemaFile: schema } : {}) }, () => [
          `list ${summary.listId} written to ${out} as ${summary.format}${summary.partnerId ? ` for ${summary.partnerId}` : ''}: ${summary.rows} ${summary.format === 'geojson' ? 'areas' : 'rows'}, content sha256 ${summary.contentSha256}`,
          ...(schema ? [`  its beneficiary_data_schema (for the openIMIS benefit plan): ${schema}`] : []),
        ]);
      });
    });
}

/** Entries written, as the export counts them (areas for geojson). */
const exportMeter = (shown: Progress, format: ExportFormat) => shown.meter(`exporting ${format}`, format === 'geojson' ? 'areas' : 'rows');

/**
 * Personal data: readable by the owner only. Written beside the target and renamed at the end, so
 * that a refused or failed export neither leaves a partial file nor clobbers one.
 */
async function exportToFile(
  store: Store, id: number, format: ExportFormat, out: string, partnerId: string | undefined, by: string, shown: Progress,
): Promise<ExportSummary> {
  const partial = `${out}.partial-${process.pid}`;
  // Opened before the export starts: a stream that opens its file itself may create it after a
  // quick refusal has already removed it, and leave it behind.
  const file = (await open(partial, 'w', 0o600)).createWriteStream();
  const written = exportMeter(shown, format);
  try {
    const summary = await exportList(store, id, format, file, { partnerId, onProgress: written.update }, by).finally(written.stop);
    file.end();
    await finished(file);
    await rename(partial, out);
    return summary;
  } catch (error) {
    file.destroy();
    await finished(file).catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
}
