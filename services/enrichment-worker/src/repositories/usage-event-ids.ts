/** Event ids are derived from the job id, so every retry of one job emits the same id. BullMQ ids may not contain ':'. */
export const completedEventId = (jobId: string) => `evt_${jobId}_completed`;
export const failedEventId = (jobId: string) => `evt_${jobId}_failed`;
