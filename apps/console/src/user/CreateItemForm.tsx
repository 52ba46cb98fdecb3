import { QuotaVaultError, type Item, type QuotaStatus, type QuotaVaultClient } from '@qv/client';
import { useState, type FormEvent } from 'react';

const TASKS = ['summarize', 'tag', 'extract'] as const;
type Task = (typeof TASKS)[number];

interface Props {
  client: QuotaVaultClient;
  onCreated: (item: Item, quota: QuotaStatus) => void;
  onRefused: (err: QuotaVaultError) => void;
}

/** POST /v1/items through the client (an Idempotency-Key per create, retried under it). */
export function CreateItemForm({ client, onCreated, onRefused }: Props) {
  const [title, setTitle] = useState('');
  const [content, setContent] = useState('');
  const [tasks, setTasks] = useState<Set<Task>>(new Set(TASKS));
  const [busy, setBusy] = useState(false);
  const [lastCreated, setLastCreated] = useState<string>();

  const toggle = (task: Task) =>
    setTasks((current) => {
      const next = new Set(current);
      if (next.has(task)) next.delete(task);
      else next.add(task);
      return next;
    });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const created = await client.createItem({ content, ...(title.trim() ? { title: title.trim() } : {}), tasks: TASKS.filter((t) => tasks.has(t)) });
      setLastCreated(created.item.id);
      onCreated(created.item, created.quota);
    } catch (err) {
      if (err instanceof QuotaVaultError) onRefused(err);
      else throw err;
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card create" onSubmit={submit} aria-label="New item">
      <h2>New item</h2>
      <label>
        Title
        <input name="title" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label>
        Content
        <textarea name="content" rows={3} value={content} onChange={(e) => setContent(e.target.value)} required />
      </label>
      <fieldset className="tasks">
        <legend>Tasks</legend>
        {TASKS.map((task) => (
          <label key={task} className="inline">
            <input type="checkbox" name={`task-${task}`} checked={tasks.has(task)} onChange={() => toggle(task)} /> {task}
          </label>
        ))}
      </fieldset>
      <button type="submit" disabled={busy || !content || tasks.size === 0}>
        Create
      </button>
      {lastCreated && (
        <span className="hint" data-testid="last-created" data-item-id={lastCreated}>
          accepted {lastCreated}
        </span>
      )}
    </form>
  );
}
