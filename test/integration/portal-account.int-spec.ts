import { newKey } from '../factories/payments';
import { advance, createPlan, getSubscription, newMerchant, saveMethod, subscribe, TEST_CLOCK_ENV } from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** The portal's subscriptions and saved methods: the sk routes' services and rules, for the portal's customer only. */
describe('portal: subscriptions and saved payment methods (capability routes)', () => {
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, TEST_CLOCK_ENV);
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  async function portalFor(sk: string, customerId: string): Promise<string> {
    const res = await api
      .http()
      .post('/portal/sessions')
      .set('X-Api-Key', sk)
      .send({ customerId, returnUrl: 'https://shop.example/account' });
    expect(res.status).toBe(201);
    return new URL(res.body.url).pathname.split('/')[2];
  }
  const post = (path: string, body: object = {}, key = newKey()) => api.http().post(path).set('Idempotency-Key', key).send(body);

  it('lists the subscriptions with the plans they may change to; cancel at period end, resume, change as the API rules', async () => {
    const m = await newMerchant(api);
    type Plan = { id: string; name: string };
    const basic = (await createPlan(api, m.admin, 1000)) as Plan;
    const pro = (await createPlan(api, m.admin, 3000)) as Plan;
    const yearly = await createPlan(api, m.admin, 9000, 'year');
    const sub = (await subscribe(api, m.sk, basic.id)).subscriptions[0];
    const token = await portalFor(m.sk, sub.customer.id);

    const list = await api.http().get(`/portal/${token}/subscriptions`).expect(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id: sub.id, status: 'active', productName: basic.name, amount: 1000, exponent: 2 });
    // Same interval and currency only; the current plan is not offered.
    expect(list.body.data[0].plans).toEqual([{ productId: pro.id, name: pro.name, amount: 3000 }]);

    expect((await post(`/portal/${token}/subscriptions/${sub.id}/cancel`).expect(200)).body).toMatchObject({
      cancelAtPeriodEnd: true,
      status: 'active',
    });
    expect((await post(`/portal/${token}/subscriptions/${sub.id}/resume`).expect(200)).body).toMatchObject({ cancelAtPeriodEnd: false });
    // The API's own refusal, unchanged: nothing to resume.
    const again = await post(`/portal/${token}/subscriptions/${sub.id}/resume`).expect(422);
    expect(again.body.error.code).toBe('subscription_not_resumable');
    // A plan of another interval: the API refuses it, nothing changes.
    const refused = await post(`/portal/${token}/subscriptions/${sub.id}/change`, { productId: yearly.id }).expect(422);
    expect(refused.body.error.code).toBe('product_not_compatible');
    // A change needs an Idempotency-Key, as on the API.
    await api.http().post(`/portal/${token}/subscriptions/${sub.id}/change`).send({ productId: pro.id }).expect(400);

    await advance(api, m.admin, 10);
    const key = newKey();
    const upgraded = await post(`/portal/${token}/subscriptions/${sub.id}/change`, { productId: pro.id }, key).expect(200);
    expect(upgraded.body).toMatchObject({ productId: pro.id, amount: 3000 });
    // The same key replays the answer: one proration payment.
    await post(`/portal/${token}/subscriptions/${sub.id}/change`, { productId: pro.id }, key).expect(200);
    const payments = await api.db.query(`SELECT amount FROM payments WHERE merchant_id = $1`, [m.id]);
    expect(payments.rows).toHaveLength(2);
    expect((await getSubscription(api, m.sk, sub.id)).productId).toBe(pro.id);
  });

  it("another customer's subscription or method is not found through a portal link; an expired link is refused", async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1000);
    const mine = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const theirs = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const theirMethod = await saveMethod(api, m.sk, theirs.customer.id, 'tok_mastercard');
    const token = await portalFor(m.sk, mine.customer.id);

    for (const action of ['cancel', 'resume']) {
      const res = await post(`/portal/${token}/subscriptions/${theirs.id}/${action}`).expect(404);
      expect(res.body.error.code).toBe('resource_missing');
    }
    await api.http().delete(`/portal/${token}/payment-methods/${theirMethod.id}`).expect(404);
    expect((await getSubscription(api, m.sk, theirs.id)).cancelAtPeriodEnd).toBe(false);
    const methods = await api.http().get(`/customers/${theirs.customer.id}/payment-methods`).set('X-Api-Key', m.sk);
    expect(methods.body.data.map((pm: { id: string }) => pm.id)).toContain(theirMethod.id);

    await api.db.query(`UPDATE portal_sessions SET expires_at = now() - interval '1 second' WHERE customer_id = $1`, [mine.customer.id]);
    const expired = await api.http().get(`/portal/${token}/subscriptions`).expect(404);
    expect(expired.body.error.code).toBe('portal_session_expired');
  });

  it('saved methods: list, add through the simulator token, a declined token refused, remove (detached at the provider)', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1000);
    const sub = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const token = await portalFor(m.sk, sub.customer.id);

    const before = await api.http().get(`/portal/${token}/payment-methods`).expect(200);
    expect(before.body.addWith).toEqual(['simulator']);
    expect(before.body.data).toHaveLength(1);

    const added = await post(`/portal/${token}/payment-methods`, { provider: 'simulator', token: 'tok_mastercard' }).expect(201);
    expect(added.body).toMatchObject({ provider: 'simulator', brand: 'mastercard', last4: '4444' });
    const declined = await post(`/portal/${token}/payment-methods`, { provider: 'simulator', token: 'tok_chargeDeclined' }).expect(402);
    expect(declined.body.error.type).toBe('card_error');

    expect((await api.http().delete(`/portal/${token}/payment-methods/${added.body.id}`).expect(200)).body).toEqual({
      id: added.body.id,
      deleted: true,
    });
    const after = await api.http().get(`/customers/${sub.customer.id}/payment-methods`).set('X-Api-Key', m.sk);
    expect(after.body.data.map((pm: { id: string }) => pm.id)).toEqual(before.body.data.map((pm: { id: string }) => pm.id));
  });
});
