import { DEFAULT_MAX_ANSWER_BYTES } from './providers/bounded-body';
import { positiveInt } from '@qv/config';
import { z } from 'zod';

/** The providers `createProvider` can build. */
export const LlmProviderName = z.enum(['simulator', 'openai', 'anthropic']);
export type LlmProviderName = z.infer<typeof LlmProviderName>;

// An exported-but-empty variable (`OPENAI_API_KEY=`) means "not set", as shells and .env files write it.
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional());

/** Where the simulator listens by default (its `PORT` default is 3005). */
export const DEFAULT_SIMULATOR_BASE_URL = 'http://127.0.0.1:3005/v1';

/** The model each provider uses unless LLM_MODEL says otherwise. */
export const DEFAULT_MODELS: Record<LlmProviderName, string> = {
  simulator: 'sim-1',
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
};

/**
 * The LLM variables, to spread into a service's config schema (`z.object({...commonEnv, ...llmEnv})`).
 * Defaults that depend on the provider are filled by `resolveLlmConfig`.
 */
export const llmEnv = {
  LLM_PROVIDER: z
    .preprocess((v) => (v === '' ? undefined : v), LlmProviderName.optional())
    .describe(
      `${LlmProviderName.options.map((p) => `\`${p}\``).join(', ')}; unset: \`anthropic\` if ANTHROPIC_API_KEY, else \`openai\` if OPENAI_API_KEY, else \`simulator\`. api-service's chat paths (\`/v1/chat/completions\`, \`/v1/messages\`) need an OpenAI-compatible one (not anthropic)`,
    ),
  LLM_BASE_URL: z
    .preprocess((v) => (v === '' ? undefined : v), z.url().optional())
    .describe(`base URL of the API, e.g. any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp); unset: \`${DEFAULT_SIMULATOR_BASE_URL}\` for the simulator, the SDK's own for the others`),
  LLM_MODEL: optionalString.describe(`unset: ${Object.entries(DEFAULT_MODELS).map(([provider, model]) => `\`${model}\` (${provider})`).join(', ')}`),
  LLM_TIMEOUT_MS: positiveInt(30_000).describe('per call; a call slower than this fails as a retryable `timeout`'),
  LLM_MAX_ANSWER_BYTES: positiveInt(DEFAULT_MAX_ANSWER_BYTES).describe(
    'the most bytes of one answer read from an OpenAI-compatible provider (a body, or a whole stream); past it the answer is `invalid_response`. A provider that ignores its cap, or a proxy that streams forever, cannot fill a process\'s memory',
  ),
  OPENAI_API_KEY: optionalString.describe('key of the openai provider (an empty value counts as unset)'),
  ANTHROPIC_API_KEY: optionalString.describe('key of the anthropic provider (an empty value counts as unset)'),
};

export const LlmEnv = z.object(llmEnv);
export type LlmEnv = z.infer<typeof LlmEnv>;

/** Everything `createProvider` needs. */
export interface LlmConfig {
  provider: LlmProviderName;
  baseUrl?: string;
  apiKey?: string;
  model?: string;
  timeoutMs: number;
  /** LLM_MAX_ANSWER_BYTES; unset, DEFAULT_MAX_ANSWER_BYTES. */
  maxAnswerBytes?: number;
}

/**
 * Turns the LLM variables (a service's parsed config, or any object holding them) into an `LlmConfig`.
 * Without LLM_PROVIDER it picks the provider a key exists for, Anthropic first, and falls back to
 * the simulator, so a machine with no key works out of the box.
 */
export function resolveLlmConfig(env: Record<string, unknown>): LlmConfig {
  const parsed = LlmEnv.parse(env);
  const provider: LlmProviderName =
    parsed.LLM_PROVIDER ?? (parsed.ANTHROPIC_API_KEY ? 'anthropic' : parsed.OPENAI_API_KEY ? 'openai' : 'simulator');
  const apiKey = provider === 'anthropic' ? parsed.ANTHROPIC_API_KEY : provider === 'openai' ? parsed.OPENAI_API_KEY : undefined;
  return {
    provider,
    baseUrl: parsed.LLM_BASE_URL ?? (provider === 'simulator' ? DEFAULT_SIMULATOR_BASE_URL : undefined),
    apiKey,
    model: parsed.LLM_MODEL ?? DEFAULT_MODELS[provider],
    timeoutMs: parsed.LLM_TIMEOUT_MS,
    maxAnswerBytes: parsed.LLM_MAX_ANSWER_BYTES,
  };
}
