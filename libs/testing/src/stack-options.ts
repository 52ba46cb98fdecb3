import type { ServiceName } from './stack';

export interface StackOptions {
  /** Extra variables for every service, or per service. */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Services not to start (a test starts them itself, or tests their absence). */
  skip?: ServiceName[];
}

/** Several option sets as one: variables merged, the later set's winning; every skipped service skipped. */
export function mergeStackOptions(...sets: StackOptions[]): StackOptions {
  const serviceEnv: NonNullable<StackOptions['serviceEnv']> = {};
  for (const set of sets) {
    for (const [name, env] of Object.entries(set.serviceEnv ?? {}) as [ServiceName, Record<string, string>][]) serviceEnv[name] = { ...serviceEnv[name], ...env };
  }
  return {
    env: Object.assign({}, ...sets.map((set) => set.env)),
    serviceEnv,
    skip: [...new Set(sets.flatMap((set) => set.skip ?? []))],
  };
}
