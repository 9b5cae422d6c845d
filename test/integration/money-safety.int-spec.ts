import { randomBytes } from 'node:crypto';
import { PaymentJobs } from '../../src/payments/payment-jobs';
import { SimulatorRepository } from '../../src/payments/providers/simulator/simulator.repository';
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
import { chargeEvent, deliverSimulatorEvent } from '../factories/webhooks';

/** Edge cases found in review: each would lose or double money if broken. Charges booked to suspense: money-safety-suspense.int-spec.ts. */
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

  /** A refund made in the simulator's own dashboard (its books, as an outside processor's). */
  const refundAtSimulator = (target: TestApp, chargeId: string, amount: number) =>
    target.app.get(SimulatorRepository).recordRefund({
      id: `sim_re_dash_${randomBytes(6).toString('hex')}`,
      idempotencyKey: `dashboard-${randomBytes(6).toString('hex')}`,
      chargeId,
      amount,
      settleAfterSeconds: null,
    });

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
      /** A payment of 8000 with a refund of ours of 3000 pending at the simulator. */
      const payWithPendingRefund = async () => {
        const paid = await processPayment(app, sk, processBody(productId, 'tok_refundPending'));
        expect(paid.status).toBe(201);
        const ours = (await refundPayment(app, admin, paid.body.id, { amount: 3000 })).body;
        expect(ours).toMatchObject({ status: 'pending', origin: 'api' });
        return { payment: paid.body, ours };
      };
      const reportRefunds = (payment: { id: string; providerRef: string }) =>
        deliverSimulatorEvent(app, 'charge.refunded', chargeEvent(payment.id, payment.providerRef));
      const failAtSimulator = async (refundRef: string) => {
        // Past its settling time too: the simulator must still not count a failed refund as refunded.
        await app.db.query(`UPDATE simulator_refunds SET failed = true, settles_at = now() WHERE id = $1`, [refundRef]);
        await runJob(() => app.app.get(PaymentJobs).recover());
      };
      const recorded = async (paymentId: string) =>
        (await app.db.query(`SELECT amount, status, origin FROM refunds WHERE payment_id = $1 ORDER BY created_at`, [paymentId])).rows;

      // 5000 refunded in the simulator's dashboard while ours is pending there.
      const first = await payWithPendingRefund();
      await refundAtSimulator(app, first.payment.providerRef, 5000);
      await reportRefunds(first.payment);
      // Ours might be part of what the simulator shows refunded: only what it cannot be is booked yet.
      expect(await getPayment(app, sk, first.payment.id)).toMatchObject({ amountRefunded: 2000, amountRefundPending: 3000 });
      // Ours fails there: asked again, the simulator shows 5000 refunded, so the rest was the dashboard's too.
      await failAtSimulator(first.ours.providerRef);
      expect(await getPayment(app, sk, first.payment.id)).toMatchObject({
        status: 'partially_refunded',
        amountRefunded: 5000,
        amountRefundPending: 0,
      });
      await reportRefunds(first.payment); // reported again: nothing more
      expect(await recorded(first.payment.id)).toEqual([
        { amount: 3000, status: 'failed', origin: 'api' },
        { amount: 2000, status: 'succeeded', origin: 'provider' },
        { amount: 3000, status: 'succeeded', origin: 'provider' },
      ]);
      const booked = await app.db.query(
        `SELECT coalesce(sum(amount), 0)::bigint AS refunded FROM ledger_entries WHERE payment_id = $1 AND account = 'refunds'`,
        [first.payment.id],
      );
      expect(booked.rows[0].refunded).toBe(5000);

      // A report while ours is pending, then ours fails: nothing was refunded at all, nothing is booked.
      const second = await payWithPendingRefund();
      await reportRefunds(second.payment);
      await failAtSimulator(second.ours.providerRef);
      await reportRefunds(second.payment); // a late copy of the first report
      expect(await getPayment(app, sk, second.payment.id)).toMatchObject({
        status: 'succeeded',
        amountRefunded: 0,
        amountRefundPending: 0,
      });
      expect(await recorded(second.payment.id)).toEqual([{ amount: 3000, status: 'failed', origin: 'api' }]);

      // A report for a charge no payment holds: its processing fails, so it is retried (then dead-lettered).
      const unknown = await deliverSimulatorEvent(
        app,
        'charge.refunded',
        chargeEvent('cs_nobody', 'sim_ch_nobody'),
        (stored) => stored.last_error !== null,
      );
      expect(unknown).toMatchObject({
        status: 'pending',
        last_error: expect.stringMatching(/No payment holds simulator charge sim_ch_nobody/),
      });
      const totals = await ledgerTotals(app, 'USD');
      expect(totals.debits).toBe(totals.credits);
    } finally {
      await app.close();
    }
  });

  it('a payment that bought a gift card is not refunded while the card stays spendable; refunded at the provider, it is flagged', async () => {
    const bought = await purchaseGiftCard(api, pk, { amount: 2500, currency: 'USD' });
    await fetch(`${bought.body.checkoutSession.url}/pay`, { method: 'POST', redirect: 'manual' });
    const paymentId = bought.body.checkoutSession.paymentId;
    await eventually(async () => (await getPayment(api, sk, paymentId)).status === 'succeeded');
    const refund = await refundPayment(api, admin, paymentId);
    expect(refund.status).toBe(422);
    expect(refund.body.error.code).toBe('gift_card_purchase_not_refundable');
    // Refunded in the simulator's dashboard all the same: booked, and flagged for reconciliation.
    const { providerRef } = await getPayment(api, sk, paymentId);
    await refundAtSimulator(api, providerRef, 2500);
    await deliverSimulatorEvent(api, 'charge.refunded', chargeEvent(paymentId, providerRef, 2500));
    expect(await getPayment(api, sk, paymentId)).toMatchObject({ status: 'refunded', amountRefunded: 2500 });
    const timeline = (await api.http().get(`/transactions/${paymentId}/timeline`).set('X-Api-Key', sk)).body;
    expect(timeline.data).toContainEqual(
      expect.objectContaining({ kind: 'note', detail: { reconcile: expect.any(String), refundId: expect.stringMatching(/^re_/) } }),
    );
  });

  it('money arriving for an expired checkout takes the gift-card part from the card again', async () => {
    const code = await activeCard(3000);
    const session = (await checkoutWithGiftCard(api, pk, productId, code)).body;
    await api.db.query(`UPDATE checkout_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [session.id]);
    await runJob(() => api.app.get(PaymentJobs).expireSessions());
    expect(await balance(code)).toBe(3000);

    // The provider reports the customer's payment of the session's 5000 after all (a late webhook): a
    // charge the simulator made on its page (its books), reported by a signed event.
    const late = `sim_ch_late_${randomBytes(6).toString('hex')}`;
    await api.app.get(SimulatorRepository).recordCharge({
      id: late,
      idempotencyKey: `late-${late}`,
      token: 'tok_visa',
      amount: 5000,
      currency: 'USD',
      status: 'succeeded',
      declineCode: null,
      reference: session.id,
      sessionId: session.providerSessionId,
      merchantId: 'mer_default',
    });
    await deliverSimulatorEvent(api, 'checkout.session.completed', {
      ...chargeEvent(session.id, late, 5000),
      sessionId: session.providerSessionId,
    });

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
