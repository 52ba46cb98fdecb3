import { z } from 'zod';

/** A TCP port; `0` asks the OS for a free one (tests do that). */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A positive integer of milliseconds, seconds or items. */
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** "true"/"1"/"yes" and "false"/"0"/"no"; anything else is an error rather than a silent false. */
export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const url = (fallback: string) => z.url().default(fallback);

/**
 * A service credential (libs/http service-auth): 32 to 512 visible ASCII characters but a comma;
 * during a rotation two of them, `new,old` (servers accept both, callers send the first). Optional
 * in the schema; list it in `requiredInProduction`. Unset outside production, its caller is refused.
 */
export const serviceToken = () =>
  z
    .string()
    .regex(
      /^[\x21-\x2b\x2d-\x7e]{32,512}(,[\x21-\x2b\x2d-\x7e]{32,512})?$/,
      'a service credential is 32 to 512 visible ASCII characters without a comma (e.g. `openssl rand -base64 32`), or two of them during a rotation: `new,old`',
    )
    .optional();
