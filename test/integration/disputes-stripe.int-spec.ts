import { StripeEmulator } from '../emulators/stripe-emulator';
import { createProduct, newKey, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

const SECRET = 'whsec_paybridge_stripe_disputes';

/** Stripe disputes through the real stripe SDK against StripeEmulator and its signed webhooks. */
describe('disputes at Stripe (stripe SDK against StripeEmulator, real PostgreSQL)', () => {
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

  const stripePayment = async () => {
    const token = 'pm_card_visa';
    const res = await processPayment(api, sk, processBody(productId, token, { paymentMethod: { provider: 'stripe', token } }), newKey());
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', provider: 'stripe' });
    await drainWebhooks(api);
    return { id: res.body.id as string, intentId: res.body.providerRef as string, amount: res.body.amount as number };
  };

  const disputeOf = async (paymentId: string) => {
    const res = await api.http().get('/disputes').query({ paymentId }).set('X-Api-Key', sk);
    expect(res.status).toBe(200);
    return res.body.data as Array<Record<string, unknown> & { id: string; status: string }>;
  };

  const disputePostings = async (paymentId: string) => {
    const { rows } = await api.db.query<{ kind: string; lines: number; debits: number }>(
      `SELECT kind, count(*)::int AS lines, sum(amount) FILTER (WHERE direction = 'debit')::bigint AS debits
         FROM ledger_entries WHERE payment_id = $1 AND kind LIKE 'dispute%' GROUP BY kind ORDER BY kind`,
      [paymentId],
    );
    return Object.fromEntries(rows.map((r) => [r.kind, { lines: r.lines, debits: r.debits }]));
  };

  it('created → funds_withdrawn → evidence → closed (won): booked once each, even with every event delivered twice; the ledger balanced', async () => {
    const payment = await stripePayment();
    const created = await emulator.createDispute(payment.intentId, { reason: 'product_not_received' });
    await drainWebhooks(api);
    const [dispute] = await disputeOf(payment.id);
    expect(dispute).toMatchObject({
      id: expect.stringMatching(/^dp_/),
      provider: 'stripe',
      providerRef: created.id,
      chargeRef: payment.intentId,
      amount: payment.amount,
      currency: 'USD',
      reason: 'product_not_received',
      status: 'needs_response',
      providerStatus: 'needs_response',
      evidenceDueBy: new Date(Number((created.evidence_details as { due_by: number }).due_by) * 1000).toISOString(),
    });
    // Opened, no money moved yet at Stripe: nothing booked.
    expect(await disputePostings(payment.id)).toEqual({});

    await emulator.withdrawDisputeFunds(String(created.id));
    await drainWebhooks(api);
    expect(await disputePostings(payment.id)).toEqual({
      dispute_fee: { lines: 2, debits: 1500 },
      dispute_withdrawal: { lines: 2, debits: payment.amount },
    });

    // Evidence goes to Stripe through the SDK (the emulator records it and puts the dispute under review).
    const evidence = await api
      .http()
      .post(`/disputes/${dispute.id}/evidence`)
      .set('X-Api-Key', sk)
      .send({ text: 'Tracking 1Z999, delivered.' });
    expect(evidence.status).toBe(200);
    expect(emulator.disputes().find((d) => d.id === created.id)).toMatchObject({
      status: 'under_review',
      evidence: { uncategorized_text: 'Tracking 1Z999, delivered.' },
    });

    await emulator.closeDispute(String(created.id), 'won');
    await drainWebhooks(api);
    // Every dispute event again (Stripe retries): nothing more is booked or written.
    for (const event of emulator.events().filter((e) => e.type.startsWith('charge.dispute.'))) await emulator.resend(event.id);
    await drainWebhooks(api);

    expect((await disputeOf(payment.id))[0]).toMatchObject({ status: 'won', providerStatus: 'won' });
    expect(await disputePostings(payment.id)).toEqual({
      dispute_fee: { lines: 2, debits: 1500 },
      dispute_reinstatement: { lines: 2, debits: payment.amount },
      dispute_withdrawal: { lines: 2, debits: payment.amount },
    });
    const events = await api.http().get('/events').query({ limit: 100 }).set('X-Api-Key', sk);
    const types = (events.body.data as Array<{ type: string; data: { disputeId?: string } }>)
      .filter((e) => e.data.disputeId === dispute.id)
      .map((e) => e.type)
      .sort();
    expect(types).toEqual(['dispute.closed', 'dispute.created']);
    const balance = await api.http().get('/admin/ledger/balance').query({ currency: 'USD' }).set('X-Api-Key', admin);
    expect(balance.body.balanced).toBe(true);
    expect(balance.body.accounts).toEqual(expect.arrayContaining([expect.objectContaining({ account: 'dispute_fees', balance: 1500 })]));
  });

  it('a signed dispute event for a dispute Stripe does not have is a dead letter, and nothing is booked', async () => {
    const payment = await stripePayment();
    const forged = await emulator.sendEvent('charge.dispute.created', {
      id: 'du_forged',
      object: 'dispute',
      amount: payment.amount,
      currency: 'usd',
      payment_intent: payment.intentId,
      reason: 'fraudulent',
      status: 'lost',
      balance_transactions: [{ amount: -payment.amount, fee: 1500, currency: 'usd' }],
    });
    await drainWebhooks(api);
    const { rows } = await api.db.query<{ status: string; last_error: string }>(
      `SELECT status, last_error FROM payment_webhook_events WHERE provider = 'stripe' AND event_id = $1`,
      [forged.id],
    );
    expect(rows[0]).toMatchObject({ status: 'dead', last_error: expect.stringMatching(/Stripe has no dispute du_forged/) });
    expect(await disputeOf(payment.id)).toEqual([]);
    expect(await disputePostings(payment.id)).toEqual({});
  });

  it('a dispute Stripe shows for more than the payment charged is held as a dead letter, nothing booked', async () => {
    const payment = await stripePayment();
    await emulator.createDispute(payment.intentId, { amount: payment.amount + 1 });
    await drainWebhooks(api);
    const { rows } = await api.db.query<{ status: string; last_error: string }>(
      `SELECT status, last_error FROM payment_webhook_events
        WHERE provider = 'stripe' AND type = 'charge.dispute.created' AND status = 'dead' AND last_error LIKE $1`,
      [`%payment ${payment.id}%`],
    );
    expect(rows).toEqual([{ status: 'dead', last_error: expect.stringMatching(/more than the \d+ charged/) }]);
    expect(await disputeOf(payment.id)).toEqual([]);
    expect(await disputePostings(payment.id)).toEqual({});
  });
});
