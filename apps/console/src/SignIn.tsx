import { useState, type FormEvent } from 'react';
import { clientFor, describeError } from './api';
import { session, type View } from './session';

/** Asks for an API key, checks it with one call, and keeps it in session storage only. */
export function SignIn({ view, onSignedIn }: { view: View; onSignedIn: () => void }) {
  const [apiKey, setApiKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    session.set(view, apiKey.trim());
    try {
      const client = clientFor(view);
      // An operator's key must open the admin API; a user's key, the user's own quota.
      if (view === 'operator') await client.admin.listPlans();
      else await client.getQuota();
      onSignedIn();
    } catch (err) {
      session.clear(view);
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card sign-in" onSubmit={submit}>
      <h2>{view === 'operator' ? 'Operator sign-in (admin key)' : 'Sign in with your API key'}</h2>
      <label>
        API key
        <input name="apiKey" type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} required />
      </label>
      <button type="submit" disabled={busy || !apiKey.trim()}>
        Sign in
      </button>
      <p className="hint">The key stays in this tab's session storage and is forgotten when the tab closes.</p>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}
