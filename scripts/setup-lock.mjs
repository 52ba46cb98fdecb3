// One set-up at a time per checkout: `npm test` and `npm run bench` started side by side on a
// fresh clone would otherwise run two `npm ci` into the same node_modules, and each deletes what
// the other is writing. The lock is a directory (mkdir is atomic) holding its owner's pid; a lock
// whose owner is gone is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/** Blocks until this process holds the lock; answers the function that releases it. */
export function acquireSetupLock(root) {
  const dir = join(root, '.run', 'setup.lock');
  mkdirSync(join(root, '.run'), { recursive: true });
  let told = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      const release = () => rmSync(dir, { recursive: true, force: true });
      process.on('exit', release);
      return release;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    } catch {
      // Just created, its pid not written yet: wait for it.
    }
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (!told) {
      console.log(`• waiting for another set-up of this checkout to finish (pid ${owner})`);
      told = true;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  }
}
