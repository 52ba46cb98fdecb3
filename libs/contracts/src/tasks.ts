import { z } from 'zod';

/** The enrichment tasks an item may ask for (DESIGN.md §4). */
export const TaskName = z.enum(['summarize', 'tag', 'extract']);
export type TaskName = z.infer<typeof TaskName>;
export const DEFAULT_TASKS: TaskName[] = ['summarize', 'tag'];
