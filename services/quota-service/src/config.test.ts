import { loadConfig, withStatementTimeout } from './config';

describe('quota-service config', () => {
  it('PostgreSQL defaults: 20 connections, a 5 s statement timeout bounding each charge', () => {
    expect(loadConfig({})).toMatchObject({ DB_POOL_SIZE: 20, DB_STATEMENT_TIMEOUT_MS: 5000 });
  });

  it('puts the statement timeout into the URL libpq options, keeping any already there', () => {
    const url = new URL(withStatementTimeout('postgresql://postgres@127.0.0.1:5432/qv?options=-c%20search_path%3Dpublic', 5000));
    expect(url.searchParams.get('options')).toBe('-c search_path=public -c statement_timeout=5000');
  });
});
