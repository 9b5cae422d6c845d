import { Chargeback, MercadoPagoConfig, MPBadRequestError, Payment } from 'mercadopago';
import type { MercadoPagoChargebackPayload } from '../../src/payments/providers/mercadopago/mercadopago.mapper';
import Stripe from 'stripe';
import { listMercadoPagoTransactions } from '../../src/payments/providers/mercadopago/mercadopago-listing';
import type { ProviderTransaction, TransactionWindow } from '../../src/payments/providers/payment-provider';
import { listSegpayTransactions } from '../../src/payments/providers/segpay/segpay-listing';
import type { SrsTransaction } from '../../src/payments/providers/segpay/segpay.mapper';
import { listStripeTransactions } from '../../src/payments/providers/stripe/stripe-listing';
import { apiBase } from '../../src/payments/providers/stripe/stripe.provider';
import { MercadoPagoEmulator, pointMercadoPagoSdkAt } from './mercadopago-emulator';
import { SegpayEmulator } from './segpay-emulator';
import { StripeEmulator } from './stripe-emulator';

/** Every page of a listing, and the page sizes. */
async function collect(pages: AsyncIterable<ProviderTransaction[]>) {
  const all: ProviderTransaction[] = [];
  const sizes: number[] = [];
  for await (const page of pages) {
    all.push(...page);
    sizes.push(page.length);
  }
  return { all, sizes };
}

/** The reconciliation listings through the real SDKs against the emulators: paging, windows, whose records. */
describe('provider listings for reconciliation (real SDKs against the emulators)', () => {
  describe('Stripe', () => {
    const emulator = new StripeEmulator({ webhookSecret: 'whsec_listing' });
    let stripe: Stripe;

    beforeAll(async () => {
      await emulator.start();
      stripe = new Stripe('sk_test_listing', { ...apiBase(emulator.url), maxNetworkRetries: 0 });
    });
    afterAll(() => emulator.stop());

    const intent = (merchantId: string | null, amount = 1000) =>
      stripe.paymentIntents.create({
        amount,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        ...(merchantId ? { metadata: { merchant_id: merchantId, reference: `pay_${amount}` } } : {}),
      });

    it('pages through every PaymentIntent, refund and dispute of the window (auto-pagination, 100 a page), one merchant at a time', async () => {
      const from = new Date(Math.floor(Date.now() / 1000) * 1000);
      const ours: string[] = [];
      for (let i = 0; i < 230; i++) ours.push((await intent('mer_a', 1000 + i)).id);
      await intent('mer_b');
      const stray = await intent(null, 4200);
      await stripe.refunds.create({ payment_intent: ours[0], amount: 300 });
      const dispute = await emulator.createDispute(ours[1]);
      const window: TransactionWindow = { from, to: new Date(Date.now() + 1000), merchantId: 'mer_a' };

      const { all, sizes } = await collect(listStripeTransactions(stripe, window));
      expect(sizes).toEqual([100, 100, 30, 1, 1]);
      const charges = all.filter((t) => t.kind === 'charge');
      expect(charges.map((c) => c.providerRef).sort()).toEqual([...ours].sort());
      expect(charges.find((c) => c.providerRef === ours[0])).toMatchObject({
        status: 'succeeded',
        amount: 1000,
        amountRefunded: 300,
        currency: 'USD',
        reference: 'pay_1000',
        merchantId: 'mer_a',
      });
      expect(all.filter((t) => t.kind === 'refund')).toEqual([
        expect.objectContaining({ kind: 'refund', status: 'succeeded', amount: 300, reference: ours[0], merchantId: 'mer_a' }),
      ]);
      expect(all.filter((t) => t.kind === 'dispute')).toEqual([
        expect.objectContaining({ providerRef: dispute.id, status: 'needs_response', amount: 1001, reference: ours[1] }),
      ]);
      // A charge made without our metadata is the platform merchant's, and only its.
      const platform = await collect(listStripeTransactions(stripe, { ...window, merchantId: 'mer_default' }));
      expect(platform.all.map((t) => t.providerRef)).toEqual([stray.id]);
      // A window that ended before: nothing.
      expect(
        (await collect(listStripeTransactions(stripe, { from: new Date(from.getTime() - 60_000), to: new Date(from.getTime() - 1000) })))
          .all,
      ).toEqual([]);
    });

    it('lists disputes strictly: unknown parameters and limits past 100 are refused', async () => {
      await expect(stripe.disputes.list({ limit: 101 })).rejects.toThrow(/between 1 and 100/);
      await expect(stripe.disputes.list({ status: 'won' } as Stripe.DisputeListParams)).rejects.toThrow(
        /Received unknown parameter: status/,
      );
    });
  });

  describe('Mercado Pago', () => {
    const ACCESS_TOKEN = 'TEST-listing';
    const emulator = new MercadoPagoEmulator({ webhookSecret: 'mp-listing', accessToken: ACCESS_TOKEN });
    const config = new MercadoPagoConfig({ accessToken: ACCESS_TOKEN });
    let restore: () => void;

    beforeAll(async () => {
      restore = pointMercadoPagoSdkAt(await emulator.start());
    });
    afterAll(async () => {
      restore();
      await emulator.stop();
    });

    const cardToken = async (): Promise<string> => {
      const res = await fetch(`${emulator.url}/v1/card_tokens`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          card_number: '5031433215406351',
          expiration_month: '11',
          expiration_year: '2030',
          security_code: '123',
          cardholder: { name: 'APRO' },
        }),
      });
      return ((await res.json()) as { id: string }).id;
    };
    const payment = async (merchantId: string | null, amount = 10) =>
      new Payment(config).create({
        body: {
          transaction_amount: amount,
          token: await cardToken(),
          payment_method_id: 'master',
          installments: 1,
          payer: { email: 'buyer@example.com' },
          ...(merchantId ? { metadata: { merchant_id: merchantId }, external_reference: `pay_${amount}` } : {}),
        },
      });
    const search = (options: object) => new Payment(config).search({ options: options as Record<string, string> });
    const chargebacks = async (paymentId: string) =>
      ((await new Chargeback(config).search({ options: { payment_id: Number(paymentId) } })).results ??
        []) as MercadoPagoChargebackPayload[];

    it('searches by date, oldest first, and starts again past its paging depth without listing a payment twice', async () => {
      const from = new Date();
      const ours: string[] = [];
      for (let i = 0; i < 47; i++) ours.push(String((await payment('mer_a', 10 + i)).id));
      const stray = await payment(null, 42);
      const window: TransactionWindow = { from, to: new Date(Date.now() + 1), merchantId: 'mer_a' };
      // Pages of 10, at most 30 deep: the search begins again from the last date_created seen, twice.
      const { all } = await collect(listMercadoPagoTransactions(search, chargebacks, window, { pageSize: 10, maxDepth: 30 }));
      expect(all.map((t) => t.providerRef)).toEqual(ours);
      expect(all[0]).toMatchObject({
        kind: 'charge',
        status: 'succeeded',
        amount: 1000,
        currency: 'BRL',
        reference: 'pay_10',
        merchantId: 'mer_a',
      });
      const platform = await collect(listMercadoPagoTransactions(search, chargebacks, { ...window, merchantId: 'mer_default' }));
      expect(platform.all.map((t) => t.providerRef)).toEqual([String(stray.id)]);
    });

    it('lists a payment with its refunds', async () => {
      const from = new Date();
      const paid = await payment('mer_r', 50);
      await fetch(`${emulator.url}/v1/payments/${paid.id}/refunds`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, 'Content-Type': 'application/json', 'X-Idempotency-Key': `r-${paid.id}` },
        body: JSON.stringify({ amount: 12.5 }),
      });
      const { all } = await collect(
        listMercadoPagoTransactions(search, chargebacks, { from, to: new Date(Date.now() + 1), merchantId: 'mer_r' }),
      );
      expect(all).toEqual([
        expect.objectContaining({ kind: 'charge', amount: 5000, amountRefunded: 1250 }),
        expect.objectContaining({ kind: 'refund', status: 'succeeded', amount: 1250, reference: String(paid.id) }),
      ]);
    });

    it('refuses a search past its limits', async () => {
      await expect(search({ limit: 1001 })).rejects.toBeInstanceOf(MPBadRequestError);
      await expect(search({ limit: 1000, offset: 9001 })).rejects.toBeInstanceOf(MPBadRequestError);
      await expect(search({ begin_date: 'yesterday', end_date: 'NOW' })).rejects.toBeInstanceOf(MPBadRequestError);
      await expect(search({ range: 'date_of_birth' })).rejects.toBeInstanceOf(MPBadRequestError);
      // Chargebacks are searched by payment only, 100 at most a page.
      await expect(new Chargeback(config).search({ options: {} })).rejects.toBeInstanceOf(MPBadRequestError);
      await expect(new Chargeback(config).search({ options: { payment_id: 1, limit: 101 } })).rejects.toBeInstanceOf(MPBadRequestError);
    });
  });

  describe('Segpay', () => {
    const SRS = { MerchantID: 'seg-listing', UserID: 'seg-user', UserAccessKey: 'seg-key' };
    const emulator = new SegpayEmulator({ merchantId: SRS.MerchantID, userId: SRS.UserID, userAccessKey: SRS.UserAccessKey });
    const report = async (params: Record<string, string>) => {
      const url = new URL(`${emulator.url}/srs/transactions`);
      for (const [k, v] of Object.entries({ ...SRS, ...params })) url.searchParams.set(k, v);
      const res = await fetch(url);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    /** The merchant named in the custom fields (the provider verifies their signature; this test does not). */
    const owner = (t: SrsTransaction) =>
      t.custom?.paybridge_merchant ? { merchant: t.custom.paybridge_merchant, session: 'cs_listing' } : null;

    beforeAll(async () => {
      await emulator.start();
      emulator.addPricePoint({ packageId: '197001', pricePointId: '26001', initialPrice: 29.99 });
    });
    afterAll(() => emulator.stop());

    it('pages through the SRS report after the last transaction seen: sales, credits and chargebacks, one merchant at a time', async () => {
      const from = new Date();
      const page = (merchant?: string) =>
        `${emulator.url}/billing/poset.cgi?x-eticketid=197001:26001${merchant ? `&paybridge_merchant=${merchant}` : ''}`;
      const sales: string[] = [];
      for (let i = 0; i < 23; i++) sales.push((await emulator.completePurchase(page('mer_s'))).transaction.tranId);
      const stray = (await emulator.completePurchase(page())).transaction.tranId;
      const refund = new URL(`${emulator.url}/srs/transactions/${sales[0]}/refund`);
      for (const [k, v] of Object.entries({ ...SRS, Amount: '9.99' })) refund.searchParams.set(k, v);
      expect((await fetch(refund, { method: 'POST' })).status).toBe(200);
      const chargeback = await emulator.chargeback(sales[1]);
      const window: TransactionWindow = { from, to: new Date(Date.now() + 1), merchantId: 'mer_s' };

      const { all, sizes } = await collect(listSegpayTransactions(report, window, owner, 10));
      expect(sizes).toEqual([10, 10, 5]);
      expect(all.filter((t) => t.kind === 'charge').map((t) => t.providerRef)).toEqual(sales);
      expect(all.find((t) => t.providerRef === sales[0])).toMatchObject({
        kind: 'charge',
        status: 'succeeded',
        amount: 2999,
        amountRefunded: 999,
        currency: 'USD',
        reference: 'cs_listing',
        merchantId: 'mer_s',
      });
      expect(all.filter((t) => t.kind !== 'charge')).toEqual([
        expect.objectContaining({ kind: 'refund', status: 'succeeded', amount: 999, reference: sales[0] }),
        expect.objectContaining({ kind: 'dispute', providerRef: chargeback.tranId, status: 'lost', amount: 2999, reference: sales[1] }),
      ]);
      const platform = await collect(listSegpayTransactions(report, { ...window, merchantId: 'mer_default' }, owner));
      expect(platform.all.map((t) => t.providerRef)).toEqual([stray]);
    });

    it('refuses a report past its limits', async () => {
      const range = { StartDate: '2026-01-01', EndDate: '2026-01-02' };
      expect((await report({ ...range, Limit: '1001' })).status).toBe(400);
      expect((await report({ ...range, StartAfter: 'nosuchtran' })).status).toBe(400);
      expect((await report({ StartDate: '2026-01-02', EndDate: '2026-01-01' })).status).toBe(400);
      expect((await report({ ...range, Type: 'refund' })).status).toBe(400);
    });
  });
});
