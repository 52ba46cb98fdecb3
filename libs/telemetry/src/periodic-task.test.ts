import { startPeriodicTask } from './periodic-task';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves once `done()` holds, however long the machine takes (the test's own timeout bounds it). */
const until = async (done: () => boolean) => {
  while (!done()) await sleep(5);
};

describe('startPeriodicTask', () => {
  it('never overlaps runs: a tick during a run is skipped', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const task = startPeriodicTask({
      name: 'Test.slow',
      intervalMs: 5,
      logger: { error: () => undefined },
      run: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await sleep(30);
        active--;
      },
    });
    // Three runs of 30 ms at ticks 5 ms apart: many ticks fell during a run.
    await until(() => runs >= 3);
    await task.stop();
    expect(maxActive).toBe(1);
  });

  it('stop waits for the run in progress and starts no other', async () => {
    let finished = false;
    let runs = 0;
    const task = startPeriodicTask({
      name: 'Test.stop',
      intervalMs: 60_000,
      runAtStart: true,
      logger: { error: () => undefined },
      run: async () => {
        runs++;
        await sleep(40);
        finished = true;
      },
    });
    await task.stop();
    expect(finished).toBe(true);
    await sleep(20);
    expect(runs).toBe(1);
  });

  it('a failing run is logged with its name and the next tick runs again', async () => {
    const errors: string[] = [];
    let runs = 0;
    const task = startPeriodicTask({
      name: 'Test.failing',
      intervalMs: 5,
      logger: { error: (obj) => errors.push((obj as { task: string }).task) },
      run: async () => {
        runs++;
        throw new Error('boom');
      },
    });
    await until(() => runs >= 2);
    await task.stop();
    expect(errors.length).toBe(runs);
    expect(new Set(errors)).toEqual(new Set(['Test.failing']));
  });
});
