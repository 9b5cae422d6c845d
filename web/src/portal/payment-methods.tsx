import { useEffect, useState } from 'preact/hooks';
import { newIdempotencyKey, request } from '../shared/api';
import { t } from '../shared/i18n';
import { base, describe, locale, NO_OUTCOME, type Outcome } from './context';

interface Method {
  id: string;
  provider: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

/** The simulator's test cards: its token is what the page sends (no card number ever reaches Paybridge). */
const SIMULATOR_CARDS = [
  { token: 'tok_visa', label: 'Visa 4242' },
  { token: 'tok_mastercard', label: 'Mastercard 4444' },
  { token: 'tok_chargeDeclined', label: 'Visa (declined)' },
];

const brandName = (brand: string) => brand.charAt(0).toUpperCase() + brand.slice(1);

function describeMethod(pm: Method): string {
  return t(locale, 'cardEnding', {
    brand: brandName(pm.brand),
    last4: pm.last4,
    month: String(pm.expMonth).padStart(2, '0'),
    year: String(pm.expYear),
  });
}

/** Saved payment methods: list, remove (detached at the provider), add through the provider's token. */
export function PaymentMethods(props: { version: number; inUse: Set<string>; onChanged: () => void }) {
  const [methods, setMethods] = useState<Method[] | null>(null);
  const [addWith, setAddWith] = useState<string[]>([]);
  const [card, setCard] = useState(SIMULATOR_CARDS[0].token);
  const [outcome, setOutcome] = useState<Outcome>(NO_OUTCOME);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    request<{ data: Method[]; addWith: string[] }>('GET', `${base}/payment-methods`)
      .then((answer) => {
        setMethods(answer.data);
        setAddWith(answer.addWith);
      })
      .catch((err: unknown) => setOutcome({ text: describe(err), error: true }));
  }, [props.version]);

  async function run(action: () => Promise<string>) {
    setBusy(true);
    try {
      setOutcome({ text: await action(), error: false });
      props.onChanged();
    } catch (err) {
      setOutcome({ text: describe(err), error: true });
    } finally {
      setBusy(false);
    }
  }

  const remove = (pm: Method) =>
    run(async () => {
      await request('DELETE', `${base}/payment-methods/${encodeURIComponent(pm.id)}`);
      return t(locale, 'removed');
    });

  function add(e: Event) {
    e.preventDefault();
    void run(async () => {
      const pm = await request<Method>(
        'POST',
        `${base}/payment-methods`,
        { provider: 'simulator', token: card },
        { 'Idempotency-Key': newIdempotencyKey() },
      );
      return t(locale, 'added', { brand: brandName(pm.brand), last4: pm.last4 });
    });
  }

  return (
    <section aria-labelledby="pm-h">
      <h2 id="pm-h">{t(locale, 'paymentMethods')}</h2>
      {methods === null && !outcome.error && <p aria-live="polite">{t(locale, 'working')}</p>}
      {methods?.length === 0 && <p class="muted">{t(locale, 'noPaymentMethods')}</p>}
      {methods && methods.length > 0 && (
        <ul class="plain card">
          {methods.map((pm) => (
            <li key={pm.id} data-payment-method={pm.id}>
              <span>
                {describeMethod(pm)}
                {props.inUse.has(pm.id) && <span class="muted"> · {t(locale, 'usedBySubscription')}</span>}
              </span>
              <button
                type="button"
                disabled={busy}
                aria-label={t(locale, 'removeLabel', { brand: brandName(pm.brand), last4: pm.last4 })}
                onClick={() => void remove(pm)}
              >
                {t(locale, 'remove')}
              </button>
            </li>
          ))}
        </ul>
      )}
      {addWith.includes('simulator') && (
        <form class="inline" onSubmit={add} aria-labelledby="pm-add-h">
          <h3 id="pm-add-h" class="visually-hidden">
            {t(locale, 'addMethod')}
          </h3>
          <div class="field">
            <label for="pm-card">{t(locale, 'testCard')}</label>
            <select id="pm-card" value={card} onChange={(e) => setCard((e.target as HTMLSelectElement).value)}>
              {SIMULATOR_CARDS.map((c) => (
                <option key={c.token} value={c.token}>
                  {c.label}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" disabled={busy}>
            {t(locale, 'addCard')}
          </button>
        </form>
      )}
      <p class={outcome.error ? 'alert' : outcome.text ? 'note' : ''} role={outcome.error ? 'alert' : 'status'}>
        {outcome.text}
      </p>
    </section>
  );
}
