import { ProviderUnknownOutcomeError, UnknownProviderStatusError, type ProviderWebhookEvent } from '../payment-provider';
import {
  eventIdOf,
  MERCADOPAGO_REFUND_STATUSES,
  MERCADOPAGO_STATUSES,
  MercadoPagoNotification,
  MercadoPagoPaymentPayload,
  parseChargeToken,
  referenceFromAttemptKey,
  signatureTimestampMs,
  toConfirmedEvent,
  toMercadoPagoAmount,
  refundStatusOf,
  toProviderPayment,
} from './mercadopago.mapper';

/**
 * Payloads recorded from GET/POST /v1/payments (the emulator run with the SDK, shapes as in Mercado
 * Pago's API reference), trimmed to the fields the mapper reads plus a few neighbours.
 */
const recorded = {
  approvedDirect: {
    id: 1303134840,
    date_created: '2026-11-23T17:51:55.108+00:00',
    operation_type: 'regular_payment',
    payment_method_id: 'master',
    payment_type_id: 'credit_card',
    status: 'approved',
    status_detail: 'accredited',
    currency_id: 'BRL',
    metadata: { merchant_id: 'mer_default', reference: 'pay_7Hq2mZ1kLr0aXc9Vb3Nd', attempt_key: 'pay_7Hq2mZ1kLr0aXc9Vb3Nd_1' },
    external_reference: 'pay_7Hq2mZ1kLr0aXc9Vb3Nd',
    transaction_amount: 149.9,
    transaction_amount_refunded: 0,
    installments: 1,
    captured: true,
  },
  rejectedDirect: {
    id: 1303134841,
    status: 'rejected',
    status_detail: 'cc_rejected_insufficient_amount',
    currency_id: 'BRL',
    metadata: { merchant_id: 'mer_default', reference: 'pay_7Hq2mZ1kLr0aXc9Vb3Ne', attempt_key: 'pay_7Hq2mZ1kLr0aXc9Vb3Ne_1' },
    external_reference: 'pay_7Hq2mZ1kLr0aXc9Vb3Ne',
    transaction_amount: 149.9,
    transaction_amount_refunded: 0,
  },
  inProcessDirect: {
    id: 1303134842,
    status: 'in_process',
    status_detail: 'pending_contingency',
    currency_id: 'BRL',
    metadata: { merchant_id: 'mer_default', reference: 'pay_7Hq2mZ1kLr0aXc9Vb3Nf', attempt_key: 'pay_7Hq2mZ1kLr0aXc9Vb3Nf_1' },
    external_reference: 'pay_7Hq2mZ1kLr0aXc9Vb3Nf',
    transaction_amount: 149.9,
    transaction_amount_refunded: 0,
  },
  /** Checkout Pro: the preference's external_reference (our session id) and metadata are copied to the payment. */
  approvedHosted: {
    id: 1303134850,
    status: 'approved',
    status_detail: 'accredited',
    currency_id: 'BRL',
    metadata: { merchant_id: 'mer_default', reference: 'cs_Qw8Er7Ty6Ui5Op4As3Df' },
    external_reference: 'cs_Qw8Er7Ty6Ui5Op4As3Df',
    transaction_amount: 299.8,
    transaction_amount_refunded: 0,
    order: { type: 'mercadopago', id: 24000000123 },
  },
  rejectedHosted: {
    id: 1303134851,
    status: 'rejected',
    status_detail: 'cc_rejected_other_reason',
    currency_id: 'BRL',
    metadata: { merchant_id: 'mer_default', reference: 'cs_Qw8Er7Ty6Ui5Op4As3Df' },
    external_reference: 'cs_Qw8Er7Ty6Ui5Op4As3Df',
    transaction_amount: 299.8,
    transaction_amount_refunded: 0,
  },
  /** After POST /v1/payments/:id/refunds {amount: 50}: still approved, status_detail partially_refunded. */
  partiallyRefunded: {
    id: 1303134843,
    status: 'approved',
    status_detail: 'partially_refunded',
    transaction_amount: 149.9,
    transaction_amount_refunded: 50,
    currency_id: 'BRL',
    external_reference: 'pay_Qw8Er7Ty6Ui5Op4As3Dg',
    metadata: { merchant_id: 'mer_default', reference: 'pay_Qw8Er7Ty6Ui5Op4As3Dg' },
    refunds: [{ id: 2106898850, payment_id: 1303134843, amount: 50, status: 'approved', refund_mode: 'standard' }],
  },
  refunded: {
    id: 1303134844,
    status: 'refunded',
    status_detail: 'refunded',
    transaction_amount: 149.9,
    transaction_amount_refunded: 149.9,
    currency_id: 'BRL',
    external_reference: 'pay_Qw8Er7Ty6Ui5Op4As3Dh',
    metadata: { merchant_id: 'mer_default' },
  },
  /** three_d_secure_mode: optional, challenge required (API reference shape; not produced by the emulator). */
  challenge: {
    id: 1303134845,
    status: 'pending',
    status_detail: 'pending_challenge',
    transaction_amount: 149.9,
    transaction_amount_refunded: 0,
    currency_id: 'BRL',
    external_reference: 'pay_Qw8Er7Ty6Ui5Op4As3Di',
    three_ds_info: {
      external_resource_url: 'https://acs-public.tp.mastercard.com/api/v1/browser_challenges',
      creq: 'eyJ0aHJlZURTU2VydmVyVHJhbnNJRCI6Ij',
    },
  },
  cancelledPix: {
    id: 1303134846,
    status: 'cancelled',
    status_detail: 'expired',
    payment_method_id: 'pix',
    transaction_amount: 15,
    transaction_amount_refunded: 0,
    currency_id: 'BRL',
    external_reference: 'pay_Qw8Er7Ty6Ui5Op4As3Dj',
    metadata: { merchant_id: 'mer_default' },
  },
} satisfies Record<string, MercadoPagoPaymentPayload & Record<string, unknown>>;

/** A webhook notification body as Mercado Pago posts it (`?data.id=1303134840&type=payment`). */
const notificationBody: MercadoPagoNotification = {
  action: 'payment.updated',
  api_version: 'v1',
  data: { id: '1303134840' },
  date_created: '2026-11-23T17:51:55.200+00:00',
  id: 115000123456,
  live_mode: false,
  type: 'payment',
  user_id: 1234567890,
};

const parsed = (providerRef: string): ProviderWebhookEvent => ({
  eventId: 'mp_ntf_115000123456',
  type: 'payment.updated',
  kind: 'other',
  providerRef,
  payload: notificationBody,
});

describe('Mercado Pago mapper', () => {
  describe('toProviderPayment (charge and retrieve answers)', () => {
    it('approved: succeeded, amounts back in minor units', () => {
      expect(toProviderPayment(recorded.approvedDirect)).toEqual({
        providerRef: '1303134840',
        status: 'succeeded',
        amount: 14990,
        currency: 'BRL',
        amountRefunded: 0,
        declineCode: undefined,
        nextActionUrl: undefined,
      });
    });

    it('rejected: declined with status_detail as the decline code', () => {
      expect(toProviderPayment(recorded.rejectedDirect)).toMatchObject({
        status: 'declined',
        declineCode: 'cc_rejected_insufficient_amount',
        providerRef: '1303134841',
      });
    });

    it('in_process (CONT) and pending: processing', () => {
      expect(toProviderPayment(recorded.inProcessDirect).status).toBe('processing');
      expect(toProviderPayment({ ...recorded.inProcessDirect, status: 'pending', status_detail: 'pending_waiting_transfer' }).status).toBe(
        'processing',
      );
    });

    it('partially refunded and refunded: succeeded with what was refunded', () => {
      expect(toProviderPayment(recorded.partiallyRefunded)).toMatchObject({
        status: 'succeeded',
        amount: 14990,
        amountRefunded: 5000,
      });
      expect(toProviderPayment(recorded.refunded)).toMatchObject({ status: 'succeeded', amountRefunded: 14990 });
      expect(toProviderPayment({ ...recorded.refunded, transaction_amount_refunded: undefined }).amountRefunded).toBe(14990);
    });

    it('a 3-D Secure challenge: requires_action with the challenge URL', () => {
      expect(toProviderPayment(recorded.challenge)).toMatchObject({
        status: 'requires_action',
        nextActionUrl: 'https://acs-public.tp.mastercard.com/api/v1/browser_challenges',
      });
    });

    it('cancelled: canceled; an undocumented status is never guessed: it throws UnknownProviderStatusError', () => {
      expect(toProviderPayment(recorded.cancelledPix).status).toBe('canceled');
      expect(() => toProviderPayment({ ...recorded.approvedDirect, status: 'something_new' })).toThrow(UnknownProviderStatusError);
      expect(() => toProviderPayment({ ...recorded.approvedDirect, status: undefined })).toThrow(UnknownProviderStatusError);
    });

    it('uses the currency the payment was made in (CLP has no decimals), never an assumed BRL', () => {
      expect(toProviderPayment({ ...recorded.approvedDirect, currency_id: 'CLP', transaction_amount: 5000 })).toMatchObject({
        currency: 'CLP',
        amount: 5000,
      });
      expect(toProviderPayment({ ...recorded.approvedDirect, currency_id: 'ARS', transaction_amount: 1250.5 })).toMatchObject({
        currency: 'ARS',
        amount: 125050,
      });
      expect(() => toProviderPayment({ ...recorded.approvedDirect, currency_id: undefined })).toThrow(ProviderUnknownOutcomeError);
    });
  });

  describe('toConfirmedEvent (a notification, after fetching the payment)', () => {
    it('approved direct charge → payment.succeeded with merchant and refs', () => {
      expect(toConfirmedEvent(parsed('1303134840'), recorded.approvedDirect)).toEqual({
        eventId: 'mp_ntf_115000123456',
        type: 'payment.updated',
        kind: 'payment.succeeded',
        merchantId: 'mer_default',
        reference: 'pay_7Hq2mZ1kLr0aXc9Vb3Nd',
        providerRef: '1303134840',
        amount: 14990,
        currency: 'BRL',
        declineCode: undefined,
        payload: notificationBody,
      });
    });

    it('approved Checkout Pro payment → checkout.completed, reference = our session id', () => {
      expect(toConfirmedEvent(parsed('1303134850'), recorded.approvedHosted)).toMatchObject({
        kind: 'checkout.completed',
        reference: 'cs_Qw8Er7Ty6Ui5Op4As3Df',
        providerRef: '1303134850',
        amount: 29980,
        merchantId: 'mer_default',
      });
    });

    it('rejected → checkout.attempt_failed / payment.failed with status_detail', () => {
      expect(toConfirmedEvent(parsed('1303134851'), recorded.rejectedHosted)).toMatchObject({
        kind: 'checkout.attempt_failed',
        reference: 'cs_Qw8Er7Ty6Ui5Op4As3Df',
        declineCode: 'cc_rejected_other_reason',
      });
      expect(toConfirmedEvent(parsed('1303134841'), recorded.rejectedDirect)).toMatchObject({
        kind: 'payment.failed',
        declineCode: 'cc_rejected_insufficient_amount',
      });
    });

    it('refunded and partially refunded → payment.refunded', () => {
      expect(toConfirmedEvent(parsed('1303134843'), recorded.partiallyRefunded).kind).toBe('payment.refunded');
      expect(toConfirmedEvent(parsed('1303134844'), recorded.refunded).kind).toBe('payment.refunded');
    });

    it('in_process, pending, cancelled, charged back, in mediation → other', () => {
      for (const status of ['in_process', 'pending', 'authorized', 'cancelled', 'charged_back', 'in_mediation']) {
        expect(toConfirmedEvent(parsed('1'), { ...recorded.approvedDirect, status }).kind).toBe('other');
      }
    });

    it('a notification for an MXN payment carries MXN, whatever the notification said', () => {
      const event = toConfirmedEvent(
        { ...parsed('1303134840'), currency: 'BRL' },
        { ...recorded.approvedDirect, currency_id: 'MXN', transaction_amount: 349.99 },
      );
      expect(event).toMatchObject({ currency: 'MXN', amount: 34999, kind: 'payment.succeeded' });
      expect(() => toConfirmedEvent(parsed('1303134840'), { ...recorded.approvedDirect, currency_id: undefined })).toThrow(
        ProviderUnknownOutcomeError,
      );
    });

    it('an undocumented status fails the event (retried, then dead-lettered), never read as other', () => {
      expect(() => toConfirmedEvent(parsed('1'), { ...recorded.approvedDirect, status: 'something_new' })).toThrow(
        UnknownProviderStatusError,
      );
    });

    it('every documented status is in the table', () => {
      expect(Object.keys(MERCADOPAGO_STATUSES).sort()).toEqual(
        ['approved', 'authorized', 'cancelled', 'charged_back', 'in_mediation', 'in_process', 'pending', 'refunded', 'rejected'].sort(),
      );
    });
  });

  describe('refund statuses', () => {
    it('every documented refund status is in the table, and maps to ours', () => {
      expect(MERCADOPAGO_REFUND_STATUSES).toEqual({
        approved: 'succeeded',
        in_process: 'pending',
        authorized: 'pending',
        rejected: 'failed',
        cancelled: 'failed',
      });
      for (const [status, ours] of Object.entries(MERCADOPAGO_REFUND_STATUSES)) expect(refundStatusOf({ status })).toBe(ours);
    });

    it('an unknown refund status throws UnknownProviderStatusError', () => {
      expect(() => refundStatusOf({ status: 'reversed' })).toThrow(UnknownProviderStatusError);
      expect(() => refundStatusOf({ status: null })).toThrow(UnknownProviderStatusError);
    });
  });

  describe('notifications', () => {
    it('event id: the notification id, the same on a retry, new for a later change', () => {
      expect(eventIdOf(notificationBody, '1303134840')).toBe('mp_ntf_115000123456');
      expect(eventIdOf({ ...notificationBody }, '1303134840')).toBe(eventIdOf(notificationBody, '1303134840'));
      expect(eventIdOf({ ...notificationBody, id: 115000123457 }, '1303134840')).not.toBe(eventIdOf(notificationBody, '1303134840'));
      expect(eventIdOf({ ...notificationBody, id: undefined }, '1303134840')).toBe(
        'payment:1303134840:payment.updated:2026-11-23T17:51:55.200+00:00',
      );
    });

    it('signature timestamp in seconds (documented) or milliseconds (reported)', () => {
      expect(signatureTimestampMs('ts=1763920315,v1=abc')).toBe(1763920315000);
      expect(signatureTimestampMs('ts=1763920315123,v1=abc')).toBe(1763920315123);
      expect(signatureTimestampMs('v1=abc, ts=1763920315')).toBe(1763920315000);
      expect(signatureTimestampMs('v1=abc')).toBeNull();
      expect(signatureTimestampMs('ts=17x,v1=abc')).toBeNull();
      expect(signatureTimestampMs('ts=1763920315,ts=1700000000,v1=abc')).toBeNull(); // a fresh ts before an old signed one
    });
  });

  describe('at the edge', () => {
    it('minor units → Mercado Pago decimals', () => {
      expect(toMercadoPagoAmount(14990, 'BRL')).toBe(149.9);
      expect(toMercadoPagoAmount(1, 'BRL')).toBe(0.01);
      expect(toMercadoPagoAmount(5000, 'CLP')).toBe(5000);
    });

    it('charge token: `<payment_method_id>:<card token>` or a bare token', () => {
      expect(parseChargeToken('master:9f1c2b3a4d5e6f708192a3b4c5d6e7f8')).toEqual({
        paymentMethodId: 'master',
        cardToken: '9f1c2b3a4d5e6f708192a3b4c5d6e7f8',
      });
      expect(parseChargeToken('9f1c2b3a4d5e6f708192a3b4c5d6e7f8')).toEqual({ cardToken: '9f1c2b3a4d5e6f708192a3b4c5d6e7f8' });
    });

    it('our payment id from an attempt key', () => {
      expect(referenceFromAttemptKey('pay_7Hq2mZ1kLr0aXc9Vb3Nd_2')).toBe('pay_7Hq2mZ1kLr0aXc9Vb3Nd');
      expect(referenceFromAttemptKey('some-key')).toBe('some-key');
    });
  });
});
