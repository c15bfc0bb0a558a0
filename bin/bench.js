#!/usr/bin/env node
// `npm run bench -- NAME [options]`: runs bench/NAME.ts through tsx (no build step).
// Each bench module exports `main(args)`, which parses its own options.
import { readdirSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();

const benchDir = new URL('../bench/', import.meta.url);
const available = readdirSync(benchDir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();

const [name, ...rest] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  const help = name === '-h' || name === '--help';
  if (name && !help) console.error(`bench: unknown bench "${name}"`);
  console.error('usage: npm run bench -- <name> [options]   (npm run bench -- <name> --help for its options)');
  console.error(`available benches: ${available.join(', ') || '(none)'}`);
  process.exit(help ? 0 : 2);
}

const bench = await import(new URL(`${name}.ts`, benchDir).href);
try {
  await bench.main(rest);
} catch (error) {
  console.error(`bench ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}
// A bench closes what it opens; exit anyway so that a stray handle cannot keep the process alive.
process.exit(process.exitCode ?? 0);
