import type { Adapter, SourceName } from '../model.ts';
import { capAdapter } from './cap.ts';
import { gdacsAdapter } from './gdacs.ts';
import { indicatorsAdapter } from './indicators.ts';
import { ipcAdapter } from './ipc.ts';
import { usgsAdapter } from './usgs.ts';

const ADAPTERS: Record<string, Adapter> = {
  gdacs: gdacsAdapter,
  usgs: usgsAdapter,
  cap: capAdapter,
  ipc: ipcAdapter,
  indicators: indicatorsAdapter,
};

export const ADAPTER_NAMES = Object.keys(ADAPTERS) as SourceName[];

export function adapterFor(source: string): Adapter | undefined {
  return ADAPTERS[source];
}
