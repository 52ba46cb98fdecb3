import { createTestDatabase, type TestDatabase } from './database';

/**
 * A database of its own for the file (or describe block) that calls this: created in a
 * `beforeAll`, dropped in an `afterAll`. Returns its accessor, for hooks and tests.
 *
 * jest runs `afterAll` hooks in the order they were declared, so this drop runs before the ones
 * declared after it: a file whose teardown must still reach the database first (services it
 * started on it, pools of its own) keeps its own create and drop.
 */
export function useTestDatabase(): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (!db) throw new Error('useTestDatabase(): the database exists from its beforeAll on; use it inside a hook or a test');
    return db;
  };
}
