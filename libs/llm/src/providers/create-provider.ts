import type { LlmConfig } from '../config';
import { DEFAULT_MODELS, DEFAULT_SIMULATOR_BASE_URL } from '../config';
import type { LlmProvider } from '../types';
import { AnthropicProvider } from './anthropic.provider';
import { OpenAiCompatibleProvider } from './openai-compatible.provider';
import { traced } from './traced.provider';

/**
 * Builds the configured provider. The simulator is reached through the OpenAI-compatible adapter
 * (it needs no key; the SDK insists on one, so a placeholder is sent).
 */
export function createProvider(config: LlmConfig): LlmProvider {
  return traced(createUntracedProvider(config));
}

function createUntracedProvider(config: LlmConfig): LlmProvider {
  const model = config.model ?? DEFAULT_MODELS[config.provider];
  switch (config.provider) {
    case 'simulator':
      return new OpenAiCompatibleProvider({
        name: 'simulator',
        baseURL: config.baseUrl ?? DEFAULT_SIMULATOR_BASE_URL,
        apiKey: config.apiKey ?? 'simulator',
        model,
        timeoutMs: config.timeoutMs,
        maxAnswerBytes: config.maxAnswerBytes,
      });
    case 'openai':
      // A self-hosted compatible server (vLLM, Ollama) usually needs no key; api.openai.com does.
      if (!config.apiKey && !config.baseUrl) throw new Error('LLM_PROVIDER=openai needs OPENAI_API_KEY (or LLM_BASE_URL for a keyless compatible server)');
      return new OpenAiCompatibleProvider({
        name: 'openai',
        baseURL: config.baseUrl,
        apiKey: config.apiKey ?? 'unused',
        model,
        timeoutMs: config.timeoutMs,
        maxAnswerBytes: config.maxAnswerBytes,
        maxTokensField: config.baseUrl ? 'max_tokens' : 'max_completion_tokens',
      });
    case 'anthropic':
      if (!config.apiKey) throw new Error('LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY');
      return new AnthropicProvider({ apiKey: config.apiKey, baseURL: config.baseUrl, model, timeoutMs: config.timeoutMs });
  }
}
