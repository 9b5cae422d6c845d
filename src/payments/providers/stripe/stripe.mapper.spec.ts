import type Stripe from 'stripe';
import recorded from './testdata/recorded-events.json';
import { UnknownProviderStatusError } from '../payment-provider';
import {
  checkoutSessionParams,
  fromStripeAmount,
  refundStatusOf,
  sessionIsOpen,
  STRIPE_INTENT_STATUSES,
  STRIPE_REFUND_STATUSES,
  STRIPE_SESSION_PAYMENT_STATUSES,
  STRIPE_SESSION_STATUSES,
  paymentIntentParams,
  SUBSCRIBED_EVENT_TYPES,
  toProviderPayment,
  toProviderRefund,
  toStripeAmount,
  toWebhookEvent,
} from './stripe.mapper';

type RecordedEvent = { id: string; type: string; data: { object: Record<string, unknown> } };
const events = recorded as unknown as Record<string, RecordedEvent>;
const object = (name: string) => events[name].data.object;

describe('Stripe mapper', () => {
  describe('webhook events (recorded payloads)', () => {
    it('checkout.session.completed (payment mode) → checkout.completed with our session, Stripe session and PaymentIntent', () => {
      const event = events.checkoutCompleted;
      expect(toWebhookEvent(event)).toEqual({
        eventId: event.id,
        type: 'checkout.session.completed',
        kind: 'checkout.completed',
        merchantId: 'mer_default',
        reference: 'cs_Rec0rdedCheckout0001',
        providerSessionId: object('checkoutCompleted').id,
        providerRef: object('checkoutCompleted').payment_intent,
        amount: 5998,
        currency: 'USD',
        payload: event,
      });
    });

    it('checkout.session.completed in subscription mode is a completed checkout without a PaymentIntent', () => {
      expect(toWebhookEvent(events.checkoutCompletedSubscription)).toMatchObject({
        kind: 'checkout.completed',
        merchantId: 'mer_default',
        reference: 'cs_Rec0rdedCheckout0003',
        providerSessionId: object('checkoutCompletedSubscription').id,
        amount: 990,
      });
      expect(toWebhookEvent(events.checkoutCompletedSubscription).providerRef).toBeUndefined();
    });

    it('checkout.session.expired → checkout.expired', () => {
      expect(toWebhookEvent(events.checkoutExpired)).toMatchObject({
        kind: 'checkout.expired',
        merchantId: 'mer_default',
        reference: 'cs_Rec0rdedCheckout0002',
        providerSessionId: object('checkoutExpired').id,
      });
    });

    it('payment_intent.succeeded → payment.succeeded by PaymentIntent id', () => {
      expect(toWebhookEvent(events.paymentIntentSucceeded)).toMatchObject({
        kind: 'payment.succeeded',
        merchantId: 'mer_default',
        reference: 'pay_Rec0rdedPayment00001',
        providerRef: object('paymentIntentSucceeded').id,
        amount: 2999,
        currency: 'USD',
      });
    });

    it.each([
      ['paymentIntentDeclined', 'insufficient_funds'],
      ['paymentIntentAuthenticationFailed', 'payment_intent_authentication_failure'],
    ])('payment_intent.payment_failed (%s) → payment.failed with the decline code of last_payment_error', (name, declineCode) => {
      expect(toWebhookEvent(events[name])).toMatchObject({ kind: 'payment.failed', providerRef: object(name).id, declineCode });
    });

    it('payment_intent.payment_failed of a hosted checkout (reference cs_…) → checkout.attempt_failed', () => {
      expect(toWebhookEvent(events.hostedPageDecline)).toMatchObject({
        kind: 'checkout.attempt_failed',
        merchantId: 'mer_default',
        reference: 'cs_Rec0rdedCheckout0001',
        declineCode: 'generic_decline',
      });
    });

    it('charge.refunded → payment.refunded on the PaymentIntent', () => {
      expect(toWebhookEvent(events.chargeRefunded)).toMatchObject({
        kind: 'payment.refunded',
        merchantId: 'mer_default',
        reference: 'pay_Rec0rdedPayment00001',
        providerRef: object('chargeRefunded').payment_intent,
        amount: 2999,
      });
    });

    it.each([
      ['subscriptionCreated', 'customer.subscription.created', 'other'],
      // The first invoice is the purchase's own charge; a renewal's invoice (subscription_cycle) is a renewal.
      ['invoicePaid', 'invoice.paid', 'other'],
      ['invoicePaymentFailed', 'invoice.payment_failed', 'renewal.failed'],
      ['subscriptionDeleted', 'customer.subscription.deleted', 'subscription.canceled'],
    ])('%s (%s) → %s, merchant mer_default', (name, type, kind) => {
      const mapped = toWebhookEvent(events[name]);
      expect(mapped).toMatchObject({ type, kind, eventId: events[name].id });
      expect(mapped.merchantId).toBe('mer_default');
    });

    it('charge.dispute.created → dispute on the PaymentIntent, no merchant named (confirmEvent reads it), no funds moved yet', () => {
      const mapped = toWebhookEvent(events.disputeCreated);
      expect(mapped).toMatchObject({ kind: 'dispute', type: 'charge.dispute.created' });
      expect(mapped.merchantId).toBeUndefined();
      expect(mapped.dispute).toMatchObject({ providerDisputeId: object('disputeCreated').id, fundsReinstated: false });
    });

    it('a dispute with a withdrawal and a reinstatement: both, the fee in our minor units, Stripe warning statuses mapped', () => {
      const dispute = {
        id: 'du_1',
        charge: 'ch_1',
        payment_intent: 'pi_1',
        amount: 2999,
        currency: 'usd',
        reason: 'fraudulent',
        status: 'won',
        evidence_details: { due_by: 1_700_000_000 },
        balance_transactions: [
          { amount: -4499, fee: 1500, currency: 'usd' },
          { amount: 2999, fee: 0, currency: 'usd' },
        ],
      };
      expect(toWebhookEvent({ id: 'evt_d', type: 'charge.dispute.closed', data: { object: dispute } }).dispute).toEqual({
        providerDisputeId: 'du_1',
        chargeRef: 'pi_1',
        amount: 2999,
        currency: 'USD',
        reason: 'fraudulent',
        status: 'won',
        providerStatus: 'won',
        evidenceDueBy: new Date(1_700_000_000_000),
        fundsWithdrawn: true,
        fundsReinstated: true,
        fee: 1500,
      });
      const inquiry = { ...dispute, status: 'warning_needs_response', balance_transactions: [] };
      expect(toWebhookEvent({ id: 'evt_w', type: 'charge.dispute.created', data: { object: inquiry } }).dispute).toMatchObject({
        status: 'needs_response',
        providerStatus: 'warning_needs_response',
        fundsWithdrawn: false,
      });
    });

    it('invoice events name their subscription (current parent.subscription_details, and the older top-level field)', () => {
      expect(toWebhookEvent(events.invoicePaid).providerRef).toMatch(/^sub_/);
      const older = {
        id: 'evt_old',
        type: 'invoice.payment_succeeded',
        data: {
          object: {
            id: 'in_1',
            subscription: 'sub_old',
            subscription_details: { metadata: { merchant_id: 'mer_x' } },
            amount_paid: 990,
            currency: 'usd',
          },
        },
      };
      expect(toWebhookEvent(older)).toMatchObject({ kind: 'other', merchantId: 'mer_x', providerRef: 'sub_old', amount: 990 });
    });

    it('a completed session still unpaid (delayed payment method) waits for async_payment_succeeded; async failure fails the attempt', () => {
      const session = { ...object('checkoutCompleted'), payment_status: 'unpaid' };
      expect(toWebhookEvent({ id: 'evt_a', type: 'checkout.session.completed', data: { object: session } }).kind).toBe('other');
      expect(toWebhookEvent({ id: 'evt_b', type: 'checkout.session.async_payment_succeeded', data: { object: session } })).toMatchObject({
        kind: 'checkout.completed',
        reference: 'cs_Rec0rdedCheckout0001',
      });
      expect(toWebhookEvent({ id: 'evt_c', type: 'checkout.session.async_payment_failed', data: { object: session } }).kind).toBe(
        'checkout.attempt_failed',
      );
    });

    it('any other type is other; an object in a currency we do not handle keeps no amount', () => {
      expect(toWebhookEvent({ id: 'evt_x', type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } })).toEqual({
        eventId: 'evt_x',
        type: 'customer.created',
        kind: 'other',
        providerRef: 'cus_1',
        payload: { id: 'evt_x', type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } },
      });
      const huf = {
        id: 'evt_h',
        type: 'payment_intent.succeeded',
        data: { object: { id: 'pi_h', amount: 100, currency: 'huf', metadata: {} } },
      };
      expect(toWebhookEvent(huf)).toMatchObject({ kind: 'payment.succeeded', currency: 'HUF' });
      expect(toWebhookEvent(huf).amount).toBeUndefined();
    });

    it('the subscribed types are exactly the ones the endpoint should receive', () => {
      expect([...SUBSCRIBED_EVENT_TYPES].sort()).toEqual(
        [
          'charge.dispute.closed',
          'charge.dispute.created',
          'charge.dispute.funds_reinstated',
          'charge.dispute.funds_withdrawn',
          'charge.dispute.updated',
          'charge.refunded',
          'checkout.session.async_payment_failed',
          'checkout.session.async_payment_succeeded',
          'checkout.session.completed',
          'checkout.session.expired',
          'customer.subscription.created',
          'customer.subscription.deleted',
          'customer.subscription.updated',
          'invoice.paid',
          'invoice.payment_failed',
          'invoice.payment_succeeded',
          'payment_intent.payment_failed',
          'payment_intent.succeeded',
        ].sort(),
      );
    });
  });

  describe('amounts', () => {
    it.each([
      [2999, 'USD', 2999],
      [500, 'JPY', 500],
      [1230, 'KWD', 1230],
      [500, 'ISK', 50000],
    ])('%i %s ↔ Stripe %i', (ours, currency, stripe) => {
      expect(toStripeAmount(ours, currency)).toBe(stripe);
      expect(fromStripeAmount(stripe, currency)).toBe(ours);
    });

    it('refuses fractions and floats', () => {
      expect(() => toStripeAmount(29.99, 'USD')).toThrow(/integer/);
      expect(() => fromStripeAmount(50050, 'ISK')).toThrow(/whole/);
    });
  });

  describe('request parameters', () => {
    const checkout = {
      merchantId: 'mer_1',
      reference: 'cs_1',
      amount: 5998,
      currency: 'USD',
      lines: [{ name: 'T-shirt', unitAmount: 2999, quantity: 2 }],
      customer: { email: 'a@example.com' },
      successUrl: 'https://s',
      cancelUrl: 'https://c',
      idempotencyKey: 'cs_1_stripe',
    };

    it('a Checkout Session in payment mode, lower-case currency, our ids in metadata of the session and its PaymentIntent', () => {
      expect(checkoutSessionParams(checkout)).toEqual({
        mode: 'payment',
        line_items: [{ quantity: 2, price_data: { currency: 'usd', unit_amount: 2999, product_data: { name: 'T-shirt' } } }],
        success_url: 'https://s',
        cancel_url: 'https://c',
        client_reference_id: 'cs_1',
        customer_email: 'a@example.com',
        metadata: { merchant_id: 'mer_1', reference: 'cs_1' },
        payment_intent_data: { metadata: { merchant_id: 'mer_1', reference: 'cs_1' } },
      });
    });

    it('one line for the whole order when the total is not the sum of the lines (a discount)', () => {
      const params = checkoutSessionParams({
        ...checkout,
        amount: 4998,
        lines: [...checkout.lines, { name: 'Cap', unitAmount: 500, quantity: 1 }],
      });
      expect(params.line_items).toEqual([
        { quantity: 1, price_data: { currency: 'usd', unit_amount: 4998, product_data: { name: 'Order cs_1' } } },
      ]);
    });

    it('a PaymentIntent confirmed with the token, our key in metadata, the return URL', () => {
      const params = paymentIntentParams(
        {
          merchantId: 'mer_1',
          reference: 'pay_1',
          amount: 2999,
          currency: 'USD',
          token: 'pm_card_visa',
          customer: { email: 'a@example.com' },
          idempotencyKey: 'pay_1_1',
        },
        'https://r',
      );
      expect(params).toEqual({
        amount: 2999,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        return_url: 'https://r',
        metadata: { merchant_id: 'mer_1', reference: 'pay_1', paybridge_key: 'pay_1_1' },
      });
    });
  });

  describe('PaymentIntents and Refunds', () => {
    const intent = (fields: Partial<Stripe.PaymentIntent>) =>
      ({
        id: 'pi_1',
        amount: 2999,
        currency: 'usd',
        latest_charge: null,
        next_action: null,
        last_payment_error: null,
        ...fields,
      }) as Stripe.PaymentIntent;

    it('maps every status', () => {
      expect(toProviderPayment(intent({ status: 'succeeded' }))).toEqual({
        providerRef: 'pi_1',
        status: 'succeeded',
        amount: 2999,
        currency: 'USD',
        amountRefunded: 0,
      });
      expect(
        toProviderPayment(
          intent({
            status: 'requires_action',
            next_action: { type: 'redirect_to_url', redirect_to_url: { url: 'https://3ds', return_url: null } },
          }),
        ),
      ).toMatchObject({ status: 'requires_action', nextActionUrl: 'https://3ds' });
      expect(
        toProviderPayment(intent({ status: 'requires_action', next_action: { type: 'use_stripe_sdk' } })).nextActionUrl,
      ).toBeUndefined();
      expect(toProviderPayment(intent({ status: 'processing' })).status).toBe('processing');
      expect(toProviderPayment(intent({ status: 'requires_capture' })).status).toBe('processing');
      expect(toProviderPayment(intent({ status: 'canceled' })).status).toBe('canceled');
      const lastError = object('paymentIntentDeclined').last_payment_error as Stripe.PaymentIntent.LastPaymentError;
      expect(toProviderPayment(intent({ status: 'requires_payment_method', last_payment_error: lastError }))).toMatchObject({
        status: 'declined',
        declineCode: 'insufficient_funds',
      });
    });

    it('reads the refunded amount from an expanded latest_charge', () => {
      const latest = object('chargeRefunded') as unknown as Stripe.Charge;
      expect(toProviderPayment(intent({ status: 'succeeded', latest_charge: latest })).amountRefunded).toBe(1000);
    });

    it('refund statuses', () => {
      const refund = (status: string) => ({ id: 're_1', status }) as Stripe.Refund;
      expect(toProviderRefund(refund('succeeded'))).toEqual({ providerRefundId: 're_1', status: 'succeeded' });
      expect(toProviderRefund(refund('pending'))).toEqual({ providerRefundId: 're_1', status: 'pending' });
      expect(toProviderRefund(refund('failed'))).toBeNull();
      expect(toProviderRefund(refund('canceled'))).toBeNull();
      expect(toProviderRefund(refund('requires_action'))).toEqual({ providerRefundId: 're_1', status: 'pending' });
    });

    it('the status tables hold every documented status, and nothing else', () => {
      expect(STRIPE_INTENT_STATUSES).toEqual({
        requires_payment_method: 'declined',
        requires_confirmation: 'processing',
        requires_action: 'requires_action',
        processing: 'processing',
        requires_capture: 'processing',
        canceled: 'canceled',
        succeeded: 'succeeded',
      });
      expect(STRIPE_REFUND_STATUSES).toEqual({
        pending: 'pending',
        requires_action: 'pending',
        succeeded: 'succeeded',
        failed: 'failed',
        canceled: 'failed',
      });
      expect(Object.keys(STRIPE_SESSION_STATUSES).sort()).toEqual(['complete', 'expired', 'open']);
      expect(Object.keys(STRIPE_SESSION_PAYMENT_STATUSES).sort()).toEqual(['no_payment_required', 'paid', 'unpaid']);
      expect(['open', 'complete', 'expired'].map(sessionIsOpen)).toEqual([true, false, false]);
    });

    it('an unknown status throws UnknownProviderStatusError instead of becoming processing', () => {
      const unknown = intent({ status: 'requires_reauthorization' as Stripe.PaymentIntent.Status });
      expect(() => toProviderPayment(unknown)).toThrow(UnknownProviderStatusError);
      expect(() => toProviderPayment(unknown)).toThrow(/payment intent status "requires_reauthorization"/);
      expect(() => toProviderRefund({ id: 're_1', status: 'reversed' } as Stripe.Refund)).toThrow(UnknownProviderStatusError);
      expect(() => refundStatusOf({ status: null })).toThrow(UnknownProviderStatusError);
      expect(() => sessionIsOpen('paused')).toThrow(UnknownProviderStatusError);
    });

    it('a completed session with an unknown payment_status is not guessed', () => {
      const event = events.checkoutCompleted;
      const odd = { ...event, data: { object: { ...event.data.object, payment_status: 'partially_paid' } } };
      expect(() => toWebhookEvent(odd)).toThrow(UnknownProviderStatusError);
    });
  });
});
