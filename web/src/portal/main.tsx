import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { localeQuery, request } from '../shared/api';
import { statusText, t, type Locale } from '../shared/i18n';
import { formatMoney } from '../shared/money';
import '../shared/styles.css';
import { base, describe, locale } from './context';
import { PaymentMethods } from './payment-methods';
import { type Subscription, Subscriptions } from './subscriptions';

interface Transaction {
  id: string;
  status: string;
  amount: number;
  amountRefunded: number;
  currency: string;
  exponent: number;
  lines: Array<{ name: string; quantity: number; amount: number; discount: number }>;
  discount: number;
  createdAt: string;
}

interface PortalView {
  locale: Locale;
  customer: { email: string; name: string | null };
  returnUrl: string;
  transactions: Transaction[];
}

function Receipt(props: { tx: Transaction }) {
  const { tx } = props;
  const money = (minor: number) => formatMoney(minor, tx.currency, tx.exponent, locale);
  const date = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(tx.createdAt));
  return (
    <details class="card">
      <summary>
        {date} · {money(tx.amount)} · {statusText(locale, tx.status)}
        {tx.amountRefunded > 0 && ` · ${t(locale, 'refunded', { amount: money(tx.amountRefunded) })}`}
      </summary>
      <table>
        <caption>
          {t(locale, 'receipt')} {tx.id}
        </caption>
        <tbody>
          {tx.lines.map((line, i) => (
            <tr key={i}>
              <td>
                {line.name} × {line.quantity}
              </td>
              <td class="num">{money(line.amount)}</td>
            </tr>
          ))}
          {tx.discount > 0 && (
            <tr>
              <td>{t(locale, 'discount')}</td>
              <td class="num">−{money(tx.discount)}</td>
            </tr>
          )}
          <tr class="total">
            <th scope="row">{t(locale, 'total')}</th>
            <td class="num">{money(tx.amount)}</td>
          </tr>
        </tbody>
      </table>
    </details>
  );
}

function GiftCardBalance() {
  const [code, setCode] = useState('');
  const [result, setResult] = useState({ text: '', error: false });
  async function check(e: Event) {
    e.preventDefault();
    try {
      const card = await request<{ balance: number; currency: string; exponent: number; status: string }>(
        'POST',
        `${base}/gift-card-balance`,
        {
          code: code.trim(),
        },
      );
      setResult({
        text: t(locale, 'balanceIs', {
          amount: formatMoney(card.balance, card.currency, card.exponent, locale),
          status: statusText(locale, card.status),
        }),
        error: false,
      });
    } catch (err) {
      setResult({ text: describe(err), error: true });
    }
  }
  return (
    <section aria-labelledby="gift-h">
      <h2 id="gift-h">{t(locale, 'giftCardBalance')}</h2>
      <form class="inline" onSubmit={check}>
        <div class="field">
          <label for="gift-code">{t(locale, 'giftCardLabel')}</label>
          <input
            id="gift-code"
            type="text"
            autocomplete="off"
            required
            value={code}
            onInput={(e) => setCode((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="submit">{t(locale, 'checkBalance')}</button>
      </form>
      <p class={result.error ? 'alert' : result.text ? 'note' : ''} role="status">
        {result.text}
      </p>
    </section>
  );
}

function Portal() {
  const [view, setView] = useState<PortalView | null>(null);
  const [error, setError] = useState('');
  // Bumped after every change: both sections read again (a removed method, a plan's next charge).
  const [version, setVersion] = useState(0);
  const [inUse, setInUse] = useState<Set<string>>(new Set());
  const changed = () => setVersion((v) => v + 1);
  useEffect(() => {
    request<PortalView>('GET', `${base}/session${localeQuery()}`)
      .then(setView)
      .catch((err: unknown) => setError(describe(err)));
  }, []);
  if (error)
    return (
      <p class="alert" role="alert">
        {error}
      </p>
    );
  if (!view) return <p aria-live="polite">{t(locale, 'working')}</p>;
  return (
    <>
      <header class="bar">
        <h1>{t(locale, 'portalTitle')}</h1>
        <a href={view.returnUrl}>{t(locale, 'returnToShop')}</a>
      </header>
      <p class="muted">{view.customer.name ? `${view.customer.name} · ${view.customer.email}` : view.customer.email}</p>
      <section aria-labelledby="tx-h">
        <h2 id="tx-h">{t(locale, 'transactions')}</h2>
        {view.transactions.length === 0 ? (
          <p class="muted">{t(locale, 'noTransactions')}</p>
        ) : (
          view.transactions.map((tx) => <Receipt key={tx.id} tx={tx} />)
        )}
      </section>
      <Subscriptions
        version={version}
        onChanged={changed}
        onLoaded={(subs: Subscription[]) => setInUse(new Set(subs.flatMap((s) => (s.paymentMethodId ? [s.paymentMethodId] : []))))}
      />
      <PaymentMethods version={version} inUse={inUse} onChanged={changed} />
      <GiftCardBalance />
    </>
  );
}

document.title = t(locale, 'portalTitle');
render(<Portal />, document.getElementById('app') as HTMLElement);
