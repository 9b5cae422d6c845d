import { createHash } from 'node:crypto';
import { canonicalJson } from '../../src/common/idempotency/canonical-json';
import { activeGiftCard } from '../factories/gift-cards';
import { checkoutBody, createProduct, eventually, newKey, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

interface MoneyRoute {
  name: string;
  key: () => string;
  /** A fresh request: its path and a body, and another body for the same path. */
  request: () => Promise<{ path: string; body: object; other: object }>;
}

/**
 * Every route that moves money refuses to run without an Idempotency-Key (400), refuses a key used for
 * another request (422), and refuses a key held by a request still running (409), and in each case
 * does nothing.
 */
describe('idempotency on every money route (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // retry-payment needs payments that failed for want of a provider: they must not open the circuit.
    api = await startTestApp(dbUrl, { CIRCUIT_FAILURE_THRESHOLD: '1000' });
    [pk, sk, admin] = [await api.key('publishable'), await api.key('secret'), await api.key('admin')];
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const paidPayment = async () => {
    const res = await processPayment(api, sk, processBody(productId, 'tok_visa'));
    expect(res.body.status).toBe('succeeded');
    return res.body.id as string;
  };
  /** A payment that failed for want of a provider (the one kind retry-payment takes). */
  const unavailablePayment = async () => {
    const res = await processPayment(api, sk, processBody(productId, 'tok_processingError'));
    expect(res.status).toBe(503);
    return (await api.db.query(`SELECT id FROM payments WHERE status = 'failed' ORDER BY created_at DESC LIMIT 1`)).rows[0].id as string;
  };

  const routes: MoneyRoute[] = [
    {
      name: 'POST /payments/checkout',
      key: () => pk,
      request: async () => ({ path: '/payments/checkout', body: checkoutBody(productId), other: checkoutBody(productId) }),
    },
    {
      name: 'POST /payments/process',
      key: () => sk,
      request: async () => ({
        path: '/payments/process',
        body: processBody(productId, 'tok_visa'),
        other: processBody(productId, 'tok_visa'),
      }),
    },
    {
      name: 'POST /transactions/:id/refund',
      key: () => admin,
      request: async () => ({ path: `/transactions/${await paidPayment()}/refund`, body: { amount: 100 }, other: { amount: 200 } }),
    },
    {
      name: 'POST /admin/transactions/:id/refund-unmatched-charge',
      key: () => admin,
      request: async () => ({
        path: `/admin/transactions/${await paidPayment()}/refund-unmatched-charge`,
        body: { provider: 'simulator', providerRef: 'ch_one' },
        other: { provider: 'simulator', providerRef: 'ch_two' },
      }),
    },
    {
      name: 'POST /admin/retry-payment/:id',
      key: () => admin,
      // No body: what differs is the payment, so the same key on another payment's retry.
      request: async () => ({ path: `/admin/retry-payment/${await unavailablePayment()}`, body: {}, other: { unexpected: true } }),
    },
    {
      name: 'POST /gift-cards/purchase',
      key: () => pk,
      request: async () => ({
        path: '/gift-cards/purchase',
        body: {
          amount: 2500,
          currency: 'USD',
          customer: { email: 'a@example.com' },
          successUrl: 'https://s.example/ok',
          cancelUrl: 'https://s.example/no',
        },
        other: {
          amount: 2600,
          currency: 'USD',
          customer: { email: 'a@example.com' },
          successUrl: 'https://s.example/ok',
          cancelUrl: 'https://s.example/no',
        },
      }),
    },
    {
      name: 'POST /gift-cards/redeem',
      key: () => pk,
      request: async () => {
        const code = await activeGiftCard(api, pk, 1000);
        return { path: '/gift-cards/redeem', body: { code, userId: 'user-1' }, other: { code, userId: 'user-2' } };
      },
    },
    {
      name: 'POST /gift-cards/:code/use',
      key: () => sk,
      request: async () => ({
        path: `/gift-cards/${await activeGiftCard(api, pk, 1000)}/use`,
        body: { amount: 100, currency: 'USD', reference: 'order-1' },
        other: { amount: 200, currency: 'USD', reference: 'order-1' },
      }),
    },
  ];

  /** What a money route could have changed: if these stay equal, nothing happened. */
  async function moneyState() {
    const { rows } = await api.db.query(
      `SELECT (SELECT count(*) FROM payments)::int AS payments,
              (SELECT count(*) FROM payment_attempts)::int AS attempts,
              (SELECT count(*) FROM refunds)::int AS refunds,
              (SELECT count(*) FROM checkout_sessions)::int AS sessions,
              (SELECT count(*) FROM gift_cards)::int AS gift_cards,
              (SELECT count(*) FROM gift_card_transactions)::int AS gift_card_transactions,
              (SELECT coalesce(sum(balance), 0) FROM gift_cards)::bigint AS gift_card_balances,
              (SELECT count(*) FILTER (WHERE redeemed_by IS NOT NULL) FROM gift_cards)::int AS redeemed,
              (SELECT count(*) FROM ledger_entries)::int AS ledger_entries,
              (SELECT count(*) FROM simulator_charges)::int AS charges,
              (SELECT count(*) FROM simulator_refunds)::int AS provider_refunds,
              (SELECT count(*) FROM outbox_events)::int AS events`,
    );
    return rows[0];
  }

  const send = (route: MoneyRoute, path: string, body: object, idempotencyKey?: string) => {
    const req = api.http().post(path).set('X-Api-Key', route.key());
    return (idempotencyKey === undefined ? req : req.set('Idempotency-Key', idempotencyKey)).send(body);
  };

  describe.each(routes.map((route) => [route.name, route] as const))('%s', (_, route) => {
    it('refuses a request without an Idempotency-Key (400 idempotency_key_required) and does nothing', async () => {
      const { path, body } = await route.request();
      const before = await moneyState();
      const res = await send(route, path, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_required' });
      expect(await moneyState()).toEqual(before);
    });

    it('refuses the key with another body (422 idempotency_key_reused) and does nothing more', async () => {
      const { path, body, other } = await route.request();
      const key = newKey();
      const first = await send(route, path, body, key);
      expect(first.body.error?.type).not.toBe('idempotency_error');
      const before = await moneyState();
      const reused = await send(route, path, other, key);
      expect(reused.status).toBe(422);
      expect(reused.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_reused' });
      expect(await moneyState()).toEqual(before);
      // The first request still replays.
      const replay = await send(route, path, body, key);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect([replay.status, replay.body]).toEqual([first.status, first.body]);
    });

    it('refuses a key held by a request still running (409 idempotency_key_in_use) and does nothing; once released, the request runs', async () => {
      const { path, body } = await route.request();
      const key = newKey();
      // The claim a running request holds: same request (method, path, body), locked now, no answer yet.
      const hash = createHash('sha256')
        .update(`POST ${path}\n${canonicalJson(body)}`)
        .digest('hex');
      await api.db.query(
        `INSERT INTO idempotency_keys (merchant_id, key, request_method, request_path, request_hash, lock_token, locked_at, expires_at)
         VALUES ('mer_default', $1, 'POST', $2, $3, gen_random_uuid(), now(), now() + interval '1 day')`,
        [key, path, hash],
      );
      const before = await moneyState();
      const busy = await send(route, path, body, key);
      expect(busy.status).toBe(409);
      expect(busy.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_in_use' });
      expect(busy.headers['retry-after']).toBe('1');
      expect(await moneyState()).toEqual(before);

      // The holder died long ago (its lock is stale): the same request takes the key over and runs.
      await api.db.query(`UPDATE idempotency_keys SET locked_at = now() - interval '1 hour' WHERE key = $1`, [key]);
      const resumed = await send(route, path, body, key);
      expect(resumed.body.error?.type).not.toBe('idempotency_error');
    });
  });

  it('a real concurrent request: while a slow charge holds its key, the same request gets 409; afterwards it replays', async () => {
    // A second instance whose simulator answers slowly (after recording the charge).
    const slow = await startTestApp(dbUrl, { SIMULATOR_LATENCY_MS: '3000', CIRCUIT_FAILURE_THRESHOLD: '1000' });
    try {
      const key = newKey();
      const body = processBody(productId, 'tok_visa');
      const first = processPayment(slow, sk, body, key).then((res) => res); // supertest sends on then()
      // Wait for the condition, not a time: the first request has recorded its payment under the key.
      await eventually(async () => {
        const { rows } = await api.db.query(`SELECT recovery_point FROM idempotency_keys WHERE key = $1 AND lock_token IS NOT NULL`, [key]);
        return rows[0] && rows[0].recovery_point !== 'started';
      });
      const busy = await processPayment(api, sk, body, key);
      expect(busy.status).toBe(409);
      expect(busy.body.error.code).toBe('idempotency_key_in_use');
      const done = await first;
      expect(done.status).toBe(201);
      const replay = await processPayment(api, sk, body, key);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body.id).toBe(done.body.id);
      const charges = await api.db.query(`SELECT count(*)::int AS n FROM simulator_charges WHERE reference = $1`, [done.body.id]);
      expect(charges.rows[0].n).toBe(1);
    } finally {
      await slow.close();
    }
  });
});
