import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.ts';

/**
 * Guesses the admin level of a COD-AB style file from its first feature: the deepest
 * `ADM{N}_PCODE` property present. Used where a user passes boundary files without levels.
 */
export async function guessAdminLevel(file: string): Promise<number> {
  let props: Record<string, unknown> = {};
  try {
    const collection = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
    props = collection?.features?.[0]?.properties ?? {};
  } catch (error) {
    throw new UserError(`${file}: cannot read as GeoJSON: ${(error as Error).message}`);
  }
  for (let level = 6; level >= 0; level--) {
    if (props[`ADM${level}_PCODE`] !== undefined) return level;
  }
  throw new UserError(`${file}: no ADM{N}_PCODE property in the first feature; import it with \`asp areas import --level N --pcode-field F\``);
}
