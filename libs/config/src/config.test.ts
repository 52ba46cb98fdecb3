import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, cacheDurabilityEnv, commonEnv, parseConfig, port, serviceToken } from './index';

const schema = z.object({ ...commonEnv, PORT: port(3000) });

describe('parseConfig', () => {
  it('gives a working default for every variable', () => {
    const config = parseConfig(schema, {});
    expect(config.PORT).toBe(3000);
    expect(config.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/quota_vault');
    expect(config.REDIS_PREFIX).toBe('qv');
  });

  it('refuses a bad value with a message naming the variable', () => {
    expect(() => parseConfig(schema, { PORT: 'eighty', REDIS_URL: 'not a url' })).toThrow(ConfigError);
    try {
      parseConfig(schema, { PORT: 'eighty', REDIS_URL: 'not a url' });
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toMatch(/PORT: .*\(got "eighty"\)/);
      expect(message).toMatch(/REDIS_URL: .*\(got "not a url"\)/);
      expect((err as ConfigError).problems).toHaveLength(2);
    }
  });
});

describe('service credentials in the config', () => {
  const withTokens = z.object({ ...commonEnv, SERVICE_TOKEN_API: serviceToken(), SERVICE_TOKEN_METRICS: serviceToken() });
  const required = { requiredInProduction: ['SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS'] as const };
  const token = 't'.repeat(43);
  const problems = (env: NodeJS.ProcessEnv): string[] => {
    try {
      parseConfig(withTokens, env, required);
    } catch (err) {
      return (err as ConfigError).problems;
    }
    return [];
  };

  it('are optional outside production and required in it, each missing one named', () => {
    expect(parseConfig(withTokens, {}, required).SERVICE_TOKEN_API).toBeUndefined();
    expect(parseConfig(withTokens, { NODE_ENV: 'test' }, required).SERVICE_TOKEN_API).toBeUndefined();
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      'SERVICE_TOKEN_API: required when NODE_ENV=production (or SERVICE_TOKEN_API_FILE); see SECURITY.md',
      'SERVICE_TOKEN_METRICS: required when NODE_ENV=production (or SERVICE_TOKEN_METRICS_FILE); see SECURITY.md',
    ]);
    expect(problems({ NODE_ENV: 'production', SERVICE_TOKEN_API: token })).toEqual([expect.stringMatching(/^SERVICE_TOKEN_METRICS: required/)]);
    expect(parseConfig(withTokens, { NODE_ENV: 'production', SERVICE_TOKEN_API: token, SERVICE_TOKEN_METRICS: token }, required).SERVICE_TOKEN_API).toBe(token);
  });

  it('refuses a short or spaced credential without echoing it', () => {
    const [short] = problems({ SERVICE_TOKEN_API: 'secret-but-short' });
    expect(short).toMatch(/^SERVICE_TOKEN_API: a service credential is 32 to 512 visible ASCII characters.* \(got 16 characters\)$/);
    expect(short).not.toContain('secret-but-short');
    expect(problems({ SERVICE_TOKEN_API: `${token} ${token}` })).toHaveLength(1);
    // Two during a rotation (`new,old`), never three, never an empty one.
    expect(parseConfig(withTokens, { SERVICE_TOKEN_API: `${token},${'o'.repeat(43)}` }).SERVICE_TOKEN_API).toBe(`${token},${'o'.repeat(43)}`);
    expect(problems({ SERVICE_TOKEN_API: `${token},${token},${token}` })).toHaveLength(1);
    expect(problems({ SERVICE_TOKEN_API: `${token},` })).toHaveLength(1);
  });

  it('reads X from the file named by X_FILE (trailing newline dropped), and refuses both or an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qv-config-'));
    const file = join(dir, 'service_token_api');
    writeFileSync(file, `${token}\n`);
    expect(parseConfig(withTokens, { NODE_ENV: 'production', SERVICE_TOKEN_API_FILE: file, SERVICE_TOKEN_METRICS: token }, required).SERVICE_TOKEN_API).toBe(token);
    expect(problems({ SERVICE_TOKEN_API_FILE: file, SERVICE_TOKEN_API: token })).toEqual(['SERVICE_TOKEN_API: set either SERVICE_TOKEN_API or SERVICE_TOKEN_API_FILE, not both']);
    expect(problems({ SERVICE_TOKEN_API_FILE: join(dir, 'missing') })).toEqual([`SERVICE_TOKEN_API_FILE: cannot read ${JSON.stringify(join(dir, 'missing'))} (ENOENT)`]);
  });
});

describe('CACHE_DURABLE_TIERS', () => {
  const durability = z.object(cacheDurabilityEnv);
  it('is the system tier alone by default, a list of distinct tiers otherwise', () => {
    expect(parseConfig(durability, {}).CACHE_DURABLE_TIERS).toEqual(['system']);
    expect(parseConfig(durability, { CACHE_DURABLE_TIERS: ' system, content ,content' }).CACHE_DURABLE_TIERS).toEqual(['system', 'content']);
    expect(parseConfig(durability, { CACHE_DURABLE_TIERS: 'content,session,system' }).CACHE_DURABLE_TIERS).toEqual(['content', 'session', 'system']);
  });

  it('refuses an unknown tier, and a list without the system tier', () => {
    expect(() => parseConfig(durability, { CACHE_DURABLE_TIERS: 'system,contents' })).toThrow(/CACHE_DURABLE_TIERS/);
    expect(() => parseConfig(durability, { CACHE_DURABLE_TIERS: 'content' })).toThrow(/system tier is always durable/);
    expect(() => parseConfig(durability, { CACHE_DURABLE_TIERS: '' })).toThrow(/system tier is always durable/);
  });
});
