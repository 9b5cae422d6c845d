import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { RequestFailed } from '../shared/api';
import { api, type Page } from './api';

export type Row = Record<string, unknown>;

export interface Column {
  key: string;
  label: string;
  render?: (row: Row) => ComponentChildren;
}

export function message(err: unknown): string {
  return err instanceof RequestFailed ? `${err.error.code}: ${err.error.message}` : String(err);
}

export function cell(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A live region for the outcome of the last action (screen readers announce it). */
export function Status(props: { text: string; error?: boolean }) {
  return (
    <p class={props.error ? 'alert' : props.text ? 'note' : ''} role={props.error ? 'alert' : 'status'}>
      {props.text}
    </p>
  );
}

export function Table(props: { caption: string; rows: Row[]; columns: Column[] }) {
  if (props.rows.length === 0) return <p class="muted">{props.caption}: none.</p>;
  return (
    <div class="scroll">
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c.key}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, i) => (
            <tr key={String(row.id ?? i)}>
              {props.columns.map((c) => (
                <td key={c.key}>{c.render ? c.render(row) : cell(row[c.key])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * A list from one GET route, with per-row actions (each a POST to the API). `refresh` reloads after an
 * action so the page shows what the API now says.
 */
export function ListPanel(props: {
  title: string;
  url: string;
  columns: Column[];
  actions?: (row: Row, run: (label: string, work: () => Promise<unknown>) => void) => ComponentChildren;
}) {
  const [rows, setRows] = useState<Row[]>([]);
  const [status, setStatus] = useState({ text: '', error: false });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    api<Page<Row>>('GET', props.url)
      .then((page) => setRows(page.data))
      .catch((err: unknown) => setStatus({ text: message(err), error: true }));
  }, [props.url, version]);
  const run = (label: string, work: () => Promise<unknown>) => {
    setStatus({ text: '', error: false });
    work()
      .then(() => {
        setStatus({ text: `${label}: done.`, error: false });
        setVersion((v) => v + 1);
      })
      .catch((err: unknown) => setStatus({ text: `${label}: ${message(err)}`, error: true }));
  };
  const columns = props.actions
    ? [...props.columns, { key: '_actions', label: 'Actions', render: (row: Row) => props.actions?.(row, run) }]
    : props.columns;
  return (
    <section aria-labelledby={`${props.title}-h`}>
      <h2 id={`${props.title}-h`}>{props.title}</h2>
      <Status text={status.text} error={status.error} />
      <Table caption={props.title} rows={rows} columns={columns} />
    </section>
  );
}
