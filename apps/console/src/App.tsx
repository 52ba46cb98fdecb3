import { useEffect, useState } from 'react';
import { OperatorView } from './operator/OperatorView';
import { session, type View } from './session';
import { SignIn } from './SignIn';
import { UserView } from './user/UserView';

const viewOfHash = (): View => (location.hash.startsWith('#operator') ? 'operator' : 'user');

/** Two faces on one page: a user's (their API key) and an operator's (an admin key), chosen by #user / #operator. */
export function App() {
  const [view, setView] = useState<View>(viewOfHash);
  const [signedIn, setSignedIn] = useState(() => ({ user: !!session.get('user'), operator: !!session.get('operator') }));
  useEffect(() => {
    const onHash = () => setView(viewOfHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const signOut = () => {
    session.clear(view);
    setSignedIn((s) => ({ ...s, [view]: false }));
  };

  return (
    <div className="app">
      <header className="top">
        <h1>Quota Vault</h1>
        <nav>
          <a href="#user" className={view === 'user' ? 'active' : ''}>User</a>
          <a href="#operator" className={view === 'operator' ? 'active' : ''}>Operator</a>
        </nav>
        {signedIn[view] && (
          <button type="button" className="link" onClick={signOut}>
            Sign out
          </button>
        )}
      </header>
      <main>
        {!signedIn[view] ? (
          <SignIn key={view} view={view} onSignedIn={() => setSignedIn((s) => ({ ...s, [view]: true }))} />
        ) : view === 'user' ? (
          <UserView />
        ) : (
          <OperatorView />
        )}
      </main>
    </div>
  );
}
