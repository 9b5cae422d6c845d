import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { localeQuery, newIdempotencyKey, request, RequestFailed } from '../shared/api';
import { PROVIDER_NAMES, pageLocale, t, type Locale } from '../shared/i18n';
import { formatMoney } from '../shared/money';
import '../shared/styles.css';

interface CheckoutView {
  id: string;
  status: 'open' | 'complete' | 'expired' | 'canceled';
  locale: Locale;
  currency: string;
  exponent: number;
  lines: Array<{ name: string; quantity: number; unitAmount: number; amount: number; discount: number; interval: 'month' | 'year' | null }>;
  subtotal: number;
  discount: number;
  giftCardApplied: number;
  total: number;
  couponCode: string | null;
  giftCardLast4: string | null;
  providers: string[];
  provider: string | null;
  successUrl: string;
  cancelUrl: string;
  payment: { status: string; declineCode: string | null } | null;
}

const sessionId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const base = `/pay/${encodeURIComponent(sessionId)}`;
const returned = new URLSearchParams(location.search).has('returned');

/** The message of a failed request, for the page's live error region. */
function describe(locale: Locale, err: unknown): string {
  return err instanceof RequestFailed ? err.error.message : t(locale, 'error', { message: String(err) });
}

function CodeForm(props: { id: string; label: string; button: string; busy: boolean; error: string; onSubmit: (code: string) => void }) {
  const [code, setCode] = useState('');
  const errorId = `${props.id}-error`;
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (code.trim()) props.onSubmit(code.trim());
      }}
    >
      <div class="field">
        <label for={props.id}>{props.label}</label>
        <input
          id={props.id}
          name={props.id}
          type="text"
          autocomplete="off"
          value={code}
          aria-invalid={props.error ? 'true' : undefined}
          aria-describedby={errorId}
          onInput={(e) => setCode((e.target as HTMLInputElement).value)}
        />
      </div>
      <button type="submit" disabled={props.busy}>
        {props.button}
      </button>
      <p id={errorId} class="alert" role="alert">
        {props.error}
      </p>
    </form>
  );
}

function Checkout() {
  const locale = pageLocale();
  const [view, setView] = useState<CheckoutView | null>(null);
  const [loadError, setLoadError] = useState('');
  const [busy, setBusy] = useState(false);
  const [couponError, setCouponError] = useState('');
  const [giftError, setGiftError] = useState('');
  const [payError, setPayError] = useState('');
  const [provider, setProvider] = useState<string>('');
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    // Back from the provider's page: its webhook may land a moment after the customer does, so the
    // page asks again (a few times) until the attempt's outcome shows.
    let polls = returned ? 10 : 0;
    let timer: number | undefined;
    const load = () =>
      request<CheckoutView>('GET', `${base}/session${localeQuery()}`)
        .then((v) => {
          setView(v);
          setProvider((current) => current || (v.provider && v.providers.includes(v.provider) ? v.provider : (v.providers[0] ?? '')));
          if (v.status === 'open' && v.payment?.status !== 'failed' && polls-- > 0) timer = window.setTimeout(load, 1000);
        })
        .catch((err: unknown) =>
          setLoadError(err instanceof RequestFailed && err.error.status === 404 ? t(locale, 'notFound') : describe(locale, err)),
        );
    void load();
    return () => window.clearTimeout(timer);
  }, []);

  if (loadError)
    return (
      <p class="alert" role="alert">
        {loadError}
      </p>
    );
  if (!view) return <p aria-live="polite">{t(locale, 'working')}</p>;
  const money = (minor: number) => formatMoney(minor, view.currency, view.exponent, view.locale);

  /** Coupon and gift card: the API replaces the session; the page follows it (or the shop, when paid). */
  async function applyCodes(codes: { couponCode?: string; giftCardCode?: string }, setError: (m: string) => void) {
    setBusy(true);
    setError('');
    try {
      const result = await request<{ hostedUrl?: string; id: string; status: string }>('POST', `${base}/discounts`, codes, {
        'Idempotency-Key': newIdempotencyKey(),
      });
      if (result.hostedUrl) location.assign(`${new URL(result.hostedUrl).pathname}${localeQuery()}`);
      else location.assign((view as CheckoutView).successUrl);
    } catch (err) {
      setError(describe(locale, err));
      setBusy(false);
    }
  }

  async function continueToPay(e: Event) {
    e.preventDefault();
    setBusy(true);
    setPayError('');
    try {
      const { url } = await request<{ url: string }>('POST', `${base}/continue${localeQuery()}`, { provider });
      location.assign(url);
    } catch (err) {
      setPayError(describe(locale, err));
      setBusy(false);
    }
  }

  const closed = view.status !== 'open';
  const declined = returned && view.payment?.status === 'failed';
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        {t(locale, 'checkoutTitle')}
      </h1>
      {closed && (
        <section aria-labelledby="state">
          <p id="state" class={view.status === 'complete' ? 'note' : 'alert'} role="status">
            {t(locale, view.status === 'complete' ? 'complete' : view.status === 'expired' ? 'expired' : 'canceled')}
          </p>
          <a class="button" href={view.status === 'complete' ? view.successUrl : view.cancelUrl}>
            {t(locale, 'backToShop')}
          </a>
        </section>
      )}
      {!closed && returned && (
        <p class="alert" role="alert">
          {declined ? t(locale, 'declined', { code: view.payment?.declineCode ?? 'declined' }) : t(locale, 'returned')}
        </p>
      )}
      <section aria-labelledby="summary">
        <div class="scroll">
          <table>
            <caption id="summary">{t(locale, 'orderSummary')}</caption>
            <thead>
              <tr>
                <th scope="col">{t(locale, 'item')}</th>
                <th scope="col" class="num">
                  {t(locale, 'quantity')}
                </th>
                <th scope="col" class="num">
                  {t(locale, 'amount')}
                </th>
              </tr>
            </thead>
            <tbody>
              {view.lines.map((line, i) => (
                <tr key={i}>
                  <td>
                    {line.name}
                    {line.interval && (
                      <span class="renews">
                        {t(locale, line.interval === 'month' ? 'renewsMonthly' : 'renewsYearly', { amount: money(line.amount) })}
                      </span>
                    )}
                  </td>
                  <td class="num">{line.quantity}</td>
                  <td class="num">{money(line.amount)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={2}>
                  {t(locale, 'subtotal')}
                </th>
                <td class="num">{money(view.subtotal)}</td>
              </tr>
              {view.discount > 0 && (
                <tr>
                  <th scope="row" colSpan={2}>
                    {t(locale, 'discount')} ({view.couponCode})
                  </th>
                  <td class="num">−{money(view.discount)}</td>
                </tr>
              )}
              {view.giftCardApplied > 0 && (
                <tr>
                  <th scope="row" colSpan={2}>
                    {t(locale, 'giftCardApplied', { last4: view.giftCardLast4 ?? '' })}
                  </th>
                  <td class="num">−{money(view.giftCardApplied)}</td>
                </tr>
              )}
              <tr class="total">
                <th scope="row" colSpan={2}>
                  {t(locale, 'total')}
                </th>
                <td class="num" data-testid="total">
                  {money(view.total)}
                </td>
              </tr>
            </tfoot>
          </table>
        </div>
      </section>
      {!closed && (
        <section aria-label={t(locale, 'chooseProvider')}>
          {!view.couponCode && (
            <CodeForm
              id="coupon"
              label={t(locale, 'couponLabel')}
              button={t(locale, 'applyCoupon')}
              busy={busy}
              error={couponError}
              onSubmit={(code) => applyCodes({ couponCode: code }, setCouponError)}
            />
          )}
          {!view.giftCardLast4 && (
            <CodeForm
              id="gift-card"
              label={t(locale, 'giftCardLabel')}
              button={t(locale, 'applyGiftCard')}
              busy={busy}
              error={giftError}
              onSubmit={(code) => applyCodes({ giftCardCode: code }, setGiftError)}
            />
          )}
          <form onSubmit={continueToPay}>
            {view.providers.length > 1 ? (
              <fieldset>
                <legend>{t(locale, 'chooseProvider')}</legend>
                {view.providers.map((p) => (
                  <div class="radio" key={p}>
                    <input
                      type="radio"
                      id={`provider-${p}`}
                      name="provider"
                      value={p}
                      checked={provider === p}
                      onChange={() => setProvider(p)}
                    />
                    <label for={`provider-${p}`}>{PROVIDER_NAMES[p] ?? p}</label>
                  </div>
                ))}
              </fieldset>
            ) : (
              <p class="muted">
                {t(locale, 'payWith')} {PROVIDER_NAMES[provider] ?? provider}
              </p>
            )}
            <p class="alert" role="alert">
              {payError}
            </p>
            <button type="submit" class="primary" disabled={busy || !provider}>
              {busy ? t(locale, 'working') : `${t(locale, 'continueToPay')} · ${money(view.total)}`}
            </button>
          </form>
          <p class="actions">
            <a href={view.cancelUrl}>{t(locale, 'cancelAndReturn')}</a>
          </p>
        </section>
      )}
    </>
  );
}

document.title = t(pageLocale(), 'checkoutTitle');
render(<Checkout />, document.getElementById('app') as HTMLElement);
