// Preloaded into a service (`NODE_OPTIONS=--require <this>`) when a benchmark runs with
// BENCH_CPU_PROF=1: Node 20 refuses --cpu-prof in NODE_OPTIONS, so the inspector's profiler is
// started here and its profile written as <dir>/<service>-<pid>.cpuprofile when the process exits.
const { Session } = require('node:inspector');
const { mkdirSync, writeFileSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');

const dir = process.env.QV_CPU_PROF_DIR;
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
process.on('exit', () => {
  // The in-process inspector answers synchronously, so the profile is in hand before exit.
  session.post('Profiler.stop', (err, result) => {
    if (err || !dir) return;
    mkdirSync(dir, { recursive: true });
    const name = basename(dirname(process.argv[1] ?? 'node'));
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
