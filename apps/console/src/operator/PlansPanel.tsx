import type { Plan, QuotaVaultClient, UpdatePlanInput } from '@qv/client';
import { useState } from 'react';
import { describeError } from '../api';
import { usePoll } from '../use-poll';
import { LIMIT_FIELDS, limitInput, parseLimit } from './limits';

/** GET /admin/plans, and PUT /admin/plans/:id row by row. */
export function PlansPanel({ client }: { client: QuotaVaultClient }) {
  const plans = usePoll(() => client.admin.listPlans(), 0);
  return (
    <section className="card plans" aria-label="Plans">
      <h2>Plans</h2>
      <p className="hint">Type a number or “unlimited” (for the TTLs: no cache).</p>
      {plans.error !== undefined && <p className="error">{describeError(plans.error)}</p>}
      <table>
        <thead>
          <tr>
            <th>Plan</th>
            {LIMIT_FIELDS.map((f) => <th key={f.name}>{f.label}</th>)}
            <th />
          </tr>
        </thead>
        <tbody>
          {(plans.data ?? []).map((plan) => <PlanRow key={plan.id} plan={plan} client={client} onSaved={plans.refresh} />)}
        </tbody>
      </table>
    </section>
  );
}

function PlanRow({ plan, client, onSaved }: { plan: Plan; client: QuotaVaultClient; onSaved: () => Promise<void> }) {
  const [values, setValues] = useState(() => Object.fromEntries(LIMIT_FIELDS.map((f) => [f.name, limitInput(plan[f.name])])));
  const [notice, setNotice] = useState<string>();
  const save = async () => {
    const body: UpdatePlanInput = {};
    for (const f of LIMIT_FIELDS) {
      const v = parseLimit(values[f.name]);
      if (v !== undefined) body[f.name] = v;
    }
    try {
      await client.admin.updatePlan(plan.id, body);
      setNotice('saved');
      await onSaved();
    } catch (err) {
      setNotice(describeError(err));
    }
  };
  return (
    <tr data-testid="plan-row" data-plan-id={plan.id}>
      <td><strong>{plan.id}</strong><br /><span className="hint">{plan.name}</span></td>
      {LIMIT_FIELDS.map((f) => (
        <td key={f.name}>
          <input className="narrow" aria-label={`${plan.id} ${f.label}`} value={values[f.name]} onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))} />
        </td>
      ))}
      <td>
        <button type="button" onClick={save}>Save</button> {notice && <span className="notice">{notice}</span>}
      </td>
    </tr>
  );
}
