import { QuotaVaultClient, QuotaVaultError } from '@qv/client';
import { session, type View } from './session';

/** A client of this origin's API that reads the view's key from session storage before each call. */
export function clientFor(view: View): QuotaVaultClient {
  return new QuotaVaultClient({ baseUrl: '', apiKey: () => session.get(view), retry: { maxAttempts: 3 } });
}

/** The sentence to show for any failure: the client's per-code message, else a generic one. */
export function describeError(err: unknown): string {
  if (err instanceof QuotaVaultError) return err.userMessage;
  return err instanceof Error ? err.message : String(err);
}
