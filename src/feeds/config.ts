import path from 'node:path';
import { pathToFileURL } from 'node:url';
import cron from 'node-cron';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { readYamlFile } from './data-file.ts';
import { SOURCES } from './model.ts';

const feedSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'),
  adapter: z.enum(SOURCES.filter((s) => s !== 'declaration') as ['gdacs', 'usgs', 'cap', 'ipc', 'indicators']),
  /** http(s) URL, file URL, or a path relative to the configuration file. */
  url: z.string().min(1),
  schedule: z.string().refine((s) => cron.validate(s), 'not a valid cron expression'),
  enabled: z.boolean().default(true),
  /**
   * Where this feed's events are, [west, south, east, north] in degrees: a footprint outside it is
   * quarantined (and called a lat/lon swap when read as [lat, lon] it lies inside).
   */
  bbox: z
    .tuple([z.number().min(-180).max(180), z.number().min(-90).max(90), z.number().min(-180).max(180), z.number().min(-90).max(90)])
    .refine(([west, south, east, north]) => west <= east && south <= north, 'must be [west, south, east, north] with west ≤ east and south ≤ north')
    .optional(),
  /** Stale when no new data arrived for this long. */
  staleAfterMinutes: z.number().int().positive().default(24 * 60),
  options: z
    .object({
      timeoutMs: z.number().int().positive().optional(),
      retries: z.number().int().min(0).max(10).optional(),
      maxBytes: z.number().int().positive().optional(),
      /** For CAP index feeds (Atom/RSS): also fetch the full alerts they link to. */
      followCapLinks: z.boolean().optional(),
    })
    .strict()
    .default({}),
});

const feedsFileSchema = z.object({ feeds: z.array(feedSchema) }).strict();

export type FeedConfig = z.infer<typeof feedSchema>;

/**
 * Reads the feed configuration (YAML), validated with zod; an error names the file, line and
 * field. Relative paths in `url` resolve against the file's folder and become file:// URLs.
 */
export async function loadFeedsConfig(file: string): Promise<FeedConfig[]> {
  const { feeds } = await readYamlFile(file, feedsFileSchema, 'the feed configuration');
  const names = new Set<string>();
  for (const feed of feeds) {
    if (names.has(feed.name)) throw new UserError(`${file}: feed name ${feed.name} is used twice`);
    names.add(feed.name);
  }
  const folder = path.dirname(path.resolve(file));
  return feeds.map((feed) => ({ ...feed, url: resolveUrl(feed.url, folder) }));
}

function resolveUrl(url: string, folder: string): string {
  if (/^(https?|file):/.test(url)) return url;
  return pathToFileURL(path.resolve(folder, url)).toString();
}
