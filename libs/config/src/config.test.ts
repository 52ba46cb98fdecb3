import { z } from 'zod';
import { ConfigError, commonEnv, parseConfig, port } from './index';

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
