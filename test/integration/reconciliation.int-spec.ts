import { randomBytes } from 'node:crypto';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { SimulatorRepository } from '../../src/payments/providers/simulator/simulator.repository';
import { SimulatorDisputesRepository } from '../../src/payments/providers/simulator/simulator-disputes.repository';
import { previousUtcDay, ReconciliationService } from '../../src/reconciliation/reconciliation.service';
import {
  checkoutBody,
  createCheckout,
  createProduct,
  eventually,
  getPayment,
  newKey,
  processBody,
  processPayment,
  refundPayment,
} from '../factories/payments';
import {
  dbNow as dbNowOf,
  discrepancies as discrepanciesOf,
  ledgerBalanced,
  reconcile as reconcileWith,
  strayChargeSuspense,
} from '../factories/reconciliation';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** Reconciliation against the simulator's own books, with discrepancies planted in them (real PostgreSQL). */
describe('reconciliation runs (real PostgreSQL, the simulator)', () => {
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let pk: string;
  let admin: string;
  let otherAdmin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { CIRCUIT_FAILURE_THRESHOLD: '1000' });
    sk = await api.key('secret');
    pk = await api.key('publishable');
    admin = await api.key('admin');
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_other', 'Another merchant')`);
    otherAdmin = (await api.app.get(ApiKeysService).create('mer_other', 'admin')).secret;
    productId = (await createProduct(api, admin, { prices: [{ currency: 'USD', amount: 8000 }] })).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const pay = async (token: string, status = 201) => {
    const res = await processPayment(api, sk, processBody(productId, token));
    expect(res.status).toBe(status);
    return res.body as { id: string; providerRef: string; status: string };
  };
  const dbNow = () => dbNowOf(api);
  const reconcile = (from: Date, to: Date, idempotencyKey?: string) => reconcileWith(api, admin, 'simulator', from, to, idempotencyKey);
  const discrepancies = (query: string, key = admin) => discrepanciesOf(api, key, query);
  const balanced = () => ledgerBalanced(api, admin, 'USD');
  const suspenseOf = (discrepancyId: string) => strayChargeSuspense(api, discrepancyId);

  let cleanTo: Date;

  it('a clean window yields zero discrepancies', async () => {
    const from = await dbNow();
    await pay('tok_visa');
    const refunded = await pay('tok_visa');
    expect((await refundPayment(api, admin, refunded.id, { amount: 3000 })).status).toBe(201); // refunded here and there
    await pay('tok_chargeDeclined', 402); // declined there, failed here: nothing moved, nothing to report
    // Paid on the simulator's hosted page: its charge echoes the checkout session.
    const session = (await createCheckout(api, pk, checkoutBody(productId))).body as { id: string; url: string };
    expect((await fetch(`${session.url}/pay`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
    await eventually(async () => {
      const s = (await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', pk)).body;
      return s.status === 'complete';
    });
    cleanTo = await dbNow();
    const run = await reconcile(from, cleanTo, newKey());
    expect(run).toMatchObject({ status: 'completed', counts: { checked: 4, matched: 4, discrepancies: 0, healed: 0 } });
    expect(await discrepancies(`runId=${run.id}`)).toEqual([]);
  });

  it('finds each planted discrepancy once, heals only the lost success and refund webhooks, books the stray charge to suspense once, and keeps the ledger balanced', async () => {
    const sim = api.app.get(SimulatorRepository);
    const from = cleanTo;
    await pay('tok_visa'); // a payment that matches
    // A lost success webhook: the customer authenticated at the simulator, and its webhook never came.
    const lost = await pay('tok_threeDSecure');
    expect(lost.status).toBe('requires_action');
    expect(await sim.completeAuthentication(lost.providerRef)).toMatchObject({ status: 'succeeded' });
    // A charge made at the provider that no payment here accounts for.
    const stray = `sim_ch_stray_${randomBytes(6).toString('hex')}`;
    await sim.recordCharge({
      id: stray,
      idempotencyKey: `stray-${stray}`,
      token: 'tok_visa',
      amount: 4200,
      currency: 'USD',
      status: 'succeeded',
      declineCode: null,
      reference: null,
      sessionId: null,
      merchantId: 'mer_default',
    });
    // An amount changed at the provider.
    const changed = await pay('tok_visa');
    await api.db.query(`UPDATE simulator_charges SET amount = 8100 WHERE id = $1`, [changed.providerRef]);
    // A payment succeeded here that the provider does not know.
    const unknown = await pay('tok_visa');
    await api.db.query(`DELETE FROM simulator_charges WHERE id = $1`, [unknown.providerRef]);
    // A lost refund webhook: refunded in the simulator's dashboard, and Paybridge never heard of it.
    const refundedThere = await pay('tok_visa');
    const dashboardRefund = { id: `sim_re_${randomBytes(6).toString('hex')}`, idempotencyKey: `dash-${randomBytes(6).toString('hex')}` };
    await sim.recordRefund({ ...dashboardRefund, chargeId: refundedThere.providerRef, amount: 3000, settleAfterSeconds: null });
    // A dispute whose webhook never came.
    const disputed = await pay('tok_visa');
    const dispute = await api.app.get(SimulatorDisputesRepository).insert({
      id: `sim_dp_${randomBytes(6).toString('hex')}`,
      chargeId: disputed.providerRef,
      merchantId: 'mer_default',
      amount: 8000,
      currency: 'USD',
      reason: 'fraudulent',
      status: 'needs_response',
      fee: 1500,
      evidenceDueBy: new Date(Date.now() + 7 * 24 * 3600 * 1000),
    });
    const to = await dbNow();
    const ledgerBalancedBefore = await balanced();

    const run = await reconcile(from, to);
    expect(run).toMatchObject({ status: 'completed', counts: { checked: 7, matched: 2, discrepancies: 6, healed: 2 } });
    const found = await discrepancies(`runId=${run.id}`);
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
    expect(byKind.missing_locally).toMatchObject({
      status: 'open',
      paymentId: null,
      providerRef: stray,
      expected: {},
      actual: { amount: 4200 },
    });
    expect(byKind.amount_mismatch).toMatchObject({
      status: 'open',
      paymentId: changed.id,
      expected: { amount: 8000 },
      actual: { amount: 8100 },
    });
    expect(byKind.missing_at_provider).toMatchObject({ status: 'open', paymentId: unknown.id, actual: {} });
    expect(byKind.refund_mismatch).toMatchObject({
      status: 'healed',
      paymentId: refundedThere.id,
      expected: { amountRefunded: 0 },
      actual: { amountRefunded: 3000 },
    });
    expect(byKind.dispute_unrecorded).toMatchObject({
      status: 'open',
      paymentId: disputed.id,
      providerRef: dispute.id,
      actual: { chargeRef: disputed.providerRef, amount: 8000, status: 'needs_response' },
    });

    // Healed through the payment's own outcome (as its webhook would), with the note in its timeline.
    expect(await getPayment(api, sk, lost.id)).toMatchObject({ status: 'succeeded' });
    const timeline = (await api.http().get(`/transactions/${lost.id}/timeline`).set('X-Api-Key', sk)).body;
    expect(timeline.data).toContainEqual(
      expect.objectContaining({ kind: 'note', detail: expect.objectContaining({ note: 'healed by reconciliation' }) }),
    );
    // The lost refund webhook healed as its report would have: the refund made there is booked here.
    expect(await getPayment(api, sk, refundedThere.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 3000 });
    // The stray charge is money held for nobody: in suspense, once.
    expect(await suspenseOf(byKind.missing_locally.id)).toEqual([{ direction: 'credit', amount: 4200, currency: 'USD' }]);
    // A mismatch is never healed: the payment stays as it was.
    expect(await getPayment(api, sk, changed.id)).toMatchObject({ status: 'succeeded', amount: 8000 });
    // Each discrepancy went to the outbox.
    const { rows: events } = await api.db.query<{ aggregate_id: string }>(
      `SELECT aggregate_id FROM outbox_events WHERE type = 'reconciliation.discrepancy'`,
    );
    expect(events.map((e) => e.aggregate_id).sort()).toEqual(found.map((d) => d.id).sort());
    expect(ledgerBalancedBefore).toBe(true);
    expect(await balanced()).toBe(true);

    // A second run of the window finds nothing new (the healed payment now matches).
    const again = await reconcile(from, to);
    expect(again).toMatchObject({ status: 'completed', counts: { checked: 7, matched: 4, discrepancies: 0, healed: 0 } });
    expect(await discrepancies(`runId=${again.id}`)).toEqual([]);
    expect(await suspenseOf(byKind.missing_locally.id)).toHaveLength(1);
    expect(await discrepancies('status=open')).toHaveLength(4);

    // Filters, and another merchant sees none of it.
    expect((await discrepancies('kind=missing_locally')).map((d) => d.providerRef)).toEqual([stray]);
    expect(await discrepancies('', otherAdmin)).toEqual([]);
    expect((await api.http().get(`/admin/reconciliation/runs/${run.id}`).set('X-Api-Key', otherAdmin)).status).toBe(404);
    const runs = (await api.http().get('/admin/reconciliation/runs').set('X-Api-Key', admin)).body.data as Array<{ id: string }>;
    expect(runs.map((r) => r.id).slice(0, 2)).toEqual([again.id, run.id]);

    // An admin resolves one with a note; it cannot be resolved twice.
    const resolve = (id: string, body: object) =>
      api.http().post(`/admin/reconciliation/discrepancies/${id}/resolve`).set('X-Api-Key', admin).send(body);
    expect((await resolve(byKind.missing_locally.id, {})).status).toBe(400);
    const resolved = await resolve(byKind.missing_locally.id, { note: 'Refunded from the simulator dashboard.' });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ status: 'resolved', note: 'Refunded from the simulator dashboard.' });
    expect((await resolve(byKind.missing_locally.id, { note: 'again' })).status).toBe(409);
    expect((await resolve(byKind.status_mismatch.id, { note: 'healed already' })).status).toBe(409);
    expect((await resolve('dsc_nothing', { note: 'x' })).status).toBe(404);
    expect(
      (
        await api
          .http()
          .post(`/admin/reconciliation/discrepancies/${byKind.amount_mismatch.id}/resolve`)
          .set('X-Api-Key', otherAdmin)
          .send({ note: 'x' })
      ).status,
    ).toBe(404);
  });

  it('answers bad input with a 4xx', async () => {
    const post = (body: object) => api.http().post('/admin/reconciliation/run').set('X-Api-Key', admin).send(body);
    expect((await post({ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' })).status).toBe(400);
    expect((await post({ provider: 'paypal' })).status).toBe(400);
    expect((await post({ from: 'yesterday' })).status).toBe(400);
    expect((await api.http().get('/admin/reconciliation/discrepancies?kind=nope').set('X-Api-Key', admin)).status).toBe(400);
    expect((await api.http().post('/admin/reconciliation/run').set('X-Api-Key', sk).send({})).status).toBe(403);
  });

  it('one runner: a run already going answers 409, and two nightly runs at once make one run per merchant', async () => {
    const conflict = await api.db.withAdvisoryLock('paybridge:reconciliation:mer_default:simulator', () =>
      api.http().post('/admin/reconciliation/run').set('X-Api-Key', admin).send({ provider: 'simulator' }),
    );
    expect(conflict?.status).toBe(409);
    expect(conflict?.body.error).toMatchObject({ code: 'reconciliation_running' });

    const service = api.app.get(ReconciliationService);
    const now = new Date();
    const [a, b] = await Promise.all([service.runNightly(now), service.runNightly(now)]);
    const window = previousUtcDay(now);
    const { rows } = await api.db.query<{ merchant_id: string; runs: number }>(
      `SELECT merchant_id, count(*)::int AS runs FROM reconciliation_runs
        WHERE window_from = $1 AND window_to = $2 AND status = 'completed' GROUP BY merchant_id ORDER BY merchant_id`,
      [window.from, window.to],
    );
    expect(rows).toEqual([
      { merchant_id: 'mer_default', runs: 1 },
      { merchant_id: 'mer_other', runs: 1 },
    ]);
    // Whichever ran it, the runs are there once; the other did nothing (held out, or found them done).
    expect([...(a ?? []), ...(b ?? [])]).toHaveLength(2);
  });

  it('two instances at 03:00: one run per merchant and provider', async () => {
    const other = await startTestApp(dbUrl, { CIRCUIT_FAILURE_THRESHOLD: '1000' });
    try {
      const now = new Date('2026-04-02T03:00:00Z');
      const window = previousUtcDay(now);
      const [a, b] = await Promise.all([
        api.app.get(ReconciliationService).runNightly(now),
        other.app.get(ReconciliationService).runNightly(now),
      ]);
      const { rows } = await api.db.query<{ merchant_id: string; provider: string; runs: number }>(
        `SELECT merchant_id, provider, count(*)::int AS runs FROM reconciliation_runs
          WHERE window_from = $1 AND window_to = $2 GROUP BY merchant_id, provider ORDER BY merchant_id`,
        [window.from, window.to],
      );
      expect(rows).toEqual([
        { merchant_id: 'mer_default', provider: 'simulator', runs: 1 },
        { merchant_id: 'mer_other', provider: 'simulator', runs: 1 },
      ]);
      // One instance ran them, the other was held out (or found them done).
      expect([...(a ?? []), ...(b ?? [])].map((r) => r.status)).toEqual(['completed', 'completed']);
    } finally {
      await other.close();
    }
  });

  it('a run killed mid-way ends failed, and the next nightly run completes its window', async () => {
    const now = new Date('2026-03-02T03:00:00Z');
    const window = previousUtcDay(now);
    // What a process killed while staging leaves: a run marked running, and some staged rows.
    await api.db.query(
      `INSERT INTO reconciliation_runs (merchant_id, id, provider, window_from, window_to, status)
       VALUES ('mer_default', 'rr_killed', 'simulator', $1, $2, 'running')`,
      [window.from, window.to],
    );
    await api.db.query(
      `INSERT INTO reconciliation_staging (run_id, kind, provider_ref, status, amount, currency, created_at)
       VALUES ('rr_killed', 'charge', 'sim_ch_half', 'succeeded', 100, 'USD', $1)`,
      [window.from],
    );
    const runs = await api.app.get(ReconciliationService).runNightly(now);
    expect(runs?.map((r) => [r.merchantId, r.status])).toEqual([
      ['mer_default', 'completed'],
      ['mer_other', 'completed'],
    ]);
    const killed = (await api.http().get('/admin/reconciliation/runs/rr_killed').set('X-Api-Key', admin)).body;
    expect(killed).toMatchObject({ status: 'failed', error: 'interrupted', finishedAt: expect.any(String) });
    const { rows } = await api.db.query(`SELECT 1 FROM reconciliation_staging WHERE run_id = 'rr_killed'`);
    expect(rows).toEqual([]);
  });
});
