import { sha256Hex, ValidationError, type CacheKeyParts, type CacheTier } from '@qv/contracts';

/** The scope of the shared system tier. */
export const GLOBAL_SCOPE = 'global';

/**
 * Scopes end up inside Redis keys that purge matches with SCAN patterns, so they may not hold
 * `:` or glob characters (`*?[]\`): a scope could otherwise match another user's keys.
 */
const SCOPE_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** True when `scope` may appear in a Redis key and a purge pattern (letters, digits, `_.-`). */
export function isValidScope(scope: string): boolean {
  return SCOPE_PATTERN.test(scope);
}

/**
 * The input as it is hashed: Unicode NFC, trimmed, every run of whitespace made one space.
 * Case is kept (an LLM answers "US" and "us" differently).
 */
export function normalizeInput(input: string): string {
  return input.normalize('NFC').trim().replace(/\s+/g, ' ');
}

/** Why a key's scope is refused, or null when it is acceptable for its tier. */
export function scopeProblem(tier: CacheTier, scope: string): string | null {
  if (!isValidScope(scope)) return 'scope must be 1..128 characters of letters, digits, "_", "." or "-"';
  if (tier === 'system' && scope !== GLOBAL_SCOPE) return `the system tier is shared: its scope must be "${GLOBAL_SCOPE}"`;
  if (tier !== 'system' && scope === GLOBAL_SCOPE) return `the ${tier} tier is per user: its scope must be a user id, never "${GLOBAL_SCOPE}"`;
  return null;
}

/**
 * Throws VALIDATION_FAILED unless the scope fits the tier: system ⇒ `global`; session and content
 * ⇒ a user id. This is what keeps one user's entries from ever being served to another.
 */
export function assertValidScope(tier: CacheTier, scope: string): void {
  const problem = scopeProblem(tier, scope);
  if (problem) throw new ValidationError(`Invalid cache key: ${problem}`, [{ path: ['key', 'scope'], code: 'custom', message: problem }]);
}

/**
 * The cache key: SHA-256 (hex) over a canonical encoding of tier, scope, task, model, prompt
 * version and the normalized input. The encoding is a JSON array, so no field's text can run into
 * the next one (`"a:b","c"` ≠ `"a","b:c"`). The scope is validated first (see `assertValidScope`).
 */
export function cacheKey(parts: CacheKeyParts): string {
  const known = frozenKeys.get(parts);
  if (known !== undefined) return known;
  assertValidScope(parts.tier, parts.scope);
  const canonical = JSON.stringify(['qv-cache-v1', parts.tier, parts.scope, parts.task, parts.model, parts.promptVersion, normalizeInput(parts.input)]);
  const key = sha256Hex(canonical);
  if (Object.isFrozen(parts)) frozenKeys.set(parts, key);
  return key;
}

/**
 * The keys of frozen key objects, which cannot change: a call's key is asked for by its read, its
 * fill and their batching, and is hashed once.
 */
const frozenKeys = new WeakMap<CacheKeyParts, string>();
