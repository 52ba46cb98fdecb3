/**
 * Every service's configuration is a zod object over its environment variables, parsed once at
 * start (parseConfig): the field types, the fragments several services share (one name and one
 * meaning per knob), and the parser.
 */
export * from './parse-config';
export * from './fields';
export * from './common-env';
export * from './queue-consumer-env';
export * from './database-env';
export * from './cache-client-env';
export * from './service-tokens-env';
export * from './env-table';
