import Stripe from 'stripe';
import { apiBase } from '../../src/payments/providers/stripe/stripe.provider';
import { previousUtcDay, ReconciliationService } from '../../src/reconciliation/reconciliation.service';
import { StripeEmulator } from '../emulators/stripe-emulator';
import { createProduct, getPayment, newKey, processBody, processPayment, refundPayment, runJob } from '../factories/payments';
import { dbNow, discrepancies, finished, ledgerBalanced, reconcile, strayChargeSuspense } from '../factories/reconciliation';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

const SECRET = 'whsec_paybridge_stripe_reconciliation';
const API_KEY = 'sk_test_paybridge';

/** Reconciliation against Stripe: the stripe SDK lists what StripeEmulator holds (auto-pagination), real PostgreSQL. */
describe('reconciliation against Stripe (stripe SDK against StripeEmulator, real PostgreSQL)', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET, apiKey: API_KEY });
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;
  /** The SDK as someone working in Stripe's dashboard would use it, behind Paybridge's back. */
  let dashboard: Stripe;

  beforeAll(async () => {
    await emulator.start();
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      STRIPE_SECRET_KEY: API_KEY,
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_API_BASE: emulator.url,
      PROVIDER_ROUTING: 'USD=stripe,simulator;*=simulator',
      PROVIDER_TIMEOUT_MS: '2000',
      CIRCUIT_FAILURE_THRESHOLD: '1000',
    });
    emulator.webhookUrl = `${api.url}/webhooks/stripe`;
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin, { prices: [{ currency: 'USD', amount: 8000 }] })).id;
    dashboard = new Stripe(API_KEY, { ...apiBase(emulator.url), maxNetworkRetries: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  const pay = async (token = 'pm_card_visa') => {
    const res = await processPayment(api, sk, processBody(productId, token, { paymentMethod: { provider: 'stripe', token } }), newKey());
    expect(res.status).toBe(201);
    expect(res.body.provider).toBe('stripe');
    await drainWebhooks(api);
    return res.body as { id: string; providerRef: string; status: string };
  };
  /** Whatever happens at Stripe inside `fn` sends no webhook to Paybridge (it is recorded at Stripe only). */
  const webhooksLost = async <T>(fn: () => Promise<T>): Promise<T> => {
    const url = emulator.webhookUrl;
    emulator.webhookUrl = undefined;
    try {
      return await fn();
    } finally {
      emulator.webhookUrl = url;
    }
  };

  let cleanTo: Date;

  it('a clean day yields zero discrepancies', async () => {
    const from = await dbNow(api);
    await pay();
    const refunded = await pay();
    expect((await refundPayment(api, admin, refunded.id, { amount: 2500 })).status).toBe(201);
    const declined = await processPayment(
      api,
      sk,
      processBody(productId, 'pm_card_chargeDeclined', { paymentMethod: { provider: 'stripe', token: 'pm_card_chargeDeclined' } }),
    );
    expect(declined.status).toBe(402);
    await drainWebhooks(api);
    cleanTo = await dbNow(api);
    const run = await reconcile(api, admin, 'stripe', from, cleanTo);
    expect(run).toMatchObject({ status: 'completed', provider: 'stripe', counts: { discrepancies: 0, healed: 0 } });
    // Both charges and the declined attempt, each matched.
    expect(run.counts.checked).toBeGreaterThanOrEqual(3);
    expect(run.counts.matched).toBe(run.counts.checked);
  });

  it('finds every planted discrepancy once, heals only the lost success and refund webhooks, books the stray charge to suspense; a second run finds nothing new', async () => {
    const from = cleanTo;
    await pay(); // one that matches
    // A lost success webhook: the customer finished 3-D Secure at Stripe, and its webhook never came.
    const lost = await pay('pm_card_authenticationRequired');
    expect(lost.status).toBe('requires_action');
    await webhooksLost(() => emulator.completeThreeDSecure(lost.providerRef, 'succeed'));
    // A lost refund webhook: refunded in Stripe's dashboard.
    const refundedThere = await pay();
    await webhooksLost(() => dashboard.refunds.create({ payment_intent: refundedThere.providerRef, amount: 3000 }));
    // A charge made at Stripe that no payment here accounts for.
    const stray = await webhooksLost(() =>
      dashboard.paymentIntents.create({
        amount: 4200,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      }),
    );
    expect(stray.status).toBe('succeeded');
    // An amount changed at Stripe.
    const changed = await pay();
    emulator.setIntentAmount(changed.providerRef, 8100);
    // A payment that Stripe does not know.
    const unknown = await pay();
    emulator.forgetPaymentIntent(unknown.providerRef);
    // A dispute whose webhook never came.
    const disputed = await pay();
    const dispute = await webhooksLost(() => emulator.createDispute(disputed.providerRef, { reason: 'fraudulent' }));
    const to = await dbNow(api);
    expect(await ledgerBalanced(api, admin, 'USD')).toBe(true);

    const run = await reconcile(api, admin, 'stripe', from, to);
    expect(run).toMatchObject({ status: 'completed', counts: { discrepancies: 6, healed: 2 } });
    const found = await discrepancies(api, admin, `runId=${run.id}`);
    const byKind = Object.fromEntries(found.map((d) => [d.kind, d]));
    expect(Object.keys(byKind).sort()).toEqual([
      'amount_mismatch',
      'dispute_unrecorded',
      'missing_at_provider',
      'missing_locally',
      'refund_mismatch',
      'status_mismatch',
    ]);
    expect(byKind.status_mismatch).toMatchObject({
      status: 'healed',
      paymentId: lost.id,
      providerRef: lost.providerRef,
      expected: { status: 'requires_action', amount: 8000, currency: 'USD' },
      actual: { status: 'succeeded', amount: 8000 },
    });
    expect(byKind.refund_mismatch).toMatchObject({
      status: 'healed',
      paymentId: refundedThere.id,
      expected: { amountRefunded: 0 },
      actual: { amountRefunded: 3000 },
    });
    expect(byKind.missing_locally).toMatchObject({
      status: 'open',
      paymentId: null,
      providerRef: stray.id,
      actual: { amount: 4200, currency: 'USD' },
    });
    expect(byKind.amount_mismatch).toMatchObject({
      status: 'open',
      paymentId: changed.id,
      expected: { amount: 8000 },
      actual: { amount: 8100 },
    });
    expect(byKind.missing_at_provider).toMatchObject({ status: 'open', paymentId: unknown.id, providerRef: unknown.providerRef });
    expect(byKind.dispute_unrecorded).toMatchObject({
      status: 'open',
      paymentId: disputed.id,
      providerRef: dispute.id,
      actual: { chargeRef: disputed.providerRef, amount: 8000, status: 'needs_response' },
    });

    // Healed through the paths the webhooks take, each with the note in the payment's timeline.
    expect(await getPayment(api, sk, lost.id)).toMatchObject({ status: 'succeeded' });
    expect(await getPayment(api, sk, refundedThere.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 3000 });
    for (const id of [lost.id, refundedThere.id]) {
      const timeline = (await api.http().get(`/transactions/${id}/timeline`).set('X-Api-Key', sk)).body;
      expect(timeline.data).toContainEqual(
        expect.objectContaining({ kind: 'note', detail: expect.objectContaining({ note: 'healed by reconciliation' }) }),
      );
    }
    // Never healed: the changed amount.
    expect(await getPayment(api, sk, changed.id)).toMatchObject({ status: 'succeeded', amount: 8000, amountRefunded: 0 });
    // The stray charge is held in suspense for an admin, once.
    expect(await strayChargeSuspense(api, byKind.missing_locally.id)).toEqual([{ direction: 'credit', amount: 4200, currency: 'USD' }]);
    expect(await ledgerBalanced(api, admin, 'USD')).toBe(true);

    const again = await reconcile(api, admin, 'stripe', from, to);
    expect(again).toMatchObject({ status: 'completed', counts: { discrepancies: 0, healed: 0 } });
    expect(await discrepancies(api, admin, `runId=${again.id}`)).toEqual([]);
    expect(await strayChargeSuspense(api, byKind.missing_locally.id)).toHaveLength(1);
    expect((await discrepancies(api, admin, 'status=open')).map((d) => d.kind).sort()).toEqual([
      'amount_mismatch',
      'dispute_unrecorded',
      'missing_at_provider',
      'missing_locally',
    ]);
    expect(await ledgerBalanced(api, admin, 'USD')).toBe(true);

    // An admin gives the stray charge back (refunded at Stripe, released from suspense), then resolves it.
    const giveBack = () =>
      api
        .http()
        .post(`/admin/transactions/${byKind.missing_locally.id}/refund-unmatched-charge`)
        .set('X-Api-Key', admin)
        .set('Idempotency-Key', `give-back-${byKind.missing_locally.id}`)
        .send({ provider: 'stripe', providerRef: stray.id });
    const given = await giveBack();
    expect(given.status).toBe(200);
    expect(given.body).toMatchObject({
      paymentId: null,
      discrepancyId: byKind.missing_locally.id,
      provider: 'stripe',
      providerRef: stray.id,
      held: 4200,
      released: 4200,
      currency: 'USD',
      status: 'released',
    });
    expect((await giveBack()).body).toEqual(given.body); // a retry replays: Stripe refunded once
    expect(
      emulator
        .refunds()
        .filter((r) => r.payment_intent === stray.id)
        .map((r) => r.amount),
    ).toEqual([4200]);
    const released = await api.db.query<{ direction: string; amount: number }>(
      `SELECT direction, amount::int AS amount FROM ledger_entries WHERE account = 'suspense' AND posting_id LIKE '%' || $1 || '%' ORDER BY id`,
      [byKind.missing_locally.id],
    );
    expect(released.rows).toEqual([
      { direction: 'credit', amount: 4200 },
      { direction: 'debit', amount: 4200 },
    ]);
    const unknownHolder = await api
      .http()
      .post(`/admin/transactions/dsc_nothing/refund-unmatched-charge`)
      .set('X-Api-Key', admin)
      .set('Idempotency-Key', 'give-back-nothing')
      .send({ provider: 'stripe', providerRef: stray.id });
    expect(unknownHolder.status).toBe(404);
    const resolved = await api
      .http()
      .post(`/admin/reconciliation/discrepancies/${byKind.missing_locally.id}/resolve`)
      .set('X-Api-Key', admin)
      .send({ note: 'Given back to the cardholder.' });
    expect(resolved.body).toMatchObject({ status: 'resolved' });
    expect(await ledgerBalanced(api, admin, 'USD')).toBe(true);
  });

  it('a run that fails mid-way (Stripe answers 500 after its first page) ends failed with nothing half-written; the next nightly run completes the window', async () => {
    const service = api.app.get(ReconciliationService);
    // Nightly at 03:00 tomorrow: its window is today, where all of this file's payments are.
    const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
    const window = previousUtcDay(tomorrow);
    const stray = await webhooksLost(() =>
      dashboard.paymentIntents.create({
        amount: 1300,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      }),
    );
    const strayFound = async () => (await discrepancies(api, admin, 'kind=missing_locally')).filter((d) => d.providerRef === stray.id);
    emulator.passNext(1, 'any').failNext(1, 500, 'any'); // the PaymentIntents page is listed, the refunds' is not
    const first = await runJob(async () => (await service.runNightly(tomorrow))?.length);
    expect(first).toBe(2); // the simulator's run and Stripe's
    expect(
      emulator
        .requestLog()
        .filter((r) => r.fault === 'fail')
        .at(-1),
    ).toMatchObject({ method: 'GET', path: '/v1/refunds' });
    const stripeRuns = async () =>
      (
        await api.db.query<{ id: string; status: string; error: string | null }>(
          `SELECT id, status, error FROM reconciliation_runs WHERE provider = 'stripe' AND window_from = $1 AND window_to = $2 ORDER BY started_at`,
          [window.from, window.to],
        )
      ).rows;
    const [failed] = await stripeRuns();
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/./) });
    expect((await api.db.query(`SELECT 1 FROM reconciliation_staging WHERE run_id = $1`, [failed.id])).rows).toEqual([]);
    expect(await strayFound()).toEqual([]);

    // The next nightly run does Stripe's window again (the simulator's is done) and completes it.
    const second = await runJob(async () => (await service.runNightly(tomorrow))?.length);
    expect(second).toBe(1);
    expect((await stripeRuns()).map((r) => r.status)).toEqual(['failed', 'completed']);
    const [found] = await strayFound();
    expect(found).toMatchObject({ status: 'open', actual: { amount: 1300 } });
    expect(await strayChargeSuspense(api, found.id)).toEqual([{ direction: 'credit', amount: 1300, currency: 'USD' }]);
    expect(await runJob(async () => (await service.runNightly(tomorrow))?.length)).toBe(0); // nothing left to run
    expect(await ledgerBalanced(api, admin, 'USD')).toBe(true);
  });

  it('the default run covers every configured provider that can list: the simulator and Stripe', async () => {
    const from = await dbNow(api);
    await pay();
    const to = await dbNow(api);
    const res = await api.http().post('/admin/reconciliation/run').set('X-Api-Key', admin).send({ from, to });
    expect(res.status).toBe(202);
    const runs = res.body.data as Array<{ id: string; provider: string }>;
    expect(runs.map((r) => r.provider).sort()).toEqual(['simulator', 'stripe']);
    for (const run of runs) {
      expect(await finished(api, admin, run.id)).toMatchObject({ status: 'completed', counts: { discrepancies: 0 } });
    }
  });
});
