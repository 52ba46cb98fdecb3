import { configSchema as apiService } from '../../services/api-service/src/config';
import { configSchema as cacheService } from '../../services/cache-service/src/config';
import { configSchema as enrichmentWorker } from '../../services/enrichment-worker/src/config';
import { configSchema as ledgerConsumer } from '../../services/ledger-consumer/src/config';
import { configSchema as llmSimulator } from '../../services/llm-simulator/src/config';
import { configSchema as quotaService } from '../../services/quota-service/src/config';

/** Every service's config schema, in the order of their default ports (the order of the table's columns of defaults). */
export const SERVICE_SCHEMAS = {
  'api-service': apiService,
  'quota-service': quotaService,
  'enrichment-worker': enrichmentWorker,
  'cache-service': cacheService,
  'ledger-consumer': ledgerConsumer,
  'llm-simulator': llmSimulator,
};
