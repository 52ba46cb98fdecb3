import { resolveLlmConfig } from './config';

describe('resolveLlmConfig', () => {
  it('defaults to the simulator without any key', () => {
    expect(resolveLlmConfig({})).toEqual({
      provider: 'simulator',
      baseUrl: 'http://127.0.0.1:3005/v1',
      apiKey: undefined,
      model: 'sim-1',
      timeoutMs: 30_000,
      maxAnswerBytes: 32 * 1024 * 1024,
    });
  });

  it('picks openai with OPENAI_API_KEY, and anthropic before it', () => {
    expect(resolveLlmConfig({ OPENAI_API_KEY: 'sk-o' })).toEqual({
      provider: 'openai',
      baseUrl: undefined,
      apiKey: 'sk-o',
      model: 'gpt-4o-mini',
      timeoutMs: 30_000,
      maxAnswerBytes: 32 * 1024 * 1024,
    });
    expect(resolveLlmConfig({ OPENAI_API_KEY: 'sk-o', ANTHROPIC_API_KEY: 'sk-a' })).toMatchObject({
      provider: 'anthropic',
      apiKey: 'sk-a',
      model: 'claude-3-5-haiku-latest',
      baseUrl: undefined,
    });
  });

  it('lets LLM_* override, and treats empty variables as unset', () => {
    expect(
      resolveLlmConfig({ LLM_PROVIDER: 'openai', LLM_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_MODEL: 'llama3.1', LLM_TIMEOUT_MS: '5000', LLM_MAX_ANSWER_BYTES: '65536', ANTHROPIC_API_KEY: 'sk-a' }),
    ).toEqual({ provider: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: undefined, model: 'llama3.1', timeoutMs: 5000, maxAnswerBytes: 65536 });
    expect(resolveLlmConfig({ ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '', LLM_PROVIDER: '' }).provider).toBe('simulator');
  });

  it('refuses an unknown provider or a bad timeout', () => {
    expect(() => resolveLlmConfig({ LLM_PROVIDER: 'gemini' })).toThrow();
    expect(() => resolveLlmConfig({ LLM_TIMEOUT_MS: '-1' })).toThrow();
  });
});
