import { Router } from 'express';
import { allow, AUTHENTICATED_CALLERS, bearerToken, CALLS_AS, credentialList, generateServiceToken, generateServiceTokens, listRoutes, outgoingCredential, SERVICE_CALLERS, serviceCredentialEnv, ServiceAuthenticator } from './service-auth';

const API = 'a'.repeat(43);
const WORKER = 'w'.repeat(43);

describe('ServiceAuthenticator.identify', () => {
  const auth = new ServiceAuthenticator({ 'api-service': API, 'enrichment-worker': WORKER, metrics: undefined });

  it('names the caller of an exact credential, and nobody for anything else', () => {
    expect(auth.identify(API)).toBe('api-service');
    expect(auth.identify(WORKER)).toBe('enrichment-worker');
    for (const wrong of [undefined, '', API.slice(0, -1), `${API}a`, API.toUpperCase(), ` ${API}`, 'x'.repeat(43), 'a'.repeat(10_000)]) {
      expect(auth.identify(wrong)).toBeUndefined();
    }
  });

  it('lists the callers it cannot recognise, by variable (fail closed: nobody can be them)', () => {
    expect(auth.unconfigured).toEqual(['SERVICE_TOKEN_METRICS']);
    expect(new ServiceAuthenticator({ metrics: '' }).identify('')).toBeUndefined();
  });

  it('refuses two callers sharing one credential', () => {
    expect(() => new ServiceAuthenticator({ 'api-service': API, metrics: API })).toThrow('SERVICE_TOKEN_API and SERVICE_TOKEN_METRICS hold the same credential');
  });

  it('accepts both credentials of a `new,old` pair during a rotation; a caller sends the new one', () => {
    const NEW = 'n'.repeat(43);
    const rotating = new ServiceAuthenticator({ 'api-service': `${NEW},${API}`, 'enrichment-worker': WORKER });
    expect([rotating.identify(NEW), rotating.identify(API), rotating.identify(`${NEW},${API}`)]).toEqual(['api-service', 'api-service', undefined]);
    expect(outgoingCredential(`${NEW},${API}`)).toBe(NEW);
    expect(outgoingCredential(API)).toBe(API);
    expect([credentialList(undefined), credentialList(''), credentialList(',')]).toEqual([[], [], []]);
    expect(() => new ServiceAuthenticator({ 'api-service': `${NEW},${API}`, metrics: `${WORKER},${API}` })).toThrow('hold the same credential');
  });

  it('is built from a config by variable names', () => {
    const fromConfig = ServiceAuthenticator.fromConfig({ SERVICE_TOKEN_API: API, SERVICE_TOKEN_WORKER: WORKER }, ['api-service', 'metrics']);
    expect(fromConfig.identify(API)).toBe('api-service');
    expect(fromConfig.identify(WORKER)).toBeUndefined();
    expect(fromConfig.unconfigured).toEqual(['SERVICE_TOKEN_METRICS']);
  });
});

describe('bearerToken', () => {
  it('reads `Bearer <token>`, scheme in any case, and nothing else', () => {
    expect(bearerToken(`Bearer ${API}`)).toBe(API);
    expect(bearerToken(`bearer ${API}`)).toBe(API);
    for (const header of [undefined, '', 'Bearer', 'Bearer ', `Basic ${API}`, API, `Bearer ${API} extra`, `Bearer\t${API}`]) expect(bearerToken(header)).toBeUndefined();
  });
});

describe('generated credentials and their wiring', () => {
  it('are 43 base64url characters, distinct', () => {
    const tokens = new Set(Array.from({ length: 50 }, generateServiceToken));
    expect(tokens.size).toBe(50);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('gives each service only the credentials it sends or checks', () => {
    const tokens = generateServiceTokens();
    const keys = (service: string) => Object.keys(serviceCredentialEnv(service, tokens)).sort();
    // api-service also checks the scraper's on its operations port (its public port takes API keys).
    expect(keys('api-service')).toEqual(['SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS']);
    expect(keys('quota-service')).toEqual(['SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS', 'SERVICE_TOKEN_WORKER']);
    expect(keys('cache-service')).toEqual(['SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS', 'SERVICE_TOKEN_WORKER']);
    expect(keys('enrichment-worker')).toEqual(['SERVICE_TOKEN_METRICS', 'SERVICE_TOKEN_WORKER']);
    expect(keys('ledger-consumer')).toEqual(['SERVICE_TOKEN_METRICS']);
    expect(keys('llm-simulator')).toEqual([]);
    expect(serviceCredentialEnv('ledger-consumer', tokens)).toEqual({ SERVICE_TOKEN_METRICS: tokens.SERVICE_TOKEN_METRICS });
    // Every caller that sends a credential is authenticated somewhere, and only known callers are.
    for (const caller of Object.values(CALLS_AS)) expect(Object.values(AUTHENTICATED_CALLERS).some((callers) => callers.includes(caller))).toBe(true);
    for (const callers of Object.values(AUTHENTICATED_CALLERS)) for (const c of callers) expect(Object.keys(SERVICE_CALLERS)).toContain(c);
  });
});

describe('listRoutes', () => {
  it('lists every route of nested routers with the callers of its guard', () => {
    const inner = Router();
    inner.post('/internal/a/:id', allow('api-service'), (_req, res) => res.end());
    inner.get('/internal/b', allow('enrichment-worker', 'api-service'), (_req, res) => res.end());
    const outer = Router();
    outer.get('/open', (_req, res) => res.end());
    outer.use(inner);
    expect(listRoutes(outer)).toEqual([
      { method: 'GET', path: '/open', callers: undefined },
      { method: 'POST', path: '/internal/a/:id', callers: ['api-service'] },
      { method: 'GET', path: '/internal/b', callers: ['enrichment-worker', 'api-service'] },
    ]);
  });

  it('refuses a router mounted under a prefix rather than list wrong paths', () => {
    const outer = Router();
    outer.use('/prefix', Router());
    expect(() => listRoutes(outer)).toThrow('mounted at /prefix');
  });
});
