// autocannon ships no types; this is the part of its API the benchmarks use.
export interface HttpResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  statusCodeStats?: Record<string, { count: number }>;
}

export interface HttpRequestSpec {
  method: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: Record<string, unknown>) => Record<string, unknown>;
}

type Autocannon = (
  opts: { url: string; connections: number; duration: number; requests?: HttpRequestSpec[]; method?: string; headers?: Record<string, string>; body?: string },
  done: (err: Error | null, result: HttpResult) => void,
) => void;

// untyped CommonJS package
const autocannon: Autocannon = require('autocannon');

/** Runs one autocannon load and resolves with its result. */
export function load(url: string, connections: number, seconds: number, requests?: HttpRequestSpec[]): Promise<HttpResult> {
  return new Promise((resolve, reject) => autocannon({ url, connections, duration: seconds, requests }, (err, result) => (err ? reject(err) : resolve(result))));
}

/** Requests per second that got `status`. */
export function rateOf(result: HttpResult, status: string): number {
  return (result.statusCodeStats?.[status]?.count ?? 0) / result.duration;
}
