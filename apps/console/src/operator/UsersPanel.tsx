import type { ApiKeyInfo, Plan, QuotaVaultClient, User } from '@qv/client';
import { useState, type FormEvent } from 'react';
import { describeError } from '../api';
import { time } from '../format';
import { usePoll } from '../use-poll';
import { LIMIT_FIELDS, overrideInputs, userChanges } from './limits';

/**
 * A user by id or email, a new user, a user's plan and overrides, and their keys:
 * list, issue (the key is shown once), revoke.
 */
export function UsersPanel({ client }: { client: QuotaVaultClient }) {
  const plans = usePoll(() => client.admin.listPlans(), 0);
  const [lookup, setLookup] = useState('');
  const [user, setUser] = useState<User>();
  const [notice, setNotice] = useState<string>();

  const find = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = lookup.trim();
    try {
      // An email goes through GET /admin/users?email=, an id through GET /admin/users/:id.
      const found = wanted.includes('@') ? (await client.admin.findUsers({ email: wanted }))[0] : await client.admin.getUser(wanted);
      setUser(found);
      setNotice(found ? undefined : `No user has the email ${wanted}.`);
    } catch (err) {
      setUser(undefined);
      setNotice(describeError(err));
    }
  };

  return (
    <section className="card users" aria-label="Users">
      <h2>Users</h2>
      <form className="actions" onSubmit={find}>
        <label>User id or email<input name="user-lookup" value={lookup} onChange={(e) => setLookup(e.target.value)} placeholder="usr_… or name@example.com" /></label>
        <button type="submit" disabled={!lookup.trim()}>Find</button>
      </form>
      {notice && <p className="notice">{notice}</p>}
      {user && <UserDetails key={user.id} user={user} plans={plans.data ?? []} client={client} onChanged={setUser} />}
      <NewUserForm plans={plans.data ?? []} client={client} onCreated={setUser} />
    </section>
  );
}

function NewUserForm({ plans, client, onCreated }: { plans: Plan[]; client: QuotaVaultClient; onCreated: (u: User) => void }) {
  const [email, setEmail] = useState('');
  const [plan, setPlan] = useState('free');
  const [result, setResult] = useState<string>();
  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const { user, apiKey } = await client.admin.createUser({ plan, ...(email.trim() ? { email: email.trim() } : {}) });
      setResult(`Created ${user.id}. Its API key, shown this once: ${apiKey}`);
      onCreated(user);
    } catch (err) {
      setResult(describeError(err));
    }
  };
  return (
    <form className="sub-card" onSubmit={create}>
      <h3>New user</h3>
      <div className="actions">
        <label>Email<input type="email" value={email} onChange={(e) => setEmail(e.target.value)} /></label>
        <label>Plan<PlanSelect plans={plans} value={plan} onChange={setPlan} /></label>
        <button type="submit">Create user</button>
      </div>
      {result && <p className="notice secret">{result}</p>}
    </form>
  );
}

function PlanSelect({ plans, value, onChange, name }: { plans: Plan[]; value: string; onChange: (id: string) => void; name?: string }) {
  return (
    <select name={name} value={value} onChange={(e) => onChange(e.target.value)}>
      {plans.map((p) => <option key={p.id} value={p.id}>{p.id}</option>)}
    </select>
  );
}

function UserDetails({ user, plans, client, onChanged }: { user: User; plans: Plan[]; client: QuotaVaultClient; onChanged: (u: User) => void }) {
  const [plan, setPlan] = useState(user.plan);
  const [overrides, setOverrides] = useState(() => overrideInputs(user));
  // What the form was loaded (or last saved) with: only what the operator changed since is sent.
  const [loaded, setLoaded] = useState(() => ({ plan: user.plan, overrides: overrideInputs(user) }));
  const [notice, setNotice] = useState<string>();
  const keys = usePoll(() => client.admin.listApiKeys(user.id), 0, [user.id]);

  const save = async () => {
    try {
      const saved = await client.admin.updateUser(user.id, userChanges(loaded, { plan, overrides }));
      // The form shows the user as stored now, other operators' changes included.
      setLoaded({ plan: saved.plan, overrides: overrideInputs(saved) });
      setPlan(saved.plan);
      setOverrides(overrideInputs(saved));
      onChanged(saved);
      setNotice('saved');
    } catch (err) {
      setNotice(describeError(err));
    }
  };
  const issue = async () => {
    try {
      const { apiKey } = await client.admin.createApiKey(user.id);
      setNotice(`New API key, shown this once: ${apiKey}`);
    } catch (err) {
      setNotice(describeError(err));
    }
    await keys.refresh();
  };
  const revoke = async (key: ApiKeyInfo) => {
    try {
      await client.admin.revokeApiKey(user.id, key.id);
      setNotice(`Revoked ${key.prefix}…`);
    } catch (err) {
      setNotice(describeError(err));
    }
    await keys.refresh();
  };

  return (
    <div className="sub-card" data-testid="user-details">
      <h3>{user.id} {user.email && <span className="hint">{user.email}</span>} <span className="badge">{user.role}</span></h3>
      <div className="actions">
        <label>Plan<PlanSelect name="user-plan" plans={plans} value={plan} onChange={setPlan} /></label>
      </div>
      <p className="hint">Overrides replace the plan's limit: a number or “unlimited”; empty keeps the plan's. Only the limits you change are saved.</p>
      <div className="override-grid">
        {LIMIT_FIELDS.map((f) => (
          <label key={f.name}>
            {f.label}
            <input className="narrow" name={`override-${f.name}`} value={overrides[f.name]} onChange={(e) => setOverrides((o) => ({ ...o, [f.name]: e.target.value }))} />
          </label>
        ))}
      </div>
      <button type="button" onClick={save}>Save plan and overrides</button>
      {notice && <p className="notice secret" data-testid="user-notice">{notice}</p>}
      <h4>API keys</h4>
      <table>
        <thead><tr><th>Prefix</th><th>Created</th><th>Revoked</th><th /></tr></thead>
        <tbody>
          {(keys.data ?? []).map((k) => (
            <tr key={k.id} data-testid="key-row" data-key-id={k.id} data-revoked={k.revokedAt ? 'yes' : 'no'}>
              <td><code>{k.prefix}…</code></td>
              <td>{time(k.createdAt)}</td>
              <td>{k.revokedAt ? time(k.revokedAt) : '—'}</td>
              <td>{!k.revokedAt && <button type="button" className="danger" onClick={() => revoke(k)}>Revoke</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={issue}>Issue a new key</button>
    </div>
  );
}
