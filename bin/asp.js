#!/usr/bin/env node
// The `asp` command. TypeScript runs directly through tsx: no build step after `npm install`.
import { register } from 'tsx/esm/api';

register();
// `asp … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { runCli } = await import('../src/cli.ts');
await runCli(process.argv);
