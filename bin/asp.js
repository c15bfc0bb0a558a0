#!/usr/bin/env node
// The `asp` command. TypeScript runs directly through tsx: no build step after `npm install`.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli.ts');
await runCli(process.argv);
