import type { EmulatorRequest, EmulatorResponse } from './emulator-server';
import { randomId } from './emulator-server';
import type { BillingHost, StripeBilling } from './stripe-emulator-billing';
import { addInterval, clone, invalid, Json, missingParam, noSuch, now, Params, StripePrice } from './stripe-emulator-support';

const RENEWING = new Set(['active', 'past_due']);
const MAX_STEPS_PER_ADVANCE = 10_000;

/**
 * Stripe's Test Clocks (`/v1/test_helpers/test_clocks`): a customer created with `test_clock` lives in
 * that clock's time. Advancing a clock renews every subscription of its customers that came due,
 * retries failed invoices on the retry schedule, ends subscriptions set to cancel at period end and
 * applies the final action when the last retry fails, in time order, and answers once every webhook of
 * that has been delivered.
 */
export class StripeTestClocks {
  private readonly clocks = new Map<string, Json>();

  constructor(
    private readonly host: BillingHost,
    private readonly billing: StripeBilling,
  ) {
    host.post('/v1/test_helpers/test_clocks', (req, p) => this.createClock(req, p), { auth: true });
    host.get('/v1/test_helpers/test_clocks/:id', (req) => clone(this.clock(req.params.id)));
    host.postAsync('/v1/test_helpers/test_clocks/:id/advance', (req, p) => this.advanceRoute(req, p));
    host.delete('/v1/test_helpers/test_clocks/:id', (req) => this.deleteClock(req.params.id));
  }

  /** The time a customer lives in: its test clock's frozen time, or now. */
  timeOf(customerId: string | null | undefined): number {
    const clockId = customerId ? this.host.customers.get(customerId)?.test_clock : null;
    const clock = typeof clockId === 'string' ? this.clocks.get(clockId) : undefined;
    return clock ? Number(clock.frozen_time) : now();
  }

  /** `test_clock` on a new Customer: the clock must exist. */
  requireClock(id: string, param: string): string {
    if (!this.clocks.has(id)) throw noSuch('test_helpers.test_clock', id, param);
    return id;
  }

  private createClock(req: EmulatorRequest, p: Params): EmulatorResponse {
    const frozen = p.int('frozen_time');
    if (frozen === undefined) throw missingParam('frozen_time');
    const clock: Json = {
      id: `clock_${randomId(24)}`,
      object: 'test_helpers.test_clock',
      created: now(),
      deletes_after: now() + 30 * 86_400,
      frozen_time: frozen,
      livemode: false,
      name: p.str('name') ?? null,
      status: 'ready',
      status_details: {},
    };
    this.clocks.set(String(clock.id), clock);
    return this.host.respond(req, clock, p.strings('expand'));
  }

  private clock(id: string): Json {
    const clock = this.clocks.get(id);
    if (!clock) throw noSuch('test_helpers.test_clock', id);
    return clock;
  }

  private deleteClock(id: string): Json {
    this.clock(id);
    this.clocks.delete(id);
    return { id, object: 'test_helpers.test_clock', deleted: true };
  }

  private async advanceRoute(req: EmulatorRequest, p: Params): Promise<EmulatorResponse> {
    const clock = this.clock(req.params.id);
    const to = p.int('frozen_time');
    if (to === undefined) throw missingParam('frozen_time');
    if (to <= Number(clock.frozen_time))
      throw invalid('The frozen time must be after the current frozen time of the test clock.', 'frozen_time');
    await this.advance(clock, to);
    return this.host.respond(req, clock, p.strings('expand'));
  }

  /**
   * Moves a clock to `to`, running in time order what came due for its customers' subscriptions:
   * renewals at period end (a new invoice, charged), retries of failed invoices, ends at period end, and
   * the final action when the last retry fails. Each step's webhooks are delivered before the next.
   * (Stripe answers `advancing` and moves in the background; the emulator answers when it is `ready`.)
   */
  async advance(clock: Json, to: number): Promise<void> {
    clock.status = 'advancing';
    for (let step = 0; step < MAX_STEPS_PER_ADVANCE; step++) {
      const next = this.nextDue(String(clock.id), to);
      if (!next) break;
      clock.frozen_time = next.at;
      await next.run();
    }
    clock.frozen_time = to;
    clock.status = 'ready';
    await this.host.emit('test_helpers.test_clock.ready', clock);
  }

  private nextDue(clockId: string, to: number): { at: number; run: () => Promise<void> } | null {
    let best: { at: number; run: () => Promise<void> } | null = null;
    const consider = (at: number, run: () => Promise<void>) => {
      if (at <= to && (!best || at < best.at)) best = { at, run };
    };
    for (const sub of this.host.subscriptions.values()) {
      if (sub.test_clock !== clockId || !RENEWING.has(String(sub.status))) continue;
      const end = Number((sub.items as { data: Json[] }).data[0]?.current_period_end);
      consider(end, () => (sub.cancel_at_period_end ? this.end(sub, end, 'canceled') : this.renew(sub, end)));
      for (const invoice of this.host.invoices.values()) {
        const ofSub = (invoice.parent as { subscription_details?: Json } | null)?.subscription_details?.subscription === sub.id;
        if (ofSub && invoice.status === 'open' && typeof invoice.next_payment_attempt === 'number')
          consider(invoice.next_payment_attempt, () => this.retry(sub, invoice, Number(invoice.next_payment_attempt)));
      }
    }
    return best;
  }

  /** Bills the next period (from `at`, the period end): a new invoice charged off session, with its events. */
  async renew(sub: Json, at: number): Promise<void> {
    const previous: Json = { status: sub.status };
    for (const item of (sub.items as { data: Json[] }).data) {
      const price = item.price as StripePrice;
      item.current_period_start = at;
      item.current_period_end = addInterval(at, price.recurring?.interval ?? 'month', price.recurring?.interval_count ?? 1);
    }
    const invoice = this.billing.newInvoice(sub, 'subscription_cycle', 'open', at);
    await this.host.emit('invoice.created', invoice);
    const error = this.billing.attempt(invoice, sub, at);
    if (!error) {
      sub.status = 'active';
      await this.host.emit('invoice.paid', invoice);
    } else {
      sub.status = 'past_due';
      await this.host.emit('invoice.payment_failed', invoice);
    }
    await this.host.emit('customer.subscription.updated', sub, previous);
  }

  private async retry(sub: Json, invoice: Json, at: number): Promise<void> {
    const error = this.billing.attempt(invoice, sub, at);
    if (!error) return this.billing.settled(sub, invoice);
    await this.host.emit('invoice.payment_failed', invoice);
    if (invoice.next_payment_attempt === null) {
      if (this.billing.finalAction === 'cancel') return this.end(sub, at, 'canceled');
      const previous = { status: sub.status };
      sub.status = 'unpaid';
      await this.host.emit('customer.subscription.updated', sub, previous);
    }
  }

  private async end(sub: Json, at: number, status: 'canceled'): Promise<void> {
    Object.assign(sub, { status, canceled_at: sub.canceled_at ?? at, ended_at: at });
    await this.host.emit('customer.subscription.deleted', sub);
  }
}
