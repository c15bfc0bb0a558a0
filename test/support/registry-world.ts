import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { loadDemoAreas } from './demo-areas.ts';

/**
 * The registry tests' world: one database with the demo areas for the file, and no household or
 * enrolment left from the test before. Call at the top of a test file; read `.t` inside tests.
 */
export function registryWorld(): { readonly t: TestDatabase } {
  const world = { t: undefined as unknown as TestDatabase };
  beforeAll(async () => {
    world.t = await createTestDatabase();
    await loadDemoAreas(world.t.store);
  });
  afterAll(() => world.t?.drop());
  beforeEach(async () => {
    await world.t.store.db.deleteFrom('enrolments').execute();
    await world.t.store.db.deleteFrom('households').execute();
  });
  return world;
}
