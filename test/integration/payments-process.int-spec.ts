import { PaymentJobs } from '../../src/payments/payment-jobs';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { createProduct, eventually, ledgerTotals, newKey, processBody, processPayment, runJob } from '../factories/payments';

describe('POST /payments/process with the simulator (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const process = (token: string, key = newKey(), overrides: Record<string, unknown> = {}) =>
    processPayment(api, sk, processBody(productId, token, overrides), key);
  const stored = async (id: string) =>
    (await api.db.query('SELECT status, failure_code, decline_code, amount FROM payments WHERE id = $1', [id])).rows[0];
  const latestPayment = async () => (await api.db.query(`SELECT id FROM payments ORDER BY created_at DESC LIMIT 1`)).rows[0].id as string;

  it.each(['tok_visa', 'tok_mastercard'])('%s: 201 succeeded, one ledger posting, one payment.succeeded event', async (token) => {
    const res = await process(token);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 2999, currency: 'USD', provider: 'simulator', amountRefunded: 0 });
    expect(res.body.id).toMatch(/^pay_/);
    expect(res.body.providerRef).toMatch(/^sim_ch_/);
    expect(await stored(res.body.id)).toMatchObject({ status: 'succeeded', amount: 2999 });
    const ledger = await api.db.query('SELECT account, direction, amount FROM ledger_entries WHERE payment_id = $1 ORDER BY direction', [
      res.body.id,
    ]);
    expect(ledger.rows).toEqual([
      { account: 'sales', direction: 'credit', amount: 2999 },
      { account: 'receivable:simulator', direction: 'debit', amount: 2999 },
    ]);
    const events = await api.db.query('SELECT type FROM outbox_events WHERE aggregate_id = $1', [res.body.id]);
    expect(events.rows).toEqual([{ type: 'payment.succeeded' }]);
  });

  it.each([
    ['tok_chargeDeclined', 'generic_decline'],
    ['tok_insufficientFunds', 'insufficient_funds'],
    ['tok_expiredCard', 'expired_card'],
  ])('%s: 402 card_error with declineCode %s, stored failed, no ledger entry', async (token, declineCode) => {
    const res = await process(token);
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ type: 'card_error', code: 'card_declined', declineCode });
    const id = await latestPayment();
    expect(await stored(id)).toMatchObject({ status: 'failed', failure_code: 'card_declined', decline_code: declineCode });
    expect((await api.db.query('SELECT 1 FROM ledger_entries WHERE payment_id = $1', [id])).rows).toHaveLength(0);
    expect((await api.db.query(`SELECT type FROM outbox_events WHERE aggregate_id = $1`, [id])).rows).toEqual([{ type: 'payment.failed' }]);
  });

  it('tok_processingError: 503 provider_error, stored failed, nothing charged', async () => {
    const res = await process('tok_processingError');
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'provider_error', code: 'provider_unavailable' });
    const id = await latestPayment();
    expect(await stored(id)).toMatchObject({ status: 'failed', failure_code: 'provider_unavailable' });
    expect((await api.db.query(`SELECT count(*)::int AS n FROM simulator_charges WHERE reference = $1`, [id])).rows[0].n).toBe(0);
  });

  it('tok_threeDSecure: 201 requires_action, then succeeded once the customer authenticates on the simulator page', async () => {
    const res = await process('tok_threeDSecure');
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('requires_action');
    expect(res.body.nextAction).toEqual({ type: 'redirect_to_url', url: expect.stringContaining('/simulator/3ds/') });

    const page = await fetch(res.body.nextAction.url);
    expect(await page.text()).toContain('Complete authentication');
    const done = await fetch(`${res.body.nextAction.url}/complete`, { method: 'POST' });
    expect(done.status).toBe(200);

    const payment = await eventually(async () => {
      const r = await api.http().get(`/transactions/${res.body.id}`).set('X-Api-Key', sk);
      return r.body.status === 'succeeded' ? r.body : undefined;
    });
    expect(payment.nextAction).toBeNull();
    const timeline = await api.http().get(`/transactions/${res.body.id}/timeline`).set('X-Api-Key', sk);
    expect(timeline.body.data.map((e: { kind: string; toStatus: string | null }) => `${e.kind}:${e.toStatus ?? ''}`)).toEqual([
      'status_changed:processing',
      'attempt:',
      'status_changed:requires_action',
      'webhook:',
      'status_changed:succeeded',
    ]);
  });

  it('tok_threeDSecure past the deadline: canceled at the provider, failed, and an authentication after that charges nothing', async () => {
    const res = await process('tok_threeDSecure');
    expect(res.body.status).toBe('requires_action');
    await api.db.query(`UPDATE payments SET created_at = now() - interval '100 hours' WHERE id = $1`, [res.body.id]);
    await runJob(() => api.app.get(PaymentJobs).recover());

    expect(await stored(res.body.id)).toMatchObject({ status: 'failed', failure_code: 'authentication_timeout' });
    const charge = (await api.db.query(`SELECT status FROM simulator_charges WHERE id = $1`, [res.body.providerRef])).rows[0];
    expect(charge.status).toBe('canceled');
    // The customer comes back to the page: the simulator refuses, no money moves, nothing is booked.
    const late = await fetch(`${res.body.nextAction.url}/complete`, { method: 'POST' });
    expect(await late.text()).toContain('Nothing to authenticate');
    expect((await api.db.query(`SELECT status FROM simulator_charges WHERE id = $1`, [res.body.providerRef])).rows[0].status).toBe(
      'canceled',
    );
    const postings = await api.db.query(`SELECT 1 FROM ledger_entries WHERE payment_id = $1`, [res.body.id]);
    expect(postings.rows).toEqual([]);
  });

  it('tok_threeDSecure authenticated just before the deadline job: the charge is booked, not failed', async () => {
    const res = await process('tok_threeDSecure');
    // The customer authenticated but the webhook was lost: only the provider knows.
    await api.db.query(`UPDATE simulator_charges SET status = 'succeeded' WHERE id = $1`, [res.body.providerRef]);
    await api.db.query(`UPDATE payments SET created_at = now() - interval '100 hours' WHERE id = $1`, [res.body.id]);
    await runJob(() => api.app.get(PaymentJobs).recover());
    expect(await stored(res.body.id)).toMatchObject({ status: 'succeeded' });
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('replays the answer to a retried key, declines included, and refuses a missing key', async () => {
    const key = newKey();
    const body = processBody(productId, 'tok_chargeDeclined');
    const first = await processPayment(api, sk, body, key);
    const again = await processPayment(api, sk, body, key);
    expect(first.status).toBe(402);
    expect(again.status).toBe(402);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);

    const missing = await api.http().post('/payments/process').set('X-Api-Key', sk).send(processBody(productId, 'tok_visa'));
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_required' });
  });

  it('refuses bad carts with a 4xx naming the field, and writes nothing', async () => {
    const before = (await api.db.query('SELECT count(*)::int AS n FROM payments')).rows[0].n;
    const noPrice = await process('tok_visa', newKey(), { currency: 'JPY' });
    expect(noPrice.status).toBe(422);
    expect(noPrice.body.error).toMatchObject({ code: 'price_unavailable', param: 'items[0].productId' });
    const unknown = await process('tok_visa', newKey(), { items: [{ productId: 'prod_nope', quantity: 1 }] });
    expect(unknown.status).toBe(422);
    const badQty = await process('tok_visa', newKey(), { items: [{ productId, quantity: 0 }] });
    expect(badQty.status).toBe(400);
    expect(badQty.body.error.param).toBe('items[0].quantity');
    const pk = await api.key('publishable');
    const adHoc = await processPayment(
      api,
      pk,
      processBody(productId, 'tok_visa', { items: [{ name: 'Custom', amount: 500, quantity: 1 }] }),
    );
    expect(adHoc.status).toBe(403);
    expect((await api.db.query('SELECT count(*)::int AS n FROM payments')).rows[0].n).toBe(before);
  });

  it('takes ad hoc lines from a secret key', async () => {
    const res = await process('tok_visa', newKey(), { items: [{ name: 'Custom engraving', amount: 1250, quantity: 2 }] });
    expect(res.status).toBe(201);
    expect(res.body.amount).toBe(2500);
    expect(res.body.lines).toEqual([
      expect.objectContaining({ productId: null, name: 'Custom engraving', unitAmount: 1250, quantity: 2, amount: 2500 }),
    ]);
  });

  it('keeps the ledger balanced', async () => {
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
    const balance = await api.http().get('/admin/ledger/balance?currency=USD').set('X-Api-Key', admin);
    expect(balance.status).toBe(200);
    expect(balance.body.balanced).toBe(true);
    expect(balance.body.accounts).toEqual(expect.arrayContaining([expect.objectContaining({ account: 'sales' })]));
  });
});
