import { useEffect, useState } from 'preact/hooks';
import { newIdempotencyKey, request } from '../shared/api';
import { statusText, t } from '../shared/i18n';
import { formatMoney } from '../shared/money';
import { base, describe, formatDate, locale, NO_OUTCOME, type Outcome } from './context';

interface Plan {
  productId: string;
  name: string;
  amount: number;
}

export interface Subscription {
  id: string;
  status: string;
  productId: string;
  productName: string;
  amount: number;
  currency: string;
  exponent: number;
  interval: 'month' | 'year';
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  pendingProductId: string | null;
  pendingProductName: string | null;
  paymentMethodId: string | null;
  plans: Plan[];
}

/** The API's answer to an action (a subscription as the API shows it). */
interface ActionAnswer {
  productId: string;
  pendingProductId: string | null;
  currentPeriodEnd: string | null;
}

function SubscriptionCard(props: { sub: Subscription; onChanged: () => void }) {
  const { sub } = props;
  const money = (minor: number) => formatMoney(minor, sub.currency, sub.exponent, locale);
  const [outcome, setOutcome] = useState<Outcome>(NO_OUTCOME);
  const [busy, setBusy] = useState(false);
  const [plan, setPlan] = useState(sub.plans[0]?.productId ?? '');
  // The plan picked, while it is still offered (after a change the list is another).
  const selected = sub.plans.some((p) => p.productId === plan) ? plan : (sub.plans[0]?.productId ?? '');
  const headingId = `sub-${sub.id}`;

  async function act(path: string, body: object | undefined, confirm: (answer: ActionAnswer) => string) {
    setBusy(true);
    try {
      const answer = await request<ActionAnswer>('POST', `${base}/subscriptions/${encodeURIComponent(sub.id)}/${path}`, body, {
        'Idempotency-Key': newIdempotencyKey(),
      });
      setOutcome({ text: confirm(answer), error: false });
      props.onChanged();
    } catch (err) {
      setOutcome({ text: describe(err), error: true });
    } finally {
      setBusy(false);
    }
  }

  function changePlan(e: Event) {
    e.preventDefault();
    const name = sub.plans.find((p) => p.productId === selected)?.name ?? selected;
    void act('change', { productId: selected }, (answer) =>
      answer.productId === selected
        ? t(locale, 'changedNow', { plan: name })
        : t(locale, 'changedLater', { plan: name, date: formatDate(answer.currentPeriodEnd) }),
    );
  }

  const open = sub.status === 'active' || sub.status === 'past_due';
  const every = sub.interval === 'month' ? 'everyMonth' : 'everyYear';
  return (
    <article class="card" aria-labelledby={headingId} data-subscription={sub.id}>
      <h3 id={headingId}>{sub.productName}</h3>
      <p>
        {t(locale, every, { amount: money(sub.amount) })} · {statusText(locale, sub.status)}
      </p>
      {sub.status === 'active' && (
        <p>
          {sub.cancelAtPeriodEnd
            ? t(locale, 'endsOn', { date: formatDate(sub.currentPeriodEnd) })
            : t(locale, 'renewsOn', { date: formatDate(sub.currentPeriodEnd) })}
        </p>
      )}
      {sub.pendingProductName && (
        <p>{t(locale, 'pendingPlan', { plan: sub.pendingProductName, date: formatDate(sub.currentPeriodEnd) })}</p>
      )}
      {open && (
        <div class="actions">
          {sub.cancelAtPeriodEnd ? (
            <button
              type="button"
              disabled={busy}
              onClick={() => void act('resume', undefined, (a) => t(locale, 'resumedDone', { date: formatDate(a.currentPeriodEnd) }))}
            >
              {t(locale, 'resume')}
            </button>
          ) : (
            <button
              type="button"
              disabled={busy}
              onClick={() => void act('cancel', undefined, (a) => t(locale, 'canceledDone', { date: formatDate(a.currentPeriodEnd) }))}
            >
              {t(locale, 'cancelAtPeriodEnd')}
            </button>
          )}
        </div>
      )}
      {sub.status === 'active' && !sub.cancelAtPeriodEnd && sub.plans.length > 0 && (
        <form class="inline" onSubmit={changePlan}>
          <div class="field">
            <label for={`plan-${sub.id}`}>{t(locale, 'newPlan')}</label>
            <select id={`plan-${sub.id}`} value={selected} onChange={(e) => setPlan((e.target as HTMLSelectElement).value)}>
              {sub.plans.map((p) => (
                <option key={p.productId} value={p.productId}>
                  {p.name} — {t(locale, every, { amount: money(p.amount) })}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" disabled={busy}>
            {t(locale, 'changePlan')}
          </button>
          <p class="muted">{t(locale, 'upgradeNote')}</p>
        </form>
      )}
      <p class={outcome.error ? 'alert' : outcome.text ? 'note' : ''} role={outcome.error ? 'alert' : 'status'}>
        {outcome.text}
      </p>
    </article>
  );
}

/** The customer's subscriptions: cancel at period end, resume, change plan (each through the portal's routes). */
export function Subscriptions(props: { version: number; onChanged: () => void; onLoaded: (subs: Subscription[]) => void }) {
  const [subs, setSubs] = useState<Subscription[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    request<{ data: Subscription[] }>('GET', `${base}/subscriptions`)
      .then((page) => {
        setSubs(page.data);
        props.onLoaded(page.data);
      })
      .catch((err: unknown) => setError(describe(err)));
  }, [props.version]);
  return (
    <section aria-labelledby="subs-h">
      <h2 id="subs-h">{t(locale, 'subscriptions')}</h2>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {subs === null && !error && <p aria-live="polite">{t(locale, 'working')}</p>}
      {subs?.length === 0 && <p class="muted">{t(locale, 'noSubscriptions')}</p>}
      {subs?.map((sub) => (
        <SubscriptionCard key={sub.id} sub={sub} onChanged={props.onChanged} />
      ))}
    </section>
  );
}
