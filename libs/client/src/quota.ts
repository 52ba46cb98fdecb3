/** The `X-AI-Quota-*` headers (DESIGN.md §4) as numbers; `null` is unlimited (the header's -1). */
export interface QuotaSnapshot {
  /** Enrichments allowed today (UTC). */
  limit: number | null;
  /** Enrichments left today. */
  remaining: number | null;
  /** Enrichments used today (limit − remaining), when both are known and limited. */
  used: number | null;
  /** When the daily enrichment count resets (from epoch seconds); null when the header is 0 or absent. */
  resetAt: Date | null;
  tokensLimit: number | null;
  tokensRemaining: number | null;
  concurrencyLimit: number | null;
  concurrencyRemaining: number | null;
}

export const QUOTA_HEADER_NAMES = {
  limit: 'X-AI-Quota-Limit',
  remaining: 'X-AI-Quota-Remaining',
  reset: 'X-AI-Quota-Reset',
  tokensLimit: 'X-AI-Quota-Tokens-Limit',
  tokensRemaining: 'X-AI-Quota-Tokens-Remaining',
  concurrencyLimit: 'X-AI-Quota-Concurrency-Limit',
  concurrencyRemaining: 'X-AI-Quota-Concurrency-Remaining',
} as const;

interface HeaderSource {
  get(name: string): string | null;
}

/** An integer header; -1 (unlimited) → null; absent or malformed → undefined. */
function intHeader(headers: HeaderSource, name: string): number | null | undefined {
  const raw = headers.get(name);
  if (raw === null || !/^\s*-?\d+\s*$/.test(raw)) return undefined;
  const n = Number(raw);
  return n === -1 ? null : n;
}

/**
 * The quota snapshot of a response, or undefined when it carries no `X-AI-Quota-*` header (most
 * routes do not: only `POST /v1/items`, its 429s, and `GET /v1/quota` do).
 */
export function parseQuotaHeaders(headers: HeaderSource): QuotaSnapshot | undefined {
  const n = QUOTA_HEADER_NAMES;
  const values = {
    limit: intHeader(headers, n.limit),
    remaining: intHeader(headers, n.remaining),
    reset: intHeader(headers, n.reset),
    tokensLimit: intHeader(headers, n.tokensLimit),
    tokensRemaining: intHeader(headers, n.tokensRemaining),
    concurrencyLimit: intHeader(headers, n.concurrencyLimit),
    concurrencyRemaining: intHeader(headers, n.concurrencyRemaining),
  };
  if (Object.values(values).every((v) => v === undefined)) return undefined;
  const limit = values.limit ?? null;
  const remaining = values.remaining ?? null;
  return {
    limit,
    remaining,
    used: limit !== null && remaining !== null ? Math.max(0, limit - remaining) : null,
    resetAt: values.reset ? new Date(values.reset * 1000) : null,
    tokensLimit: values.tokensLimit ?? null,
    tokensRemaining: values.tokensRemaining ?? null,
    concurrencyLimit: values.concurrencyLimit ?? null,
    concurrencyRemaining: values.concurrencyRemaining ?? null,
  };
}

/** "49/50 enrichments today", or "12 enrichments today (unlimited)". */
export function formatDailyUsage(q: QuotaSnapshot): string {
  if (q.limit === null) return q.used === null ? 'Unlimited enrichments today' : `${q.used} enrichments today (unlimited)`;
  return `${q.used ?? q.limit - (q.remaining ?? 0)}/${q.limit} enrichments today`;
}
