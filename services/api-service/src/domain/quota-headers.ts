import type { QuotaStatus, QuotaUsage } from '@qv/contracts';

const UNLIMITED = '-1';

const limitOf = (q: QuotaUsage) => (q.limit === null ? UNLIMITED : String(q.limit));
const remainingOf = (q: QuotaUsage) => (q.remaining === null ? UNLIMITED : String(Math.max(0, q.remaining)));

/** The X-AI-Quota-* headers of DESIGN.md §4, from a quota status. Unlimited is -1. */
export function quotaHeaders(status: QuotaStatus): Record<string, string> {
  const { enrichmentsPerDay, tokensPerDay, concurrentJobs } = status.quotas;
  return {
    'X-AI-Quota-Limit': limitOf(enrichmentsPerDay),
    'X-AI-Quota-Remaining': remainingOf(enrichmentsPerDay),
    'X-AI-Quota-Reset': enrichmentsPerDay.resetAt ? String(Math.ceil(Date.parse(enrichmentsPerDay.resetAt) / 1000)) : '0',
    'X-AI-Quota-Tokens-Limit': limitOf(tokensPerDay),
    'X-AI-Quota-Tokens-Remaining': remainingOf(tokensPerDay),
    'X-AI-Quota-Concurrency-Limit': limitOf(concurrentJobs),
    'X-AI-Quota-Concurrency-Remaining': remainingOf(concurrentJobs),
  };
}
