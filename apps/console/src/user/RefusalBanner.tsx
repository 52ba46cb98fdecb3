import type { QuotaVaultError } from '@qv/client';
import { useEffect, useState } from 'react';
import { duration } from '../format';

/**
 * A refused create in one human sentence (the client's message for the code: "You've reached your
 * daily limit.", "Too many items processing.", …) and a countdown from its Retry-After.
 */
export function RefusalBanner({ error, onDismiss }: { error?: QuotaVaultError; onDismiss: () => void }) {
  const [now, setNow] = useState(Date.now());
  const [shownAt, setShownAt] = useState(Date.now());
  useEffect(() => {
    setShownAt(Date.now());
    setNow(Date.now());
    if (!error?.retryAfterSeconds) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [error]);
  if (!error) return null;

  const left = error.retryAfterSeconds === undefined ? undefined : error.retryAfterSeconds - (now - shownAt) / 1000;
  return (
    <div className={`card refusal ${error.status === 429 ? 'refusal-quota' : 'refusal-error'}`} role="alert" data-testid="refusal" data-code={error.code}>
      <p className="refusal-message">{error.userMessage}</p>
      {left !== undefined && (
        <p className="countdown" data-testid="countdown">
          {left > 0 ? `Try again in ${duration(left)}` : 'You can try again now.'}
        </p>
      )}
      <button type="button" className="link" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}
