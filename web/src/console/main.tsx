import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { request, RequestFailed } from '../shared/api';
import { pageLocale, t } from '../shared/i18n';
import '../shared/styles.css';
import { api, setCsrfToken } from './api';
import { cell, ListPanel, message } from './panels';
import { TransactionsPanel } from './transactions';

interface Me {
  merchantId: string;
  keyLast4: string;
  csrfToken: string;
}

const locale = pageLocale();
const TABS = ['Transactions', 'Failed payments', 'Circuit breakers', 'Dead letters', 'Reconciliation', 'Webhook endpoints'] as const;
type Tab = (typeof TABS)[number];

/** No framework for a form: signing in is a plain HTML form post, so the key never passes through a script. */
function SignIn() {
  const failed = new URLSearchParams(location.search).get('signin') === 'failed';
  return (
    <section aria-labelledby="signin-h">
      <h1 id="signin-h">{t(locale, 'consoleTitle')}</h1>
      {failed && (
        <p class="alert" role="alert">
          {t(locale, 'signInFailed')}
        </p>
      )}
      <form method="post" action="/console/session">
        <label for="api-key">{t(locale, 'adminKey')}</label>
        <input id="api-key" name="apiKey" type="password" autocomplete="off" required />
        <button type="submit" class="primary">
          {t(locale, 'signIn')}
        </button>
      </form>
    </section>
  );
}

function Panel(props: { tab: Tab }) {
  const [provider, setProvider] = useState('');
  switch (props.tab) {
    case 'Transactions':
      return <TransactionsPanel />;
    case 'Failed payments':
      return (
        <ListPanel
          title="Failed payments"
          url="/admin/failed-payments"
          columns={[
            { key: 'id', label: 'Payment' },
            { key: 'failureCode', label: 'Failure' },
            { key: 'amount', label: 'Amount', render: (r) => `${cell(r.amount)} ${cell(r.currency)}` },
            { key: 'createdAt', label: 'Created' },
          ]}
          actions={(row, run) => (
            <button
              type="button"
              onClick={() => run(`Retry ${cell(row.id)}`, () => api('POST', `/admin/retry-payment/${encodeURIComponent(String(row.id))}`))}
            >
              Retry {cell(row.id)}
            </button>
          )}
        />
      );
    case 'Circuit breakers':
      return (
        <ListPanel
          title="Circuit breakers"
          url="/admin/circuit-breaker"
          columns={[
            { key: 'provider', label: 'Provider' },
            { key: 'state', label: 'State' },
            { key: 'failures', label: 'Failures' },
            { key: 'openedAt', label: 'Opened' },
          ]}
          actions={(row, run) => (
            <button
              type="button"
              onClick={() =>
                run(`Reset ${cell(row.provider)}`, () =>
                  api('POST', `/admin/circuit-breaker/reset?provider=${encodeURIComponent(String(row.provider))}`),
                )
              }
            >
              Reset {cell(row.provider)}
            </button>
          )}
        />
      );
    case 'Dead letters':
      return (
        <ListPanel
          title="Dead letters"
          url="/admin/dead-letters"
          columns={[
            { key: 'id', label: 'Event' },
            { key: 'provider', label: 'Provider' },
            { key: 'type', label: 'Type' },
            { key: 'lastError', label: 'Last error' },
          ]}
          actions={(row, run) => (
            <button
              type="button"
              onClick={() =>
                run(`Replay ${cell(row.id)}`, () => api('POST', `/admin/dead-letters/${encodeURIComponent(String(row.id))}/replay`))
              }
            >
              Replay {cell(row.id)}
            </button>
          )}
        />
      );
    case 'Reconciliation':
      return (
        <>
          <ListPanel
            title="Reconciliation runs"
            url="/admin/reconciliation/runs"
            columns={[
              { key: 'id', label: 'Run' },
              { key: 'status', label: 'Status' },
              { key: 'provider', label: 'Provider' },
              { key: 'counts', label: 'Counts' },
              { key: 'startedAt', label: 'Started' },
            ]}
          />
          <ListPanel
            title="Open discrepancies"
            url="/admin/reconciliation/discrepancies?status=open"
            columns={[
              { key: 'id', label: 'Discrepancy' },
              { key: 'kind', label: 'Kind' },
              { key: 'providerRef', label: 'Provider ref' },
              { key: 'expected', label: 'Expected' },
              { key: 'actual', label: 'Found' },
            ]}
            actions={(row, run) => (
              <button
                type="button"
                onClick={() =>
                  run(`Resolve ${cell(row.id)}`, () =>
                    api('POST', `/admin/reconciliation/discrepancies/${encodeURIComponent(String(row.id))}/resolve`, {
                      note: 'Resolved in the console',
                    }),
                  )
                }
              >
                Resolve {cell(row.id)}
              </button>
            )}
          />
        </>
      );
    case 'Webhook endpoints':
      return (
        <>
          <ListPanel
            title="Webhook endpoints"
            url="/webhook-endpoints"
            columns={[
              { key: 'id', label: 'Endpoint' },
              { key: 'url', label: 'URL' },
              { key: 'status', label: 'Status' },
              {
                key: 'deliveries',
                label: 'Deliveries',
                render: (r) => (
                  <button type="button" onClick={() => setProvider(String(r.id))}>
                    Deliveries of {cell(r.id)}
                  </button>
                ),
              },
            ]}
          />
          {provider && (
            <ListPanel
              key={provider}
              title={`Deliveries of ${provider}`}
              url={`/webhook-endpoints/${encodeURIComponent(provider)}/deliveries`}
              columns={[
                { key: 'id', label: 'Delivery' },
                { key: 'eventType', label: 'Event' },
                { key: 'status', label: 'Status' },
                { key: 'attempts', label: 'Attempts' },
              ]}
            />
          )}
        </>
      );
  }
}

function Console() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [tab, setTab] = useState<Tab>('Transactions');
  const [error, setError] = useState('');
  useEffect(() => {
    request<Me>('GET', '/console/session')
      .then((session) => {
        setCsrfToken(session.csrfToken);
        setMe(session);
      })
      .catch((err: unknown) => (err instanceof RequestFailed && err.error.status === 401 ? setMe(null) : setError(message(err))));
  }, []);
  if (error)
    return (
      <p class="alert" role="alert">
        {error}
      </p>
    );
  if (me === undefined) return <p aria-live="polite">{t(locale, 'working')}</p>;
  if (me === null) return <SignIn />;

  async function signOut() {
    await api('POST', '/console/session/sign-out').catch(() => undefined);
    location.assign('/console');
  }

  return (
    <>
      <header class="bar">
        <h1>{t(locale, 'consoleTitle')}</h1>
        <p>
          {me.merchantId} · key …{me.keyLast4}{' '}
          <button type="button" onClick={signOut}>
            {t(locale, 'signOut')}
          </button>
        </p>
      </header>
      <nav class="tabs" aria-label="Console sections">
        {TABS.map((name) => (
          <button type="button" key={name} aria-current={tab === name ? 'page' : undefined} onClick={() => setTab(name)}>
            {name}
          </button>
        ))}
      </nav>
      <Panel tab={tab} />
    </>
  );
}

document.title = t(locale, 'consoleTitle');
const root = document.getElementById('app') as HTMLElement;
root.classList.add('wide');
render(<Console />, root);
