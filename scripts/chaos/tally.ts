/** What the driver saw: answers by route and status, refusals by code, accept latencies. */
export class Tally {
  readonly byRoute = new Map<string, Map<string, number>>();
  readonly refusals = new Map<string, number>();
  readonly acceptMs: number[] = [];
  /** Items answered 202 (first or replayed), by id: the set "lost" is decided against. */
  readonly accepted = new Map<string, { userId: string; kind: string }>();
  /** Idempotency-Keys answered 202 with different item ids (the service's own answers disagreeing). */
  readonly keysWithTwoItems: string[] = [];
  readonly replays = { requested: 0, accepted: 0, refused: 0 };
  /** Items taken out of the dead-letter queue by a replay answered 202. */
  readonly replayedItems = new Set<string>();
  /** 202 answers carrying `Idempotent-Replayed: true` (a retry under a key already used). */
  idempotentReplays = 0;

  count(route: string, outcome: string): void {
    const m = this.byRoute.get(route) ?? new Map<string, number>();
    m.set(outcome, (m.get(outcome) ?? 0) + 1);
    this.byRoute.set(route, m);
  }

  refused(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  /** Answers with a 5xx status, by route ("no answer": the connection failed or timed out). */
  fiveXx(): Array<{ route: string; status: string; n: number }> {
    const rows: Array<{ route: string; status: string; n: number }> = [];
    for (const [route, m] of this.byRoute) for (const [status, n] of m) if (/^5\d\d/.test(status) || status === 'no answer') rows.push({ route, status, n });
    return rows.sort((a, b) => a.route.localeCompare(b.route) || a.status.localeCompare(b.status));
  }

  acceptedByKind(): string {
    const kinds = new Map<string, number>();
    for (const { kind } of this.accepted.values()) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    return [...kinds].sort().map(([k, n]) => `${k} ${n}`).join(', ');
  }

  requests(): number {
    let n = 0;
    for (const m of this.byRoute.values()) for (const v of m.values()) n += v;
    return n;
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
