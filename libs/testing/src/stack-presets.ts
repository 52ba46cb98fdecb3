import type { StackOptions } from './stack-options';

/**
 * Settings several test files start their stack with, named for what they change. Give
 * `startStack` any of them before the file's own: `startStack(presets.quickRetries, { … })`.
 */
export const presets = {
  /** The worker's retries 50 ms apart at first (the stack's are 100 ms): a job's five attempts end within a couple of seconds. */
  quickRetries: { serviceEnv: { 'enrichment-worker': { RETRY_BASE_DELAY_MS: '50' } } },
  /**
   * No number of failed LLM calls opens the worker's provider circuit, so one test's failures never
   * fail another's calls fast: every failure is the item's own, to its last attempt.
   */
  circuitStaysClosed: { serviceEnv: { 'enrichment-worker': { BREAKER_THRESHOLD: '100000' } } },
  /** No enrichment-worker, ledger-consumer or llm-simulator: items are charged and stored, and nothing takes them further. */
  withoutPipeline: { skip: ['enrichment-worker', 'ledger-consumer', 'llm-simulator'] },
} satisfies Record<string, StackOptions>;
