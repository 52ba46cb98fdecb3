// The compiled services' first statement (scripts/build-services.mjs puts a require of the bundle
// of this file in each service's banner, when tracing is configured): the SDK starts before the
// service requires express, pg or ioredis, so the instrumentations patch them as they load.
// Also usable as `node --require dist/telemetry/preload.js <entry>`.
import { basename, dirname } from 'node:path';
import { startTelemetry } from './tracing';

/** dist/<service>/main.js → <service>; OTEL_SERVICE_NAME wins when set. */
const entry = require.main?.filename ?? process.argv[1] ?? 'quota-vault';
startTelemetry(process.env.OTEL_SERVICE_NAME ?? basename(dirname(entry)));
