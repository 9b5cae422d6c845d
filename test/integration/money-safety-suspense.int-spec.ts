import { randomBytes } from 'node:crypto';
import { SimulatorRepository } from '../../src/payments/providers/simulator/simulator.repository';
import { createProduct, newKey, processBody, processPayment, getPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { chargeEvent, deliverSimulatorEvent } from '../factories/webhooks';

/** Edge cases found in review: each would lose or double money if broken. Charges booked to suspense (the rest: money-safety.int-spec.ts). */
describe('money safety edge cases: suspense (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { CIRCUIT_FAILURE_THRESHOLD: '1000' });
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin, { prices: [{ currency: 'USD', amount: 8000 }] })).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  /** A refund made in the simulator's own dashboard (its books, as an outside processor's). */
  const refundAtSimulator = (target: TestApp, chargeId: string, amount: number) =>
    target.app.get(SimulatorRepository).recordRefund({
      id: `sim_re_dash_${randomBytes(6).toString('hex')}`,
      idempotencyKey: `dashboard-${randomBytes(6).toString('hex')}`,
      chargeId,
      amount,
      settleAfterSeconds: null,
    });
  /** A charge the simulator made that no payment of ours accounts for (a late or second charge). */
  const chargeAtSimulator = async (target: TestApp, reference: string, token = 'tok_visa') => {
    const id = `sim_ch_late_${randomBytes(6).toString('hex')}`;
    await target.app.get(SimulatorRepository).recordCharge({
      id,
      idempotencyKey: `late-${id}`,
      token,
      amount: 8000,
      currency: 'USD',
      status: 'succeeded',
      declineCode: null,
      reference,
      sessionId: null,
      merchantId: 'mer_default',
    });
    return id;
  };
  const suspense = async () => {
    const res = await api.http().get('/admin/ledger/balance?currency=USD').set('X-Api-Key', admin);
    expect(res.body.balanced).toBe(true);
    return res.body.accounts.find((a: { account: string }) => a.account === 'suspense')?.balance ?? 0;
  };
  /** A direct payment with this token, as stored. */
  const payWith = async (token: string, status: number) => {
    const key = `charge-${randomBytes(6).toString('hex')}`;
    expect((await processPayment(api, sk, processBody(productId, token), key)).status).toBe(status);
    const { rows } = await api.db.query<{ id: string; provider_ref: string }>(
      `SELECT id, provider_ref FROM payments WHERE idempotency_key = $1`,
      [key],
    );
    return rows[0];
  };

  it('books, once, to suspense a charge the provider reports for a closed payment or a second charge, and releases it as the provider refunds it', async () => {
    const before = await suspense();
    // Declined: the payment is failed and booked nothing. Then the provider reports a charge for it.
    const declined = await payWith('tok_chargeDeclined', 402);
    const late = await chargeAtSimulator(api, declined.id);
    await deliverSimulatorEvent(api, 'charge.succeeded', chargeEvent(declined.id, late));
    expect(await suspense()).toBe(before - 8000); // a credit: owed to the customer
    // The payment stays failed (never backwards), and its timeline says what was booked.
    expect(await getPayment(api, sk, declined.id)).toMatchObject({ status: 'failed' });
    const timeline = (await api.http().get(`/transactions/${declined.id}/timeline`).set('X-Api-Key', sk)).body;
    expect(timeline.data).toContainEqual(
      expect.objectContaining({
        kind: 'note',
        detail: { reconcile: expect.any(String), suspense: { providerRef: late, amount: 8000, currency: 'USD' } },
      }),
    );
    // The same charge reported again (another event id): nothing more is booked.
    await deliverSimulatorEvent(api, 'charge.succeeded', chargeEvent(declined.id, late));
    expect(await suspense()).toBe(before - 8000);

    // Paid by one charge, then the provider reports a second charge for the same payment.
    const paid = await payWith('tok_visa', 201);
    await deliverSimulatorEvent(api, 'charge.succeeded', chargeEvent(paid.id, paid.provider_ref)); // its own: nothing to book
    expect(await suspense()).toBe(before - 8000);
    const second = await chargeAtSimulator(api, paid.id);
    await deliverSimulatorEvent(api, 'charge.succeeded', chargeEvent(paid.id, second));
    expect(await suspense()).toBe(before - 16000);
    expect(await getPayment(api, sk, paid.id)).toMatchObject({ status: 'succeeded', providerRef: paid.provider_ref });

    // Refunded at the provider: each leaves suspense as far as it went back, once; the payments do not change.
    await refundAtSimulator(api, late, 3000);
    await deliverSimulatorEvent(api, 'charge.refunded', chargeEvent(declined.id, late));
    await deliverSimulatorEvent(api, 'charge.refunded', chargeEvent(declined.id, late));
    expect(await suspense()).toBe(before - 13000);
    await refundAtSimulator(api, late, 5000);
    await deliverSimulatorEvent(api, 'charge.refunded', chargeEvent(declined.id, late));
    expect(await suspense()).toBe(before - 8000);
    await refundAtSimulator(api, second, 8000);
    await deliverSimulatorEvent(api, 'charge.refunded', chargeEvent(paid.id, second));
    expect(await suspense()).toBe(before);
    expect(await getPayment(api, sk, declined.id)).toMatchObject({ status: 'failed', amountRefunded: 0 });
    expect(await getPayment(api, sk, paid.id)).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    const released = await api.db.query(
      `SELECT account, direction, sum(amount)::bigint AS amount FROM ledger_entries
        WHERE payment_id = ANY($1) AND kind = 'suspense_refund' GROUP BY account, direction ORDER BY account`,
      [[declined.id, paid.id]],
    );
    expect(released.rows).toEqual([
      { account: 'receivable:simulator', direction: 'credit', amount: 16000 },
      { account: 'suspense', direction: 'debit', amount: 16000 },
    ]);
  });

  describe('an admin gives back a charge booked to suspense', () => {
    const inSuspense = async (token = 'tok_visa') => {
      const declined = await payWith('tok_chargeDeclined', 402);
      const late = await chargeAtSimulator(api, declined.id, token);
      await deliverSimulatorEvent(api, 'charge.succeeded', chargeEvent(declined.id, late));
      return { declined, late };
    };
    const giveBack = (paymentId: string, body: object, key = newKey()) =>
      api
        .http()
        .post(`/admin/transactions/${paymentId}/refund-unmatched-charge`)
        .set('X-Api-Key', admin)
        .set('Idempotency-Key', key)
        .send(body);
    const sentToSimulator = async (chargeId: string) =>
      (await api.db.query(`SELECT amount FROM simulator_refunds WHERE charge_id = $1 ORDER BY created_at`, [chargeId])).rows.map((r) =>
        Number(r.amount),
      );

    it('refunded at its provider once, released from suspense, the payment unchanged', async () => {
      const before = await suspense();
      const { declined, late } = await inSuspense();
      expect(await suspense()).toBe(before - 8000);
      const res = await giveBack(declined.id, { provider: 'simulator', providerRef: late });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        paymentId: declined.id,
        provider: 'simulator',
        providerRef: late,
        held: 8000,
        released: 8000,
        currency: 'USD',
        status: 'released',
      });
      expect(await sentToSimulator(late)).toEqual([8000]);
      expect(await suspense()).toBe(before);
      // Asked again (another key): nothing is held any more, so nothing is sent or booked.
      expect((await giveBack(declined.id, { provider: 'simulator', providerRef: late })).body).toMatchObject({ status: 'released' });
      expect(await sentToSimulator(late)).toEqual([8000]);
      expect(await suspense()).toBe(before);
      expect(await getPayment(api, sk, declined.id)).toMatchObject({ status: 'failed', amountRefunded: 0 });
      const timeline = (await api.http().get(`/transactions/${declined.id}/timeline`).set('X-Api-Key', sk)).body;
      expect(timeline.data).toContainEqual(
        expect.objectContaining({ kind: 'note', detail: { suspense: 'refunded at the provider', providerRef: late, refunded: 8000 } }),
      );

      // A charge not in suspense, and a request that names no provider.
      const unknown = await giveBack(declined.id, { provider: 'simulator', providerRef: 'sim_ch_unknown' });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('unmatched_charge_not_found');
      const invalid = await giveBack(declined.id, { providerRef: late });
      expect(invalid.status).toBe(400);
      expect(invalid.body.error.param).toBe('provider');
      expect(await sentToSimulator(late)).toEqual([8000]);
    });

    it('a refund made at the provider meanwhile (its report not in yet) is released first; only the rest is refunded', async () => {
      const before = await suspense();
      const { declined, late } = await inSuspense();
      await refundAtSimulator(api, late, 3000);
      const res = await giveBack(declined.id, { provider: 'simulator', providerRef: late });
      expect(res.body).toMatchObject({ held: 8000, released: 8000, status: 'released' });
      expect(await sentToSimulator(late)).toEqual([3000, 5000]);
      expect(await suspense()).toBe(before);
    });

    it('a refund the provider settles later stays pending; asked again it is not sent again, and is released once settled', async () => {
      const before = await suspense();
      const { declined, late } = await inSuspense('tok_refundPending');
      const first = await giveBack(declined.id, { provider: 'simulator', providerRef: late });
      expect(first.body).toMatchObject({ held: 8000, released: 0, status: 'pending' });
      // Concurrent and repeated requests (other keys) derive the same provider key: one refund.
      const again = await Promise.all([1, 2, 3].map(() => giveBack(declined.id, { provider: 'simulator', providerRef: late })));
      for (const res of again) expect(res.body).toMatchObject({ released: 0, status: 'pending' });
      expect(await sentToSimulator(late)).toEqual([8000]);
      expect(await suspense()).toBe(before - 8000);
      // The simulator settles it: the next request releases it and sends nothing.
      await api.db.query(`UPDATE simulator_refunds SET settles_at = now() WHERE charge_id = $1`, [late]);
      expect((await giveBack(declined.id, { provider: 'simulator', providerRef: late })).body).toMatchObject({
        released: 8000,
        status: 'released',
      });
      expect(await sentToSimulator(late)).toEqual([8000]);
      expect(await suspense()).toBe(before);
    });
  });
});
