import { BillingClock } from '../../src/common/clock/billing-clock';
import { SubscriptionRenewals } from '../../src/subscriptions/subscription-renewals';
import { createPlan, newMerchant, subscribe, TEST_CLOCK_ENV } from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const SUBSCRIPTIONS = 400;

/** Two instances on one database run the renewal job over the same due subscriptions: one charge each. */
describe('subscriptions: two instances renewing', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // 800 requests on one key (400 purchases and their reads) fit in one rate-limit window however fast they run.
    const env = { ...TEST_CLOCK_ENV, SUBSCRIPTION_RENEWAL_BATCH: '25', RATE_LIMIT_PER_MINUTE: '2000' };
    [a, b] = await Promise.all([startTestApp(dbUrl, env), startTestApp(dbUrl, env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  it(`${SUBSCRIPTIONS} due subscriptions, both instances' jobs at once: exactly one renewal payment each, every run counted once`, async () => {
    const m = await newMerchant(a);
    const plan = await createPlan(a, m.admin, 700);
    for (let i = 0; i < SUBSCRIPTIONS; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, SUBSCRIPTIONS - i) }, async (_, j) => {
          const res = (await subscribe(i + j < SUBSCRIPTIONS / 2 ? a : b, m.sk, plan.id)).res;
          expect(res.status).toBe(201);
        }),
      );
    }
    await a.app.get(BillingClock).advance(m.id, 32 * 86_400);
    const [ranA, ranB] = await Promise.all([a.app.get(SubscriptionRenewals).runDue(m.id), b.app.get(SubscriptionRenewals).runDue(m.id)]);
    expect(ranA.renewals + ranB.renewals).toBe(SUBSCRIPTIONS);
    // Both took part (each claims batches the other skips).
    expect(ranA.renewals).toBeGreaterThan(0);
    expect(ranB.renewals).toBeGreaterThan(0);

    const perSubscription = await a.db.query<{ payments: number; paid: number }>(
      `SELECT count(i.payment_id)::int AS payments, count(*) FILTER (WHERE i.status = 'paid')::int AS paid
         FROM subscriptions s
         JOIN invoices i ON i.merchant_id = s.merchant_id AND i.subscription_id = s.id AND i.kind = 'renewal'
        WHERE s.merchant_id = $1
        GROUP BY s.id`,
      [m.id],
    );
    expect(perSubscription.rows).toHaveLength(SUBSCRIPTIONS);
    expect(perSubscription.rows.every((r) => r.payments === 1 && r.paid === 1)).toBe(true);
    const charges = await a.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM simulator_charges WHERE merchant_id = $1 AND status = 'succeeded'`,
      [m.id],
    );
    expect(charges.rows[0].n).toBe(2 * SUBSCRIPTIONS); // the first payments and one renewal each, at the simulator
    const payments = await a.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM payments WHERE merchant_id = $1 AND status = 'succeeded'`,
      [m.id],
    );
    expect(payments.rows[0].n).toBe(2 * SUBSCRIPTIONS);
    // Nothing due left; a second run finds nothing.
    expect((await b.app.get(SubscriptionRenewals).runDue(m.id)).renewals).toBe(0);
  }, 180_000);
});
