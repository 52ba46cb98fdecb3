/**
 * Everything about talking to an LLM: one provider interface and its adapters (OpenAI-compatible,
 * Anthropic, the simulator), the tokenizer every count uses, errors with retry semantics, prices,
 * and the versioned enrichment tasks.
 */
export * from './types';
export * from './tokens';
export * from './reported-usage';
export * from './errors';
export * from './pricing';
export * from './config';
export * from './tasks/tasks';
export { OpenAiCompatibleProvider, type OpenAiCompatibleOptions } from './providers/openai-compatible.provider';
export { AnthropicProvider, type AnthropicOptions } from './providers/anthropic.provider';
export { createProvider } from './providers/create-provider';
export { boundedBody, DEFAULT_MAX_ANSWER_BYTES, readBounded, readStart } from './providers/bounded-body';
export { mapSdkError } from './providers/sdk-errors';
export * from './breaker/provider-breaker';
export * from './breaker/breaker-env';
