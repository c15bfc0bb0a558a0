import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { recordNamedList } from '../engine/targeting/named-lists.ts';
import { globals, withStore } from './context.ts';
import { report } from './output.ts';

/**
 * The registry ids of a named-list file: a CSV whose header has a `registry_id` column (other
 * columns ignored; fields without embedded commas), or plain text with one id a line.
 */
export async function readRegistryIds(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const unquote = (field: string) => field.trim().replace(/^"(.*)"$/, '$1').trim();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = (lines[0] ?? '').split(',').map(unquote);
  const column = header.indexOf('registry_id');
  if (column < 0) return lines.map(unquote);
  return lines.slice(1).map((line, i) => {
    const id = unquote(line.split(',')[column] ?? '');
    if (!id) throw new UserError(`${file}:${i + 2}: no registry_id`);
    return id;
  });
}

/** `asp lists record-named`, added to the `asp lists` group. */
export function registerNamedListCommands(lists: Command): void {
  lists
    .command('record-named')
    .argument('<name>', 'the name the rule gives the list in overlap.with.list')
    .argument('<file>', 'registry ids: a CSV with a registry_id column, or one id a line')
    .description("record a list kept outside the engine (e.g. another agency's beneficiaries) that a rule's overlap names; append-only")
    .requiredOption('--source <text>', 'who gave the list, and the document')
    .requiredOption('--by <name>', 'who records it (audited)')
    .option('--shock <key>', 'the shock it answers (for scope same_shock), e.g. declaration:12 or gdacs:TC1001')
    .option('--cycle <yyyy-mm>', 'the payment cycle it covers (for scope same_period)')
    .action(async (name: string, file: string, opts, cmd: Command) => {
      const g = globals(cmd);
      const registryIds = await readRegistryIds(file);
      await withStore(g, async (store) => {
        const list = await recordNamedList(store, { name, shockKey: opts.shock, cycle: opts.cycle, source: opts.source, registryIds }, opts.by);
        report(g.json, list, () => [
          `named list #${list.id} "${list.name}"${list.shockKey ? ` for shock ${list.shockKey}` : ''}${list.cycle ? ` cycle ${list.cycle}` : ''}: ` +
            `${list.households} household(s), sha256 ${list.contentSha256.slice(0, 16)}…`,
        ]);
      });
    });
}
