import { importAreas } from '../../src/areas/import-areas.ts';
import { DEMO_AREA_FILES, DEMO_PROGRAMMES } from '../../src/demo/load-demo.ts';
import type { Store } from '../../src/db/store.ts';
import { upsertProgramme } from '../../src/registry/programmes.ts';

/** Demoland's 4 regions and 24 districts plus the demo programmes CT and OPG. */
export async function loadDemoAreas(store: Store): Promise<void> {
  await importAreas(store, DEMO_AREA_FILES[0], { level: 1 });
  await importAreas(store, DEMO_AREA_FILES[1], { level: 2 });
  for (const programme of DEMO_PROGRAMMES) await upsertProgramme(store, programme);
}
