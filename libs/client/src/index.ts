/** A typed client of the Quota Vault API for browsers and Node; types from libs/contracts. */
export * from './client';
export * from './errors';
export * from './quota';
export * from './types';
