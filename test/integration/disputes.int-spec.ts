import { ApiKeysService } from '../../src/auth/api-keys.service';
import { createProduct, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { deliverSimulatorEvent, drainWebhooks } from '../factories/webhooks';

/** Disputes (chargebacks) through the simulator's dispute routes and its signed webhooks. */
describe('disputes through the simulator (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let secret: string;
  let admin: string;
  let otherSecret: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    secret = await api.key('secret');
    admin = await api.key('admin');
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_other', 'Another merchant')`);
    otherSecret = (await api.app.get(ApiKeysService).create('mer_other', 'secret')).secret;
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  /** A succeeded simulator payment: its id and the simulator's charge. */
  const paidPayment = async () => {
    const res = await processPayment(api, secret, processBody(productId, 'tok_visa'));
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('succeeded');
    return { id: res.body.id as string, chargeId: res.body.providerRef as string, amount: res.body.amount as number };
  };

  const openDispute = async (chargeId: string) => {
    const res = await api.http().post(`/simulator/charges/${chargeId}/dispute`).send({ reason: 'fraudulent' });
    expect(res.status).toBe(201);
    await drainWebhooks(api);
    return res.body as { id: string; amount: number; fee: number; evidenceDueBy: string };
  };

  const closeDispute = async (simulatorDisputeId: string, outcome: 'won' | 'lost') => {
    const res = await api.http().post(`/simulator/disputes/${simulatorDisputeId}/close`).send({ outcome });
    expect(res.status).toBe(200);
    await drainWebhooks(api);
  };

  const disputeOf = async (paymentId: string) => {
    const res = await api.http().get('/disputes').query({ paymentId }).set('X-Api-Key', secret);
    expect(res.status).toBe(200);
    return res.body.data as Array<Record<string, unknown> & { id: string; status: string }>;
  };

  /** The payment's dispute postings by kind: how many lines each wrote, and their total debit. */
  const disputePostings = async (paymentId: string) => {
    const { rows } = await api.db.query<{ kind: string; lines: number; debits: number }>(
      `SELECT kind, count(*)::int AS lines, sum(amount) FILTER (WHERE direction = 'debit')::bigint AS debits
         FROM ledger_entries WHERE payment_id = $1 AND kind LIKE 'dispute%' GROUP BY kind ORDER BY kind`,
      [paymentId],
    );
    return Object.fromEntries(rows.map((r) => [r.kind, { lines: r.lines, debits: r.debits }]));
  };

  const eventsOf = async (type: string, paymentId: string) => {
    const res = await api.http().get('/events').query({ type, limit: 100 }).set('X-Api-Key', secret);
    expect(res.status).toBe(200);
    return (res.body.data as Array<{ data: { paymentId: string; disputeId: string } }>).filter((e) => e.data.paymentId === paymentId);
  };

  const ledgerBalance = async () => {
    const res = await api.http().get('/admin/ledger/balance').query({ currency: 'USD' }).set('X-Api-Key', admin);
    expect(res.status).toBe(200);
    return res.body as { balanced: boolean; accounts: Array<{ account: string; balance: number }> };
  };

  it('a disputed payment: the dispute listed, the withdrawal and fee booked once (even when told twice), on the timeline, dispute.created', async () => {
    const payment = await paidPayment();
    const opened = await openDispute(payment.chargeId);

    const [dispute] = await disputeOf(payment.id);
    expect(dispute).toMatchObject({
      id: expect.stringMatching(/^dp_/),
      paymentId: payment.id,
      provider: 'simulator',
      providerRef: opened.id,
      amount: payment.amount,
      currency: 'USD',
      reason: 'fraudulent',
      status: 'needs_response',
      evidenceDueBy: opened.evidenceDueBy,
    });
    const one = await api.http().get(`/disputes/${dispute.id}`).set('X-Api-Key', secret);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(dispute);

    // The same dispute reported again (a new event id, as a provider's retry or a second event type would be).
    await deliverSimulatorEvent(api, 'charge.dispute.created', {
      merchantId: 'mer_default',
      reference: null,
      sessionId: null,
      chargeId: payment.chargeId,
      amount: payment.amount,
      currency: 'USD',
      dispute: { id: opened.id, status: 'needs_response', reason: 'fraudulent', fee: opened.fee, evidenceDueBy: opened.evidenceDueBy },
    });
    await drainWebhooks(api);
    expect(await disputeOf(payment.id)).toHaveLength(1);
    expect(await disputePostings(payment.id)).toEqual({
      dispute_fee: { lines: 2, debits: opened.fee },
      dispute_withdrawal: { lines: 2, debits: payment.amount },
    });
    expect(await eventsOf('dispute.created', payment.id)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ disputeId: dispute.id, status: 'needs_response' }) }),
    ]);
    const timeline = await api.http().get(`/transactions/${payment.id}/timeline`).set('X-Api-Key', secret);
    expect(timeline.status).toBe(200);
    const disputeNotes = JSON.stringify(timeline.body).match(new RegExp(dispute.id, 'g')) ?? [];
    expect(disputeNotes.length).toBeGreaterThanOrEqual(2); // opened, withdrawal booked
    expect(JSON.stringify(timeline.body)).toContain('dispute_withdrawal');

    // Evidence is recorded (the simulator takes none of its own); empty text is a 400 naming the field.
    const evidence = await api
      .http()
      .post(`/disputes/${dispute.id}/evidence`)
      .set('X-Api-Key', secret)
      .send({ text: 'Delivered, signed for.' });
    expect(evidence.status).toBe(200);
    expect(evidence.body.evidenceSubmittedAt).toEqual(expect.any(String));
    const empty = await api.http().post(`/disputes/${dispute.id}/evidence`).set('X-Api-Key', secret).send({ text: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.param).toBe('text');

    // Won: the funds come back once, dispute.closed is written, and the ledger balances.
    await closeDispute(opened.id, 'won');
    expect((await disputeOf(payment.id))[0].status).toBe('won');
    expect(await disputePostings(payment.id)).toMatchObject({ dispute_reinstatement: { lines: 2, debits: payment.amount } });
    expect(await eventsOf('dispute.closed', payment.id)).toHaveLength(1);
    const closedAgain = await api.http().post(`/disputes/${dispute.id}/evidence`).set('X-Api-Key', secret).send({ text: 'late' });
    expect(closedAgain.status).toBe(422);
    const balance = await ledgerBalance();
    expect(balance.balanced).toBe(true);
  });

  it('a dispute lost: the withdrawal stays, nothing is reinstated', async () => {
    const payment = await paidPayment();
    const opened = await openDispute(payment.chargeId);
    await closeDispute(opened.id, 'lost');
    const [dispute] = await disputeOf(payment.id);
    expect(dispute.status).toBe('lost');
    const postings = await disputePostings(payment.id);
    expect(postings.dispute_withdrawal).toEqual({ lines: 2, debits: payment.amount });
    expect(postings.dispute_reinstatement).toBeUndefined();
    expect(await eventsOf('dispute.closed', payment.id)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ disputeId: dispute.id, status: 'lost' }) }),
    ]);
    expect((await ledgerBalance()).balanced).toBe(true);
  });

  it('a signed dispute event the simulator never sent (no such dispute in its records) is a dead letter, and nothing is booked', async () => {
    const payment = await paidPayment();
    const forged = await deliverSimulatorEvent(
      api,
      'charge.dispute.created',
      {
        merchantId: 'mer_default',
        reference: null,
        sessionId: null,
        chargeId: payment.chargeId,
        amount: payment.amount,
        currency: 'USD',
        dispute: {
          id: 'sim_dp_forged',
          status: 'needs_response',
          reason: 'fraudulent',
          fee: 1500,
          evidenceDueBy: new Date().toISOString(),
        },
      },
      (stored) => stored.status === 'dead',
    );
    expect(forged.last_error).toMatch(/no dispute sim_dp_forged/);
    expect(await disputeOf(payment.id)).toEqual([]);
    expect(await disputePostings(payment.id)).toEqual({});
  });

  it("another merchant's key sees none of it (404)", async () => {
    const payment = await paidPayment();
    await openDispute(payment.chargeId);
    const [dispute] = await disputeOf(payment.id);
    const get = await api.http().get(`/disputes/${dispute.id}`).set('X-Api-Key', otherSecret);
    expect(get.status).toBe(404);
    const list = await api.http().get('/disputes').set('X-Api-Key', otherSecret);
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([]);
    const evidence = await api.http().post(`/disputes/${dispute.id}/evidence`).set('X-Api-Key', otherSecret).send({ text: 'mine' });
    expect(evidence.status).toBe(404);
  });

  it('GET /transactions lists disputes with kind "dispute" beside payments (kind "payment"), and its filters and cursors take both', async () => {
    const email = `disputed-${Date.now()}@example.com`;
    const res = await processPayment(api, secret, processBody(productId, 'tok_visa', { customer: { email, name: 'Disputed Buyer' } }));
    expect(res.status).toBe(201);
    const payment = { id: res.body.id as string, chargeId: res.body.providerRef as string };
    await openDispute(payment.chargeId);
    const [dispute] = await disputeOf(payment.id);
    const list = async (query: string, key = secret, path = '/transactions') => {
      const answer = await api
        .http()
        .get(`${path}?customerEmail=${encodeURIComponent(email)}&${query}`)
        .set('X-Api-Key', key);
      expect(answer.status).toBe(200);
      return answer.body as { data: Array<Record<string, unknown>>; total?: number; hasMore: boolean };
    };
    // Newest first: the dispute, then its payment; each in its own shape.
    const all = await list('page=1');
    expect(all.data).toEqual([
      expect.objectContaining({ kind: 'dispute', id: dispute.id, paymentId: payment.id, status: 'needs_response', provider: 'simulator' }),
      expect.objectContaining({ kind: 'payment', id: payment.id, status: 'succeeded', customer: expect.objectContaining({ email }) }),
    ]);
    expect(all.total).toBe(2);
    expect(all.data[0]).not.toHaveProperty('merchantId');
    expect((await list('kind=dispute')).data.map((t) => t.id)).toEqual([dispute.id]);
    expect((await list('kind=payment')).data.map((t) => t.id)).toEqual([payment.id]);
    expect((await list('status=needs_response')).data.map((t) => t.id)).toEqual([dispute.id]);
    expect((await list('status=succeeded')).data.map((t) => t.id)).toEqual([payment.id]);
    expect((await list('provider=simulator&kind=dispute')).data.map((t) => t.id)).toEqual([dispute.id]);
    expect((await list('provider=stripe')).data).toEqual([]);
    expect((await list('status=won&kind=dispute')).data).toEqual([]);
    // A cursor may name a dispute; pages of one walk both.
    const first = await list('limit=1');
    expect(first).toMatchObject({ hasMore: true, data: [{ id: dispute.id }] });
    expect((await list(`limit=1&startingAfter=${dispute.id}`)).data.map((t) => t.id)).toEqual([payment.id]);
    expect((await list('limit=1&page=2')).data.map((t) => t.id)).toEqual([payment.id]);
    // The admin report list too; another merchant sees neither.
    expect((await list('', admin, '/admin/transactions')).data.map((t) => t.kind)).toEqual(['dispute', 'payment']);
    expect((await list('', otherSecret)).data).toEqual([]);
    for (const query of ['kind=refund', 'status=chargeback']) {
      const bad = await api.http().get(`/transactions?${query}`).set('X-Api-Key', secret);
      expect({ query, status: bad.status, param: bad.body.error?.param }).toEqual({ query, status: 400, param: query.split('=')[0] });
    }
  });

  it('an unknown charge or dispute at the simulator is a 404; a bad outcome a 400', async () => {
    expect((await api.http().post('/simulator/charges/sim_ch_nope/dispute').send({})).status).toBe(404);
    expect((await api.http().post('/simulator/disputes/sim_dp_nope/close').send({ outcome: 'won' })).status).toBe(404);
    expect((await api.http().post('/simulator/disputes/sim_dp_nope/close').send({ outcome: 'maybe' })).status).toBe(400);
  });
});
