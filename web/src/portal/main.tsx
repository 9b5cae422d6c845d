import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { localeQuery, request, RequestFailed } from '../shared/api';
import { pageLocale, statusText, t, type Locale } from '../shared/i18n';
import { formatMoney } from '../shared/money';
import '../shared/styles.css';

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

const token = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const base = `/portal/${encodeURIComponent(token)}`;
const locale = pageLocale();

function describe(err: unknown): string {
  return err instanceof RequestFailed ? err.error.message : t(locale, 'error', { message: String(err) });
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

/**
 * Slots for what lands with subscriptions (branch `subs`): subscriptions (cancel, resume, change plan)
 * and saved payment methods (add through the provider, remove). Each becomes its own component here,
 * fed by GET /portal/:token/session.
 */
function SubscriptionsSlot() {
  return (
    <section aria-labelledby="subs-h" data-slot="subscriptions">
      <h2 id="subs-h">{t(locale, 'subscriptions')}</h2>
      <p class="muted">{t(locale, 'comingSoon')}</p>
    </section>
  );
}

function PaymentMethodsSlot() {
  return (
    <section aria-labelledby="pm-h" data-slot="payment-methods">
      <h2 id="pm-h">{t(locale, 'paymentMethods')}</h2>
      <p class="muted">{t(locale, 'comingSoon')}</p>
    </section>
  );
}

function Portal() {
  const [view, setView] = useState<PortalView | null>(null);
  const [error, setError] = useState('');
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
      <SubscriptionsSlot />
      <PaymentMethodsSlot />
      <GiftCardBalance />
    </>
  );
}

document.title = t(locale, 'portalTitle');
render(<Portal />, document.getElementById('app') as HTMLElement);
