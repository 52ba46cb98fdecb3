/** Every HTTP body, job payload, event and error code of Quota Vault, as zod schemas (DESIGN.md). */
export * from './errors';
export * from './bounds';
export * from './plans';
export * from './tasks';
export * from './quota';
export * from './items';
export * from './usage';
export * from './jobs';
export * from './events';
export * from './admin';
export * from './admin-responses';
export * from './cache';
export * from './ids';
export * from './chat';
export * from './anthropic-messages';
export * from './sha256';
