import { createHmac, randomBytes } from 'node:crypto';
import { PaymentJobs } from '../../src/payments/payment-jobs';
import { SimulatorRepository } from '../../src/payments/providers/simulator/simulator.repository';
import { RefundsService } from '../../src/payments/refunds.service';
import { activeGiftCard, checkoutWithGiftCard, purchaseGiftCard } from '../factories/gift-cards';
import {
  createProduct,
  eventually,
  ledgerTotals,
  newKey,
  processBody,
  processPayment,
  refundPayment,
  runJob,
  getPayment,
} from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** Edge cases found in review: each would lose or double money if broken. */
describe('money safety edge cases (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { CIRCUIT_FAILURE_THRESHOLD: '1000' });
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin, { prices: [{ currency: 'USD', amount: 8000 }] })).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const balance = async (code: string) => (await api.http().get(`/gift-cards/${code}/balance`).set('X-Api-Key', pk)).body.balance;
  const activeCard = (amount: number) => activeGiftCard(api, pk, amount);

  it('an admin retry of a failed payment charges at most once, whatever the keys', async () => {
    const down = await startTestApp(dbUrl, { SIMULATOR_OUTAGE: 'true', CIRCUIT_FAILURE_THRESHOLD: '1000' });
    let failedId: string;
    try {
      const failed = await processPayment(down, sk, processBody(productId, 'tok_visa'));
      expect(failed.status).toBe(503);
      failedId = (await api.db.query(`SELECT id FROM payments ORDER BY created_at DESC LIMIT 1`)).rows[0].id;
    } finally {
      await down.close();
    }
    const first = await api.http().post(`/admin/retry-payment/${failedId}`).set('X-Api-Key', admin).set('Idempotency-Key', newKey());
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'succeeded', retryOf: failedId });
    const second = await api.http().post(`/admin/retry-payment/${failedId}`).set('X-Api-Key', admin).set('Idempotency-Key', newKey());
    expect(second.status).toBe(409);
    const charges = await api.db.query(`SELECT count(*)::int AS n FROM payments WHERE retry_of = $1 AND status = 'succeeded'`, [failedId]);
    expect(charges.rows[0].n).toBe(1);
  });

  it('refunds the provider settles later are booked each when the provider reports that one, failed ones released, none sent twice', async () => {
    const app = await startTestApp(dbUrl, { RECOVERY_MIN_AGE_SECONDS: '0', SIMULATOR_REFUND_SETTLE_SECONDS: '3600' });
    const recover = () => runJob(() => app.app.get(PaymentJobs).recover());
    try {
      const paid = await processPayment(app, sk, processBody(productId, 'tok_refundPending'));
      expect(paid.status).toBe(201);
      const paymentId = paid.body.id;
      const refund = (amount: number, key: string) => refundPayment(app, admin, paymentId, { amount }, key);
      const keyA = newKey();
      const a = (await refund(1000, keyA)).body;
      const b = (await refund(2000, newKey())).body;
      const c = (await refund(500, newKey())).body;
      for (const pending of [a, b, c]) {
        expect(pending).toMatchObject({ status: 'pending' });
        expect(pending.providerRef).toMatch(/^sim_re_/);
      }
      expect((await refund(1000, keyA)).body).toEqual(a); // the replay: still the pending answer

      const payment = () => getPayment(app, sk, paymentId);
      const count = async (sql: string, param: string) => (await app.db.query<{ n: number }>(sql, [param])).rows[0].n;
      const refundPostings = () =>
        count(`SELECT count(*)::int AS n FROM ledger_entries WHERE payment_id = $1 AND kind = 'refund'`, paymentId);
      const sentToSimulator = () => count(`SELECT count(*)::int AS n FROM simulator_refunds WHERE charge_id = $1`, paid.body.providerRef);
      const statusOf = async (id: string) =>
        (await app.db.query<{ status: string }>(`SELECT status FROM refunds WHERE id = $1`, [id])).rows[0].status;
      const atSimulator = (id: string, change: string) => app.db.query(`UPDATE simulator_refunds SET ${change} WHERE id = $1`, [id]);

      // Nothing settled at the provider: nothing booked, the amounts held, asked about but not sent again.
      expect(await payment()).toMatchObject({ status: 'succeeded', amountRefunded: 0, amountRefundPending: 3500 });
      await recover();
      expect([await statusOf(a.id), await statusOf(b.id), await statusOf(c.id)]).toEqual(['pending', 'pending', 'pending']);
      expect(await refundPostings()).toBe(0);

      // The provider settles B and fails C; A is still pending there: each is booked by its own state.
      await atSimulator(b.providerRef, 'settles_at = now()');
      await atSimulator(c.providerRef, 'failed = true');
      await recover();
      expect([await statusOf(a.id), await statusOf(b.id), await statusOf(c.id)]).toEqual(['pending', 'succeeded', 'failed']);
      expect(await payment()).toMatchObject({ status: 'partially_refunded', amountRefunded: 2000, amountRefundPending: 1000 });
      expect(await refundPostings()).toBe(2);

      await atSimulator(a.providerRef, 'settles_at = now()');
      await recover();
      await recover();
      expect(await statusOf(a.id)).toBe('succeeded');
      expect(await payment()).toMatchObject({ amountRefunded: 3000, amountRefundPending: 0 });
      expect(await refundPostings()).toBe(4);
      expect(await sentToSimulator()).toBe(3);
      const totals = await ledgerTotals(app, 'USD');
      expect(totals.debits).toBe(totals.credits);
    } finally {
      await app.close();
    }
  });

  it('a refund made at the provider while one of ours was in flight is booked when ours fails, one that was ours is not', async () => {
    const app = await startTestApp(dbUrl, { RECOVERY_MIN_AGE_SECONDS: '0', SIMULATOR_REFUND_SETTLE_SECONDS: '3600' });
    try {
      const refunds = app.app.get(RefundsService);
      /** A payment of 8000 with a refund of ours of 3000 pending at the simulator. */
      const payWithPendingRefund = async () => {
        const paid = await processPayment(app, sk, processBody(productId, 'tok_refundPending'));
        expect(paid.status).toBe(201);
        const ours = (await refundPayment(app, admin, paid.body.id, { amount: 3000 })).body;
        expect(ours).toMatchObject({ status: 'pending' });
        return { payment: paid.body, ours };
      };
      /** The provider's report of the charge's refunded total, as its webhook would bring it. */
      const report = (providerRef: string, amountRefunded: number) =>
        refunds.applyProviderEvent('simulator', {
          eventId: `evt_${randomBytes(6).toString('hex')}`,
          type: 'charge.refunded',
          kind: 'payment.refunded',
          merchantId: 'mer_default',
          providerRef,
          amountRefunded,
          currency: 'USD',
          payload: {},
        });
      const failAtSimulator = async (refundRef: string) => {
        // Past its settling time too: the simulator must still not count a failed refund as refunded.
        await app.db.query(`UPDATE simulator_refunds SET failed = true, settles_at = now() WHERE id = $1`, [refundRef]);
        await runJob(() => app.app.get(PaymentJobs).recover());
      };
      const recorded = async (paymentId: string) =>
        (await app.db.query(`SELECT amount, status, reason FROM refunds WHERE payment_id = $1 ORDER BY created_at`, [paymentId])).rows;

      // 5000 refunded in the simulator's dashboard while ours is pending: its report counts only that.
      const first = await payWithPendingRefund();
      await app.app.get(SimulatorRepository).recordRefund({
        id: `sim_re_dash_${randomBytes(6).toString('hex')}`,
        idempotencyKey: `dashboard-${first.payment.id}`,
        chargeId: first.payment.providerRef,
        amount: 5000,
        settleAfterSeconds: null,
      });
      await report(first.payment.providerRef, 5000);
      // Ours might be part of that report: only what it cannot be is booked yet.
      expect(await getPayment(app, sk, first.payment.id)).toMatchObject({ amountRefunded: 2000, amountRefundPending: 3000 });
      // Ours fails there: asked again, the simulator shows 5000 refunded, so the rest was the dashboard's too.
      await failAtSimulator(first.ours.providerRef);
      expect(await getPayment(app, sk, first.payment.id)).toMatchObject({
        status: 'partially_refunded',
        amountRefunded: 5000,
        amountRefundPending: 0,
      });
      await report(first.payment.providerRef, 5000); // the same total again: nothing more
      await report(first.payment.providerRef, 4000); // an older one: nothing more
      expect(await recorded(first.payment.id)).toEqual([
        { amount: 3000, status: 'failed', reason: null },
        { amount: 2000, status: 'succeeded', reason: 'refunded at the provider' },
        { amount: 3000, status: 'succeeded', reason: 'refunded at the provider' },
      ]);
      const booked = await app.db.query(
        `SELECT coalesce(sum(amount), 0)::bigint AS refunded FROM ledger_entries WHERE payment_id = $1 AND account = 'refunds'`,
        [first.payment.id],
      );
      expect(booked.rows[0].refunded).toBe(5000);

      // A provider whose report counted our pending refund: when ours fails, nothing was refunded at all.
      const second = await payWithPendingRefund();
      await report(second.payment.providerRef, 3000);
      await failAtSimulator(second.ours.providerRef);
      expect(await getPayment(app, sk, second.payment.id)).toMatchObject({
        status: 'succeeded',
        amountRefunded: 0,
        amountRefundPending: 0,
      });
      expect(await recorded(second.payment.id)).toEqual([{ amount: 3000, status: 'failed', reason: null }]);

      // Reports that cannot apply: for a charge no payment holds, or in another currency: kept for a retry.
      await expect(report('sim_ch_nobody', 100)).rejects.toThrow(/No payment holds simulator charge sim_ch_nobody/);
      await expect(
        refunds.applyProviderEvent('simulator', {
          eventId: 'evt_brl',
          type: 'charge.refunded',
          kind: 'payment.refunded',
          merchantId: 'mer_default',
          providerRef: first.payment.providerRef,
          amountRefunded: 6000,
          currency: 'BRL',
          payload: {},
        }),
      ).rejects.toThrow(/in BRL, payment .* is in USD/);
      const totals = await ledgerTotals(app, 'USD');
      expect(totals.debits).toBe(totals.credits);
    } finally {
      await app.close();
    }
  });

  it('a payment that bought a gift card is not refunded while the card stays spendable', async () => {
    const bought = await purchaseGiftCard(api, pk, { amount: 2500, currency: 'USD' });
    await fetch(`${bought.body.checkoutSession.url}/pay`, { method: 'POST', redirect: 'manual' });
    const paymentId = bought.body.checkoutSession.paymentId;
    await eventually(async () => (await getPayment(api, sk, paymentId)).status === 'succeeded');
    const refund = await refundPayment(api, admin, paymentId);
    expect(refund.status).toBe(422);
    expect(refund.body.error.code).toBe('gift_card_purchase_not_refundable');
  });

  /** Posts a signed simulator event, as the simulator sends it, and waits until Paybridge has processed it. */
  const deliverSimulatorEvent = async (type: string, data: Record<string, unknown>) => {
    const event = { id: `evt_sim_${randomBytes(8).toString('hex')}`, type, created: Math.floor(Date.now() / 1000), data };
    const body = JSON.stringify(event);
    const signature = createHmac('sha256', 'whsec_simulator_dev').update(body).digest('hex');
    const res = await api
      .http()
      .post('/webhooks/simulator')
      .set('Content-Type', 'application/json')
      .set('X-Signature', signature)
      .send(body);
    expect(res.status).toBe(200);
    await eventually(async () => {
      const { rows } = await api.db.query<{ status: string }>(
        `SELECT status FROM payment_webhook_events WHERE provider = 'simulator' AND event_id = $1`,
        [event.id],
      );
      return rows[0]?.status === 'processed';
    });
  };
  const suspense = async () => {
    const res = await api.http().get('/admin/ledger/balance?currency=USD').set('X-Api-Key', admin);
    expect(res.body.balanced).toBe(true);
    return res.body.accounts.find((a: { account: string }) => a.account === 'suspense')?.balance ?? 0;
  };
  /** A direct payment with this token, as stored, and the data of a simulator event about its charge. */
  const payWith = async (token: string, status: number) => {
    const key = `charge-${randomBytes(6).toString('hex')}`;
    expect((await processPayment(api, sk, processBody(productId, token), key)).status).toBe(status);
    const { rows } = await api.db.query<{ id: string; provider_ref: string }>(
      `SELECT id, provider_ref FROM payments WHERE idempotency_key = $1`,
      [key],
    );
    const payment = rows[0];
    const charge = {
      merchantId: 'mer_default',
      reference: payment.id,
      sessionId: null,
      chargeId: payment.provider_ref,
      amount: 8000,
      currency: 'USD',
    };
    return { payment, charge };
  };

  it('books, once, to suspense a charge the provider reports for a closed payment or a second charge, and releases it as the provider refunds it', async () => {
    const before = await suspense();
    // Declined: the payment is failed and booked nothing. Then the provider reports its charge succeeded.
    const { payment: declined, charge: late } = await payWith('tok_chargeDeclined', 402);
    await deliverSimulatorEvent('charge.succeeded', late);
    expect(await suspense()).toBe(before - 8000); // a credit: owed to the customer
    // The payment stays failed (never backwards), and its timeline says what was booked.
    expect(await getPayment(api, sk, declined.id)).toMatchObject({ status: 'failed' });
    const timeline = (await api.http().get(`/transactions/${declined.id}/timeline`).set('X-Api-Key', sk)).body;
    expect(timeline.data).toContainEqual(
      expect.objectContaining({
        kind: 'note',
        detail: { reconcile: expect.any(String), suspense: { providerRef: declined.provider_ref, amount: 8000, currency: 'USD' } },
      }),
    );
    // The same charge reported again (another event id): nothing more is booked.
    await deliverSimulatorEvent('charge.succeeded', late);
    expect(await suspense()).toBe(before - 8000);

    // Paid by one charge, then the provider reports a second charge for the same payment.
    const { payment: paid, charge: own } = await payWith('tok_visa', 201);
    await deliverSimulatorEvent('charge.succeeded', own); // its own charge, repeated: nothing to book
    expect(await suspense()).toBe(before - 8000);
    const second = `sim_ch_second_${randomBytes(6).toString('hex')}`;
    await deliverSimulatorEvent('charge.succeeded', { ...own, chargeId: second });
    expect(await suspense()).toBe(before - 16000);
    expect(await getPayment(api, sk, paid.id)).toMatchObject({ status: 'succeeded', providerRef: paid.provider_ref });

    // Refunded at the provider (its reports give the charge's refunded total): each leaves suspense, as far
    // as it went back, once per total; never more than was held; the payments do not change.
    const refundedAtProvider = (payment: { id: string }, providerRef: string, amountRefunded: number) =>
      api.app.get(RefundsService).applyProviderEvent('simulator', {
        eventId: `evt_${randomBytes(6).toString('hex')}`,
        type: 'charge.refunded',
        kind: 'payment.refunded',
        merchantId: 'mer_default',
        providerRef,
        reference: payment.id,
        amountRefunded,
        currency: 'USD',
        payload: {},
      });
    await refundedAtProvider(declined, declined.provider_ref, 3000);
    await refundedAtProvider(declined, declined.provider_ref, 3000);
    expect(await suspense()).toBe(before - 13000);
    await refundedAtProvider(declined, declined.provider_ref, 9000);
    expect(await suspense()).toBe(before - 8000);
    await refundedAtProvider(paid, second, 8000);
    expect(await suspense()).toBe(before);
    expect(await getPayment(api, sk, declined.id)).toMatchObject({ status: 'failed', amountRefunded: 0 });
    expect(await getPayment(api, sk, paid.id)).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    // A charge of the payment's that is neither its own nor in suspense: kept for someone to reconcile.
    await expect(refundedAtProvider(paid, 'sim_ch_unknown', 100)).rejects.toThrow(/was not paid by simulator charge sim_ch_unknown/);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('money arriving for an expired checkout takes the gift-card part from the card again', async () => {
    const code = await activeCard(3000);
    const session = (await checkoutWithGiftCard(api, pk, productId, code)).body;
    await api.db.query(`UPDATE checkout_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [session.id]);
    await runJob(() => api.app.get(PaymentJobs).expireSessions());
    expect(await balance(code)).toBe(3000);

    // The provider reports the customer's payment of the session's 5000 after all (a late webhook).
    const event = {
      id: `evt_sim_late_${randomBytes(6).toString('hex')}`,
      type: 'checkout.session.completed',
      created: Math.floor(Date.now() / 1000),
      data: {
        merchantId: 'mer_default',
        reference: session.id,
        sessionId: session.providerSessionId,
        chargeId: `sim_ch_late_${randomBytes(6).toString('hex')}`,
        amount: 5000,
        currency: 'USD',
      },
    };
    const body = JSON.stringify(event);
    const signature = createHmac('sha256', 'whsec_simulator_dev').update(body).digest('hex');
    expect(
      (await api.http().post('/webhooks/simulator').set('Content-Type', 'application/json').set('X-Signature', signature).send(body))
        .status,
    ).toBe(200);

    const completed = await eventually(async () => {
      const s = (await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', pk)).body;
      return s.status === 'complete' ? s : undefined;
    });
    const payment = await getPayment(api, sk, completed.paymentId);
    expect(payment).toMatchObject({ status: 'succeeded', amount: 8000, giftCardAmount: 3000 });
    expect(await balance(code)).toBe(0);
    const held = await api.http().get('/admin/ledger/balance?currency=USD').set('X-Api-Key', admin);
    expect(held.body.balanced).toBe(true);
    expect(held.body.accounts.find((a: { account: string }) => a.account === 'gift_card_held')?.balance ?? 0).toBe(0);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });
});
