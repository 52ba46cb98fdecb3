// The breaker lives in libs/llm now: api-service's synchronous path guards the same provider with it.
export { ProviderBreaker, type Admission, type BreakerPolicy, type CallOrigin, type CallOutcome, type CallTicket, type CircuitState, type StateChange } from '@qv/llm';
