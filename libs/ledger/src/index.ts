/** The usage ledger: applying events exactly once with their settlement, and reconciliation. */
export * from './apply-usage-event';
export * from './reconciliation';
export * from './estimate-overruns';
export * from './usage-report';
export * from './usage-event-batcher';
export * from './settled-usage-metrics';
export * from './inline-settlement';
