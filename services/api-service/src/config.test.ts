import { ConfigError } from '@qv/config';
import { loadConfig } from './config';

describe('api-service config', () => {
  it('defaults: metrics on port 9464 (infra/k8s, infra/prometheus), no CORS, 20 failed authentications a minute, 5 s caches, a 1 s cache-service deadline, 20 connections', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      OPS_PORT: 9464,
      CORS_ORIGINS: [],
      CORS_MAX_AGE_SECONDS: 600,
      AUTH_FAILURE_LIMIT: 20,
      AUTH_FAILURE_WINDOW_MS: 60_000,
      AUTH_CACHE_TTL_MS: 5000,
      AUTH_NEGATIVE_CACHE_TTL_MS: 5000,
      CACHE_TIMEOUT_MS: 1000,
      DB_POOL_SIZE: 20,
    });
  });

  it('CORS_ORIGINS: exact origins, comma-separated', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });

  it('refuses a bad LLM variable at start, as any other, naming it', () => {
    expect(() => loadConfig({ LLM_PROVIDER: 'gemini', LLM_TIMEOUT_MS: '-1' })).toThrow(ConfigError);
    expect(() => loadConfig({ LLM_PROVIDER: 'gemini', LLM_TIMEOUT_MS: '-1' })).toThrow(/LLM_PROVIDER: .*\n.*LLM_TIMEOUT_MS: /);
  });

  it.each(['*', 'https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'ftp://files.example.com', 'https://APP.example.com', 'https://app.example.com:443'])(
    'CORS_ORIGINS refuses %s (not an origin as a browser sends it)',
    (origin) => {
      expect(() => loadConfig({ CORS_ORIGINS: `https://ok.example.com,${origin}` })).toThrow(ConfigError);
    },
  );
});
