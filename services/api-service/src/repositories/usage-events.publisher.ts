/** The chat path publishes its usage events exactly as the enrichment worker does (libs/queue). */
export { UsageEventsPublisher } from '@qv/queue';
