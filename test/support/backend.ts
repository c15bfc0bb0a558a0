import os from 'node:os';
import path from 'node:path';

export type TestBackend = 'embedded' | 'server';

export function testBackend(): TestBackend {
  const value = process.env.ASP_TEST_BACKEND ?? 'embedded';
  if (value !== 'embedded' && value !== 'server') throw new Error(`ASP_TEST_BACKEND must be embedded or server, not ${value}`);
  return value;
}

/** The maintenance URL on the server back end; test databases are created beside it. */
export function serverAdminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('ASP_TEST_BACKEND=server needs TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  return url;
}

export function databaseUrl(admin: string, name: string): string {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * One template per test run (global setup and workers share the parent's pid through env), so two
 * runs on one server do not drop each other's template.
 */
export function templateDb(): string {
  return `asp_test_template_${process.env.ASP_TEST_RUN ?? 'x'}`;
}
export function embeddedTemplateDir(): string {
  return path.join(os.tmpdir(), `asp-test-template-${process.env.ASP_TEST_RUN ?? 'x'}`);
}
