import { randomBytes } from 'node:crypto';
import { sha256Hex } from '@qv/contracts';

/** Keys look like `qv_<43 base64url chars>`; only their SHA-256 is stored. */
export function generateApiKey(): string {
  return `qv_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/** The first characters, stored to let an operator tell keys apart without the secret. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, 10);
}
