import { createHttpApp } from '@qv/http';
import { Counter, type Registry } from '@qv/telemetry';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { FaultInjector } from './domain/faults';
import { CallLog } from './repositories/call-log';
import { chatCompletionRoutes } from './routes/chat-completions.routes';
import { openAiErrorMiddleware, sendOpenAiError } from './routes/openai-errors';
import { simRoutes } from './routes/sim.routes';

export interface SimulatorDeps {
  logger: Logger;
  metrics: Registry;
  model: string;
  baseLatencyMs: number;
  now?: () => number;
}

/** The simulator's HTTP app; all of its state (call log, fault counters) lives in this instance. */
export function createApp(deps: SimulatorDeps): Express {
  const app = createHttpApp({ service: 'llm-simulator', logger: deps.logger, metrics: deps.metrics, readiness: [], bodyLimit: '5mb' });
  const faults = new FaultInjector(deps.now);
  const calls = new CallLog();
  const outcomes = new Counter({
    name: 'sim_chat_completions_total',
    help: 'Chat completion calls by outcome (ok, fault, invalid)',
    labelNames: ['outcome'],
    registers: [deps.metrics],
  });
  app.use(
    chatCompletionRoutes({ model: deps.model, baseLatencyMs: deps.baseLatencyMs, faults, calls, onOutcome: (outcome) => outcomes.inc({ outcome }) }),
  );
  app.use(simRoutes({ calls, faults }));
  app.use((req, res) => sendOpenAiError(res, 404, `Unknown route ${req.method} ${req.path}`, 'invalid_request_error', { code: 'not_found' }));
  app.use(openAiErrorMiddleware(deps.logger));
  return app;
}
