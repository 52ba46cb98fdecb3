// `npm run bench -- tokens`: what token estimation costs per body (DESIGN.md §9), in CPU time of
// this process (process.cpuUsage, so other work on the machine does not count), for ordinary
// prose and each pathological corpus at 1k, 10k and 100k characters:
//   bounded — countTokensBounded, what every path on user input uses (median of repeated runs of
//             the same body; `first` is its first run in this process);
//   exact   — gpt-tokenizer's own countTokens, the reference, quadratic in one pre-token's length
//             (its merge cache emptied before each run): 1k and 10k only (100,000 × 'a' takes
//             ~27 s), on prose at 100k too;
//   async   — countTokensBoundedAsync at 100k (api-service's path): the longest the event loop
//             was held between two slices (median of 3 runs; 0 = below the 1 ms resolution);
//   sim     — the simulator's three answers (summarize, tag, extract) to the 100k body.
// Ratios: each 100k body ÷ prose 100k (aim ≤ 2×), and 1M ÷ 250k characters (4× is linear; both
// sizes are past the CPU caches, which a hot 100k text still fits, so that is the fair step).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { clearMergeCache } from 'gpt-tokenizer/cjs/encoding/o200k_base';
import { PATHOLOGICAL_CORPORA, prose } from '../libs/llm/src/testing';
import { countTokens, countTokensBounded, countTokensBoundedAsync, TASKS } from '../libs/llm/src';
import { answer } from '../services/llm-simulator/src/domain/answers';

const SIZES = [1_000, 10_000, 100_000];
const RUNS = Number(process.env.BENCH_TOKENS_RUNS ?? 9);

function cpuMs(fn: () => unknown): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The longest event-loop delay (ms) while `run` goes on, at 1 ms resolution. */
async function longestBlock(run: () => Promise<unknown>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await run();
  histogram.disable();
  // The histogram holds delays beyond the resolution, in nanoseconds.
  return histogram.max / 1e6;
}

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));

async function main(): Promise<void> {
  const corpora: Record<string, (n: number) => string> = { prose: (n) => prose(n), ...PATHOLOGICAL_CORPORA };
  // The reference's own first calls compile its code: not part of any figure.
  for (let i = 0; i < 20; i++) countTokens(prose(2_000, 100 + i) + PATHOLOGICAL_CORPORA['random code points'](300));
  const rows: { name: string; bounded: number[]; first: number; million: number; quarter: number; exact: (number | undefined)[]; tokens: number; exactTokens?: number; asyncBlock?: number; sim?: number }[] = [];
  for (const [name, make] of Object.entries(corpora)) {
    const bounded: number[] = [];
    const exact: (number | undefined)[] = [];
    let first = 0;
    let tokens = 0;
    let exactTokens: number | undefined;
    for (const size of SIZES) {
      const text = make(size);
      const runs: number[] = [];
      const firstRun = cpuMs(() => (tokens = countTokensBounded(text)));
      for (let i = 0; i < RUNS; i++) runs.push(cpuMs(() => countTokensBounded(text)));
      bounded.push(median(runs));
      if (size === 100_000) first = firstRun;
      if (size < 100_000 || name === 'prose') {
        const exactRuns = size === 1_000 ? 5 : 1;
        // Its merge cache would answer a repeated pre-token from memory: emptied before each run.
        exact.push(median(Array.from({ length: exactRuns }, () => (clearMergeCache(), cpuMs(() => (exactTokens = countTokens(text)))))));
      } else exact.push(undefined);
    }
    // Past what an item may hold, for the linearity ratio only.
    const [quarter, million] = [250_000, 1_000_000].map((size) => {
      const big = make(size);
      countTokensBounded(big);
      return median([0, 1, 2, 3, 4].map(() => cpuMs(() => countTokensBounded(big))));
    });
    const body = make(100_000);
    const blocks: number[] = [];
    for (let i = 0; i < 3; i++) blocks.push(await longestBlock(() => countTokensBoundedAsync(body)));
    const asyncBlock = median(blocks);
    const user = TASKS.summarize.buildMessages({ content: body, title: 'Bench' })[1].content;
    const sim = cpuMs(() => {
      for (const task of ['summarize', 'tag', 'extract'] as const) answer(task, user, TASKS[task].completionCap);
    });
    rows.push({ name, bounded, first, million, quarter, exact, tokens, exactTokens: name === 'prose' ? exactTokens : undefined, asyncBlock, sim });
  }

  const prose100k = rows[0].bounded[2];
  console.log(`Token estimation, CPU ms per body (median of ${RUNS} runs; node ${process.version})`);
  console.log('');
  console.log('corpus                    | bounded 1k | 10k   | 100k  | first 100k | exact 1k | exact 10k | 100k ÷ prose 100k | 1M ÷ 250k | async: longest block | sim: 3 answers | tokens (100k)');
  for (const r of rows) {
    const exact = r.exact.map((v) => (v === undefined ? '—' : ms(v)));
    const exact100k = r.name === 'prose' && r.exact[2] !== undefined ? ` (exact 100k ${ms(r.exact[2])})` : '';
    console.log(
      [
        r.name.padEnd(25),
        ms(r.bounded[0]).padStart(10),
        ms(r.bounded[1]).padStart(5),
        ms(r.bounded[2]).padStart(5),
        ms(r.first).padStart(10),
        exact[0].padStart(8),
        exact[1].padStart(9),
        `${(r.bounded[2] / prose100k).toFixed(2)}×`.padStart(17),
        `${(r.million / r.quarter).toFixed(1)}×`.padStart(10),
        `${ms(r.asyncBlock ?? 0)} ms`.padStart(20),
        `${ms(r.sim ?? 0)} ms`.padStart(14),
        `${r.tokens}${r.exactTokens !== undefined ? ` (exact ${r.exactTokens})` : ''}${exact100k}`,
      ].join(' | '),
    );
  }
  const worst = rows.slice(1).reduce((a, b) => (b.bounded[2] > a.bounded[2] ? b : a));
  console.log('');
  console.log(`worst pathological 100k: ${worst.name}, ${ms(worst.bounded[2])} ms = ${(worst.bounded[2] / prose100k).toFixed(2)}× prose 100k (aim ≤ 2×)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
