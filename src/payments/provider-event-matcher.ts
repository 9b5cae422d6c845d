import { Injectable } from '@nestjs/common';
import { CheckoutSessionsRepository } from './checkout/checkout-sessions.repository';
import { PaymentHooks } from './payment-hooks';
import { PaymentsRepository } from './payments.repository';
import type { ProviderEventKind, ProviderId, ProviderWebhookEvent } from './providers/payment-provider';

/** The kinds of event that say money moved: never applied on the event's word alone. */
export const MONEY_KINDS: readonly ProviderEventKind[] = [
  'checkout.completed',
  'payment.succeeded',
  'payment.refunded',
  'dispute',
  'renewal.succeeded',
];

export const movesMoney = (event: Pick<ProviderWebhookEvent, 'kind'>): boolean => MONEY_KINDS.includes(event.kind);

/**
 * A verified event that must not be applied (it matches nothing of ours, or not what we asked for, or
 * its provider does not confirm it). The webhook worker keeps it at once as a dead letter with this
 * message as the reason, for an admin to look at (and replay once it is understood).
 */
export class HeldEventError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'HeldEventError';
  }
}

/** The fields an event claims that its provider's own record must confirm, as they are compared. */
const CLAIMS = ['merchantId', 'reference', 'providerSessionId', 'providerRef', 'amount', 'currency', 'firstChargeRef'] as const;

/**
 * What the event claimed that the provider's record (the confirmed event) does not show: a signed event
 * whose content the provider contradicts is not the provider's. Only what the event claims is compared
 * (a Mercado Pago notification claims no more than a payment id).
 */
export function contradictions(claimed: ProviderWebhookEvent, confirmed: ProviderWebhookEvent): string[] {
  const found: string[] = [];
  if (claimed.kind !== 'other' && claimed.kind !== confirmed.kind)
    found.push(`kind ${claimed.kind} (the provider shows ${confirmed.kind})`);
  for (const field of CLAIMS) {
    const said = normalized(claimed[field]);
    if (said !== undefined && said !== normalized(confirmed[field]))
      found.push(`${field} ${String(said)} (the provider shows ${String(normalized(confirmed[field]) ?? 'none')})`);
  }
  return found;
}

function normalized(value: string | number | undefined): string | number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' && /^[a-z]{3}$/i.test(value) ? value.toUpperCase() : value;
}

/**
 * The one rule every money-moving event passes before it is applied, whatever its provider: it names a
 * merchant and a checkout session or payment of ours, at the provider that reports it, for the amount
 * and currency we asked that provider for. Anything else throws HeldEventError (nothing is applied).
 * A provider-managed subscription's renewal must name a subscription of ours at that provider, for its
 * amount and currency (SubscriptionEventHook.check). Refund reports are only a prompt to ask the provider what it shows refunded (RefundsService), so for
 * them the rule only asks that they name a merchant and a charge.
 */
@Injectable()
export class ProviderEventMatcher {
  constructor(
    private readonly sessions: CheckoutSessionsRepository,
    private readonly payments: PaymentsRepository,
    private readonly hooks: PaymentHooks,
  ) {}

  async check(provider: ProviderId, event: ProviderWebhookEvent): Promise<void> {
    if (!movesMoney(event)) return;
    const merchantId = event.merchantId;
    if (!merchantId) throw new HeldEventError(`${provider} reports money moved (${event.type}) but names no merchant`);
    if (event.kind === 'payment.refunded') {
      if (!event.providerRef) throw new HeldEventError(`${provider} reports a refund (${event.type}) but names no charge`);
      return;
    }
    if (event.kind === 'dispute') return this.checkDispute(provider, merchantId, event);
    if (event.kind === 'renewal.succeeded') {
      // A provider-managed subscription's renewal: checked against the subscription by its owner.
      const hook = this.hooks.subscriptionEvent;
      if (!hook) throw new HeldEventError(`${provider} reports a subscription renewal (${event.type}) but nothing here takes it`);
      return hook.check(provider, event);
    }
    if (event.kind === 'checkout.completed') {
      const session =
        (event.providerSessionId && (await this.sessions.findByProviderSession(merchantId, provider, event.providerSessionId))) ||
        (event.reference ? await this.sessions.findById(merchantId, event.reference) : null);
      if (!session)
        throw new HeldEventError(
          `${provider} reports a completed checkout (${event.type}) that matches no checkout session of merchant ${merchantId}`,
        );
      this.expect(
        `checkout session ${session.id}`,
        { provider: session.provider, amount: session.total, currency: session.currency },
        provider,
        event,
      );
      return;
    }
    // payment.succeeded
    const payment = event.providerRef ? await this.payments.findForEvent(merchantId, provider, event.providerRef, event.reference) : null;
    if (!payment) {
      // A hosted checkout's charge event can arrive before the checkout event that records it.
      const session = event.reference?.startsWith('cs_') ? await this.sessions.findById(merchantId, event.reference) : null;
      if (session && session.provider === provider) return;
      throw new HeldEventError(`${provider} reports a succeeded payment (${event.type}) that matches no payment of merchant ${merchantId}`);
    }
    this.expect(
      `payment ${payment.id}`,
      { provider: payment.provider, amount: payment.amount - payment.giftCardAmount, currency: payment.currency },
      provider,
      event,
    );
  }

  /** A dispute takes money back from a charge of ours at that provider: at most what it paid, in its currency. */
  private async checkDispute(provider: ProviderId, merchantId: string, event: ProviderWebhookEvent): Promise<void> {
    const dispute = event.dispute;
    if (!dispute) throw new HeldEventError(`${provider} reports a dispute (${event.type}) but shows no dispute`);
    const payment = await this.payments.findByProviderRef(merchantId, provider, dispute.chargeRef);
    if (!payment)
      throw new HeldEventError(
        `${provider} reports a dispute (${event.type}) on a charge that matches no payment of merchant ${merchantId}`,
      );
    const paid = payment.amount - payment.giftCardAmount;
    const problems: string[] = [];
    if (dispute.amount > paid) problems.push(`amount ${dispute.amount}, more than the ${paid} charged`);
    if (dispute.currency.toUpperCase() !== payment.currency.toUpperCase())
      problems.push(`currency ${dispute.currency}, the payment is in ${payment.currency}`);
    if (problems.length > 0)
      throw new HeldEventError(`${provider} ${event.type} does not match payment ${payment.id}: ${problems.join('; ')}`);
  }

  private expect(
    what: string,
    asked: { provider: ProviderId | null; amount: number; currency: string },
    provider: ProviderId,
    event: ProviderWebhookEvent,
  ): void {
    const problems: string[] = [];
    if (asked.provider !== provider) problems.push(`it is at ${asked.provider ?? 'no provider'}, not ${provider}`);
    if (event.amount !== asked.amount) problems.push(`amount ${event.amount ?? 'missing'}, we asked for ${asked.amount}`);
    if (event.currency?.toUpperCase() !== asked.currency.toUpperCase())
      problems.push(`currency ${event.currency ?? 'missing'}, we asked for ${asked.currency}`);
    if (problems.length > 0) throw new HeldEventError(`${provider} ${event.type} does not match ${what}: ${problems.join('; ')}`);
  }
}
