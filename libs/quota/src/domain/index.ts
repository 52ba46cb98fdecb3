/** The quota rules with no I/O: windows, levels, limits, the five checks, Retry-After. */
export * from './windows';
export * from './levels';
export * from './limits';
export * from './retry-after';
export * from './usage';
