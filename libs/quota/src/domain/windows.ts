/**
 * UTC calendar windows (DESIGN.md §2): a day runs from 00:00:00.000 UTC to the next midnight,
 * a month from the 1st at 00:00 UTC to the 1st of the next month. `end` is exclusive and is also
 * the moment the window's counters reset.
 */
export interface Window {
  /** Inclusive start. */
  start: Date;
  /** Exclusive end; equal to `resetAt`. */
  end: Date;
  /** The `DATE` key of the usage row (`YYYY-MM-DD`, the window's first day). */
  key: string;
}

/** The rolling window of the hourly call limit, in milliseconds. */
export const HOUR_MS = 3_600_000;

/** The UTC day containing `now`. */
export function dayWindow(now: Date): Window {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  return { start, end, key: dateKey(start) };
}

/** The UTC calendar month containing `now`. */
export function monthWindow(now: Date): Window {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  // Date.UTC normalises month 12 to January of the next year.
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, end, key: dateKey(start) };
}

/** `YYYY-MM-DD` of a UTC date, the form PostgreSQL's `date` type takes and gives. */
export function dateKey(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The start of the rolling hour ending at `now`: calls created strictly after it count. */
export function rollingHourStart(now: Date): Date {
  return new Date(now.getTime() - HOUR_MS);
}
