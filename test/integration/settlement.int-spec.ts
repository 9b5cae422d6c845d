import { StripeEmulator } from '../emulators/stripe-emulator';
import { SettlementJob } from '../../src/payments/settlement/settlement.job';
import { createProduct, eventually, getPayment, ledgerTotals, newKey, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { chargeEvent, deliverSimulatorEvent, drainWebhooks } from '../factories/webhooks';

const SECRET = 'whsec_paybridge_settlement';
const DAY_MS = 24 * 60 * 60 * 1000;
/** 2.9% of 2999 is 86.971: 87 rounded half up, plus 30 fixed (the simulator's terms below, and the emulator's default). */
const FEE = 117;

/** Settlement and fees through the simulator and through Stripe (the stripe SDK against StripeEmulator), real PostgreSQL. */
describe('settlement and fees', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET });
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    await emulator.start();
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      SIMULATOR_FEE_PERCENT: '2.9',
      SIMULATOR_FEE_FIXED: '30',
      SIMULATOR_AVAILABILITY_DAYS: '2',
      STRIPE_SECRET_KEY: 'sk_test_paybridge',
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_API_BASE: emulator.url,
      PROVIDER_ROUTING: 'USD=stripe,simulator;*=simulator',
      PROVIDER_TIMEOUT_MS: '1000',
    });
    emulator.webhookUrl = `${api.url}/webhooks/stripe`;
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  const settlementJob = () => api.app.get(SettlementJob);

  /** The fee postings of a payment: account, direction and amount of each line. */
  const feeLines = async (paymentId: string) =>
    (
      await api.db.query<{ account: string; direction: string; amount: number }>(
        `SELECT account, direction, amount FROM ledger_entries WHERE payment_id = $1 AND kind = 'fee' ORDER BY direction`,
        [paymentId],
      )
    ).rows;

  const balance = async () => (await api.http().get('/admin/ledger/balance').query({ currency: 'USD' }).set('X-Api-Key', admin)).body;

  it('a simulator payment: its fee and availability in its answer, the fee booked with the sale, pending → available when the day has passed', async () => {
    const before = await balance();
    const res = await processPayment(api, sk, processBody(productId, 'tok_visa'), newKey());
    expect(res.status).toBe(201);
    expect(res.body.amount).toBe(2999);
    expect(res.body.settlement).toEqual({ status: 'pending', fee: FEE, availableOn: expect.any(String) });
    const availableOn = new Date(res.body.settlement.availableOn).getTime();
    expect(Math.abs(availableOn - (Date.now() + 2 * DAY_MS))).toBeLessThan(60_000);
    expect(await feeLines(res.body.id)).toEqual([
      { account: 'receivable:simulator', direction: 'credit', amount: FEE },
      { account: 'provider_fees', direction: 'debit', amount: FEE },
    ]);
    const after = await balance();
    expect(after.balanced).toBe(true);
    expect(after.settlement.gross - before.settlement.gross).toBe(2999);
    expect(after.settlement.fees - before.settlement.fees).toBe(FEE);
    expect(after.settlement.net).toBe(after.settlement.gross - after.settlement.fees);

    // Nothing is due before the day: the job does not ask.
    expect(await settlementJob().runOnce()).toBe(0);
    // Two days pass at the simulator (its books) and here (the job's clock).
    await api.db.query(`UPDATE simulator_charges SET available_on = now() - interval '1 second' WHERE id = $1`, [res.body.providerRef]);
    expect(await settlementJob().runOnce(new Date(availableOn + 1000))).toBeGreaterThanOrEqual(1);
    const settled = await getPayment(api, sk, res.body.id);
    expect(settled.settlement).toMatchObject({ status: 'available', fee: FEE });
    // Booked once, whoever reported the fee.
    expect(await feeLines(res.body.id)).toHaveLength(2);
    expect((await balance()).balanced).toBe(true);
  });

  it('a simulator payment completed by webhook (3-D Secure): the settlement job learns the fee; a replayed webhook books it once', async () => {
    const res = await processPayment(api, sk, processBody(productId, 'tok_threeDSecure'), newKey());
    expect(res.body.status).toBe('requires_action');
    expect(res.body.settlement).toBeNull();
    expect((await fetch(`${res.body.nextAction.url}/complete`, { method: 'POST' })).status).toBe(200);
    const succeeded = await eventually(async () => {
      const p = await getPayment(api, sk, res.body.id);
      return p.status === 'succeeded' ? p : undefined;
    });
    // The webhook's event carries no settlement: the job asks the simulator.
    expect(succeeded.settlement).toBeNull();
    expect(await feeLines(res.body.id)).toEqual([]);
    expect(await settlementJob().runOnce()).toBeGreaterThanOrEqual(1);
    expect((await getPayment(api, sk, res.body.id)).settlement).toMatchObject({ status: 'pending', fee: FEE });
    expect(await feeLines(res.body.id)).toHaveLength(2);

    await deliverSimulatorEvent(api, 'charge.succeeded', chargeEvent(res.body.id, succeeded.providerRef, 2999));
    await settlementJob().runOnce();
    expect(await feeLines(res.body.id)).toHaveLength(2);
    expect((await balance()).balanced).toBe(true);
  });

  it('a Stripe payment: the balance transaction retrieved through the SDK (fee, available_on), booked once, available when Stripe says so', async () => {
    const token = 'pm_card_visa';
    const res = await processPayment(api, sk, processBody(productId, token, { paymentMethod: { provider: 'stripe', token } }), newKey());
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', provider: 'stripe', settlement: null });
    await drainWebhooks(api);

    expect(await settlementJob().runOnce()).toBeGreaterThanOrEqual(1);
    const intent = (await (
      await fetch(`${emulator.url}/v1/payment_intents/${res.body.providerRef}?expand[]=latest_charge.balance_transaction`, {
        headers: { Authorization: 'Bearer sk_test_paybridge' },
      })
    ).json()) as { latest_charge: { balance_transaction: { id: string; fee: number; net: number; available_on: number; status: string } } };
    const txn = intent.latest_charge.balance_transaction;
    expect(txn).toMatchObject({ fee: FEE, net: 2999 - FEE, status: 'pending' });
    const pending = await getPayment(api, sk, res.body.id);
    expect(pending.settlement).toEqual({ status: 'pending', fee: FEE, availableOn: new Date(txn.available_on * 1000).toISOString() });
    expect(await feeLines(res.body.id)).toEqual([
      { account: 'receivable:stripe', direction: 'credit', amount: FEE },
      { account: 'provider_fees', direction: 'debit', amount: FEE },
    ]);

    // The day comes at Stripe; the job, asking once it is due, reads it available.
    emulator.balance.makeAvailable(txn.id);
    expect(await settlementJob().runOnce(new Date(txn.available_on * 1000 + 1000))).toBeGreaterThanOrEqual(1);
    expect((await getPayment(api, sk, res.body.id)).settlement).toMatchObject({ status: 'available', fee: FEE });

    // Every Stripe event delivered again: nothing booked twice.
    for (const event of emulator.events()) await emulator.resend(event.id);
    await drainWebhooks(api);
    await settlementJob().runOnce(new Date(Date.now() + 10 * DAY_MS));
    expect(await feeLines(res.body.id)).toHaveLength(2);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });
});
