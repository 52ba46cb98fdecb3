import { serviceToken } from './fields';

const SERVICE_TOKENS = {
  SERVICE_TOKEN_API: serviceToken().describe(
    "api-service's service credential, sent by api-service and checked by quota-service and cache-service: charge, release, status; cache stats, purge, warm, delete ([SECURITY.md](SECURITY.md)). Unset by default (`npm start` and the test stack generate one per run); **required with `NODE_ENV=production`**",
  ),
  SERVICE_TOKEN_WORKER: serviceToken().describe(
    "the worker's, sent by enrichment-worker and checked by cache-service (quota-service knows it only to answer it 403): cache get, lookup, put, lease release; never a charge. Unset by default (generated per run as the others); required in production by the worker and cache-service",
  ),
  SERVICE_TOKEN_METRICS: serviceToken().describe(
    "the scraper's: `GET /metrics` and nothing else (api-service's on its operations port). Unset by default (generated per run as the others); required in production by every service that checks it",
  ),
};
type ServiceTokens = typeof SERVICE_TOKENS;

/**
 * The service credentials a service sends or checks (libs/http service-auth), each one variable
 * with one meaning wherever it is read. List them in `requiredInProduction` as well.
 */
export function serviceTokensEnv<K extends keyof ServiceTokens>(...names: K[]): Pick<ServiceTokens, K> {
  return Object.fromEntries(names.map((name) => [name, SERVICE_TOKENS[name]])) as Pick<ServiceTokens, K>;
}
