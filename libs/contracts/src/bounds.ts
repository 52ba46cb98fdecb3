import { z } from 'zod';

/** The largest value of a PostgreSQL `integer` column: every int4 field is bounded by it. */
export const INT32_MAX = 2_147_483_647;
/** `bigint` columns hold more, but a JSON number is exact only up to 2^53 − 1. */
export const BIGINT_JSON_MAX = Number.MAX_SAFE_INTEGER;
/** Ids are prefixed base32 (`itm_…`, 30 characters); anything longer is not one of ours. */
export const MAX_ID_CHARS = 64;

/**
 * Why a string cannot be stored or hashed faithfully, or null when it can. PostgreSQL `text`
 * refuses NUL (a 500 after the charge, before this check existed), and a lone UTF-16 surrogate
 * is silently replaced by U+FFFD on its way to UTF-8, so what is stored would not be what was sent.
 */
export function unsafeTextReason(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL (U+0000) characters';
  if (!value.isWellFormed()) return 'must not contain lone UTF-16 surrogates';
  return null;
}

/** A string that is safe to store: no NUL, no lone surrogate (the checks are linear). */
export const safeString = () =>
  z.string().superRefine((value, ctx) => {
    const reason = unsafeTextReason(value);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });

/** A non-negative integer that fits a PostgreSQL `integer` column. */
export const int32 = () => z.number().int().min(0).max(INT32_MAX);

/** A non-negative integer that fits a `bigint` column and survives JSON exactly. */
export const bigintJson = () => z.number().int().min(0).max(BIGINT_JSON_MAX);

/** One of our ids (or a foreign one of plausible size): safe, 1..64 characters. */
export const idString = () => safeString().min(1).max(MAX_ID_CHARS);
