import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.ts';

/**
 * A connector's credential (a password, a client secret, a bearer token), named in configuration
 * by where it is, never by its value: `{ env: 'OPENIMIS_PASSWORD' }` or `{ file: '/run/secrets/x' }`.
 * Read at each use, so that rotating it (a new value in the variable or file) needs no restart.
 * Never logged: errors name the variable or file, not the value.
 */
export interface SecretRef {
  env?: string;
  file?: string;
}

export async function readSecret(ref: SecretRef, what: string): Promise<string> {
  if (ref.env) {
    const value = process.env[ref.env];
    if (!value) throw new UserError(`${what}: the environment variable ${ref.env} is not set`);
    return value;
  }
  if (ref.file) {
    let value: string;
    try {
      value = (await readFile(ref.file, 'utf8')).trim();
    } catch {
      throw new UserError(`${what}: cannot read the secret file ${ref.file}`);
    }
    if (!value) throw new UserError(`${what}: the secret file ${ref.file} is empty`);
    return value;
  }
  throw new UserError(`${what}: say where the secret is (env: VARIABLE or file: PATH)`);
}
