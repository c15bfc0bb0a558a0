/**
 * A "billion laughs" in YAML: nine anchors, each a list of nine aliases of the one before, so a
 * few hundred bytes expand to 9^9 strings if a reader follows every alias.
 */
export function yamlAliasBomb(levels = 9): string {
  const lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(',')}]`);
  return lines.join('\n');
}

/** A flow sequence nested `depth` levels deep: `[[[…]]]`. */
export const yamlDeepFlow = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
