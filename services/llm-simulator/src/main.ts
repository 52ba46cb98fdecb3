import { startTelemetry } from '@qv/telemetry';
startTelemetry('llm-simulator');

import { announceReady, limitHeapGrowth, listen, onShutdown } from '@qv/http';
import { createLogger, createMetricsRegistry, stopTelemetry } from '@qv/telemetry';
import { createApp } from './app';
import { loadConfig } from './config';

async function main(): Promise<void> {
  const config = loadConfig();
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT);
  const logger = createLogger('llm-simulator', config.LOG_LEVEL);
  const app = createApp({ logger, metrics: createMetricsRegistry('llm-simulator'), model: config.SIM_MODEL, baseLatencyMs: config.SIM_LATENCY_MS });
  const server = await listen(app, config.PORT, config.HOST);
  logger.info({ port: server.port, model: config.SIM_MODEL, latencyMs: config.SIM_LATENCY_MS }, 'llm-simulator listening');
  onShutdown(
    async () => {
      await server.close();
      await stopTelemetry();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS,
  );
  // Only once SIGTERM is handled: a stop right after `ready` must still be graceful.
  announceReady('llm-simulator', server.port);
}

main().catch((err) => {
  process.stderr.write(`llm-simulator failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
