/** The HTTP edge every service shares: app factory, direct JSON routes, validation, error mapping, server lifecycle, internal client, service credentials. */
export * from './app';
export * from './errors';
export * from './validate';
export * from './edge-guard';
export * from './keyed-gate';
export * from './server';
export * from './client';
export * from './operations-server';
export * from './service-auth';
export * from './direct-routes';
export * from './request-context';
export * from './keyed-batcher';
export * from './heap-growth';
