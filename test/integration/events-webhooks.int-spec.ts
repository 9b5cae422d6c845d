import { ApiKeysService } from '../../src/auth/api-keys.service';
import { signWebhook } from '../../src/events/endpoints/webhook-signature';
import { OutboxRelay } from '../../src/events/relay/outbox-relay';
import { EventReceiver, verifyStandardWebhook } from '../helpers/event-receiver';
import { activeGiftCard } from '../factories/gift-cards';
import { createProduct, eventually, newKey, processBody, processPayment, refundPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('Merchant webhook endpoints: signed deliveries from the outbox (real PostgreSQL, local receivers)', () => {
  let dbUrl: string;
  let api: TestApp;
  let relay: OutboxRelay;
  let sk: string;
  let admin: string;
  let productId: string;
  const receivers: EventReceiver[] = [];

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // The relay runs only when a test drains it.
    api = await startTestApp(dbUrl, { JOBS_ENABLED: 'false', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_ENDPOINT_TIMEOUT_MS: '20000' });
    relay = api.app.get(OutboxRelay);
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await api?.close();
    await dropDatabase(dbUrl);
  });

  async function receiver(): Promise<{ receiver: EventReceiver; url: string }> {
    const r = new EventReceiver();
    receivers.push(r);
    return { receiver: r, url: await r.start() };
  }

  async function register(url: string, body: Record<string, unknown> = {}, key = sk) {
    const res = await api
      .http()
      .post('/webhook-endpoints')
      .set('X-Api-Key', key)
      .send({ url, ...body });
    expect(res.status).toBe(201);
    return res.body as { id: string; secret: string; url: string; events: string[]; status: string };
  }

  /** Every earlier test's endpoints stop receiving, so each test sees only its own deliveries. */
  afterEach(async () => {
    const { rows } = await api.db.query<{ id: string }>(`SELECT id FROM webhook_endpoints WHERE deleted_at IS NULL`);
    for (const { id } of rows) await api.http().delete(`/webhook-endpoints/${id}`).set('X-Api-Key', sk);
  });

  const pay = async () => {
    const res = await processPayment(api, sk, processBody(productId, 'tok_visa'));
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const deliveriesOf = async (endpointId: string) => {
    const res = await api.http().get(`/webhook-endpoints/${endpointId}/deliveries`).set('X-Api-Key', sk);
    expect(res.status).toBe(200);
    return res.body.data as Array<
      Record<string, unknown> & {
        attemptLog: Array<{ statusCode: number; attemptedAt: string }>;
        nextAttemptAt: string;
        eventId: string;
        lastError: string;
      }
    >;
  };
  const dueNow = (endpointId: string) =>
    api.db.query(`UPDATE event_deliveries SET next_attempt_at = now() WHERE target = $1`, [endpointId]);

  it('registers an endpoint with a secret shown once; lists and reads it without the secret; refuses bad input with 400', async () => {
    const { url } = await receiver();
    const created = await register(url, { events: ['payment.succeeded'], description: 'orders' });
    expect(created).toMatchObject({ url, events: ['payment.succeeded'], status: 'enabled', description: 'orders' });
    expect(created.id).toMatch(/^we_/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(32);

    const read = await api.http().get(`/webhook-endpoints/${created.id}`).set('X-Api-Key', sk);
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    const list = await api.http().get('/webhook-endpoints').set('X-Api-Key', admin);
    expect(list.body.data.map((e: { id: string }) => e.id)).toContain(created.id);
    expect(list.body.data.every((e: Record<string, unknown>) => e.secret === undefined)).toBe(true);

    const all = await register(url);
    expect(all.events).toContain('payment.refunded');

    for (const body of [{ url: 'ftp://example.com/x' }, { url: 'not a url' }, { url, events: ['payment.nope'] }, { url, events: [] }]) {
      const res = await api.http().post('/webhook-endpoints').set('X-Api-Key', sk).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error' });
    }
    const pk = await api.key('publishable');
    expect((await api.http().post('/webhook-endpoints').set('X-Api-Key', pk).send({ url })).status).toBe(403);
  });

  it('a payment and its refund reach the endpoint in order, signed per Standard Webhooks; a forged or stale signature is rejected', async () => {
    const { receiver: r, url } = await receiver();
    const endpoint = await register(url, { events: ['payment.succeeded', 'payment.refunded'] });
    const paymentId = await pay();
    expect((await refundPayment(api, admin, paymentId, { amount: 1000 })).status).toBe(201);
    await relay.drain();

    const forPayment = r.received.filter((d) => d.event.data.paymentId === paymentId || d.event.data.id === paymentId);
    expect(forPayment.map((d) => d.event.type)).toEqual(['payment.succeeded', 'payment.refunded']);
    for (const delivery of forPayment) {
      expect(verifyStandardWebhook(endpoint.secret, delivery)).toMatchObject({ id: delivery.event.id, type: delivery.event.type });
      expect(delivery.headers['webhook-id']).toBe(delivery.event.id);
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(delivery.event).toMatchObject({ merchantId: 'mer_default' });
      expect(delivery.event.id).toMatch(/^evt_/);
    }

    const [first] = forPayment;
    // Forged: another body under the same headers, or the right body signed with another secret.
    expect(() =>
      verifyStandardWebhook(endpoint.secret, { ...first, body: first.body.replace('payment.succeeded', 'payment.failed') }),
    ).toThrow();
    const other = (await register(url)).secret;
    expect(() => verifyStandardWebhook(other, first)).toThrow();
    // Stale: correctly signed, ten minutes old.
    const old = Math.floor(Date.now() / 1000) - 600;
    const stale = {
      body: first.body,
      headers: {
        ...first.headers,
        'webhook-timestamp': String(old),
        'webhook-signature': signWebhook(endpoint.secret, first.event.id, old, first.body),
      },
    };
    expect(() => verifyStandardWebhook(endpoint.secret, stale)).toThrow(/timestamp|too old/i);

    const deliveries = await deliveriesOf(endpoint.id);
    expect(deliveries.map((d) => [d.eventType, d.status, d.attempts])).toEqual([
      ['payment.refunded', 'delivered', 1],
      ['payment.succeeded', 'delivered', 1],
    ]);
  });

  it('a gift card’s activation and redemption reach the endpoint in order, signed', async () => {
    const { receiver: r, url } = await receiver();
    const endpoint = await register(url, { events: ['gift_card.activated', 'gift_card.redeemed'] });
    const pk = await api.key('publishable');
    const code = await activeGiftCard(api, pk, 5000);
    const redeemed = await api
      .http()
      .post('/gift-cards/redeem')
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', newKey())
      .send({ code, userId: 'user_42' });
    expect(redeemed.status).toBe(200);
    await relay.drain();

    expect(r.received.map((d) => d.event.type)).toEqual(['gift_card.activated', 'gift_card.redeemed']);
    for (const delivery of r.received) verifyStandardWebhook(endpoint.secret, delivery);
    expect(r.received[0].event.data).toMatchObject({ code, amount: 5000, currency: 'USD' });
    expect(r.received[1].event.data).toMatchObject({ userId: 'user_42', giftCardId: r.received[0].event.data.giftCardId });
  });

  it('500 three times, then 200: delivered on the fourth attempt, every attempt recorded', async () => {
    const { receiver: r, url } = await receiver();
    r.reply = (_, i) => ({ status: i < 3 ? 500 : 200 });
    const endpoint = await register(url, { events: ['payment.succeeded'] });
    await pay();
    for (let attempt = 1; attempt <= 3; attempt++) {
      await relay.drain();
      const [delivery] = await deliveriesOf(endpoint.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: attempt, lastStatusCode: 500 });
      // The first retry waits about 5 s (the Standard Webhooks schedule, ±20%): moved to now instead.
      if (attempt === 1) {
        const [{ attemptedAt }] = delivery.attemptLog;
        expect(new Date(delivery.nextAttemptAt).getTime() - new Date(attemptedAt).getTime()).toBeGreaterThanOrEqual(4000);
      }
      await dueNow(endpoint.id);
    }
    await relay.drain();
    const [delivery] = await deliveriesOf(endpoint.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 4, lastStatusCode: 200, nextAttemptAt: null });
    expect(delivery.attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 500, 200]);
    expect(delivery.attemptLog.every((a: { attemptedAt: string }) => !Number.isNaN(Date.parse(a.attemptedAt)))).toBe(true);
    expect(r.received).toHaveLength(4);
    expect(new Set(r.received.map((d) => d.headers['webhook-id'])).size).toBe(1);
    const stored = await api.db.query(`SELECT failing_since, last_success_at FROM webhook_endpoints WHERE id = $1`, [endpoint.id]);
    expect(stored.rows[0]).toMatchObject({ failing_since: null, last_success_at: expect.any(Date) });
  });

  it('410 disables the endpoint at once, closes its deliveries and writes webhook_endpoint.disabled', async () => {
    const { receiver: gone, url } = await receiver();
    gone.reply = () => ({ status: 410 });
    const endpoint = await register(url, { events: ['payment.succeeded'] });
    await Promise.all([pay(), pay()]);
    await relay.drain();
    expect(gone.received.length).toBeGreaterThanOrEqual(1);
    const read = await api.http().get(`/webhook-endpoints/${endpoint.id}`).set('X-Api-Key', sk);
    expect(read.body).toMatchObject({ status: 'disabled', disabledReason: 'gone' });
    const deliveries = await deliveriesOf(endpoint.id);
    expect(deliveries.map((d) => d.status)).toEqual(['dead', 'dead']);
    const events = await api.db.query(`SELECT payload FROM outbox_events WHERE type = 'webhook_endpoint.disabled' AND aggregate_id = $1`, [
      endpoint.id,
    ]);
    expect(events.rows.map((e) => e.payload.data)).toEqual([{ endpointId: endpoint.id, url, reason: 'gone' }]);
    // Nothing more is sent to it.
    const before = gone.received.length;
    await pay();
    await relay.drain();
    expect(gone.received).toHaveLength(before);
  });

  it('Retry-After is honoured; an endpoint failing for WEBHOOK_ENDPOINT_DISABLE_AFTER_DAYS without a success is disabled', async () => {
    const { receiver: r, url } = await receiver();
    r.reply = () => ({ status: 503, headers: { 'Retry-After': '120' } });
    const endpoint = await register(url, { events: ['payment.succeeded'] });
    await pay();
    await relay.drain();
    const [delivery] = await deliveriesOf(endpoint.id);
    expect(delivery).toMatchObject({ status: 'failed', lastStatusCode: 503 });
    expect(new Date(delivery.nextAttemptAt).getTime() - Date.now()).toBeGreaterThan(100_000);

    // Failing since six days (the default allowance is five): the next failure disables it.
    await api.db.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1`, [endpoint.id]);
    await dueNow(endpoint.id);
    await relay.drain();
    const read = await api.http().get(`/webhook-endpoints/${endpoint.id}`).set('X-Api-Key', sk);
    expect(read.body).toMatchObject({ status: 'disabled', disabledReason: 'failing' });
    const disabled = await api.db.query(`SELECT 1 FROM outbox_events WHERE type = 'webhook_endpoint.disabled' AND aggregate_id = $1`, [
      endpoint.id,
    ]);
    expect(disabled.rows).toHaveLength(1);

    // Enabled again by the merchant: resend delivers the event once the endpoint answers.
    r.reply = () => ({ status: 204 });
    const enabled = await api.http().patch(`/webhook-endpoints/${endpoint.id}`).set('X-Api-Key', sk).send({ status: 'enabled' });
    expect(enabled.body).toMatchObject({ status: 'enabled', disabledReason: null, failingSince: null });
    const resent = await api
      .http()
      .post(`/webhook-endpoints/${endpoint.id}/resend`)
      .set('X-Api-Key', sk)
      .send({ eventId: delivery.eventId });
    expect(resent.status).toBe(202);
    expect(resent.body).toMatchObject({ eventId: delivery.eventId, status: 'pending', attempts: 0 });
    await relay.drain();
    const [after] = await deliveriesOf(endpoint.id);
    expect(after).toMatchObject({ status: 'delivered', lastStatusCode: 204 });
    const unknown = await api.http().post(`/webhook-endpoints/${endpoint.id}/resend`).set('X-Api-Key', sk).send({ eventId: 'evt_nope' });
    expect(unknown.status).toBe(404);
  });

  it('a hanging endpoint does not delay another endpoint’s deliveries', async () => {
    const { receiver: hanging, url: hangingUrl } = await receiver();
    hanging.reply = () => 'hang';
    const { receiver: fast, url: fastUrl } = await receiver();
    const stuck = await register(hangingUrl, { events: ['payment.succeeded'] });
    await register(fastUrl, { events: ['payment.succeeded'] });
    const payments = await Promise.all([pay(), pay(), pay()]);

    const draining = relay.drain();
    await eventually(async () => fast.received.length === 3, 15_000);
    // Delivered while every delivery to the hanging endpoint still waits for its answer (timeout: 20 s).
    expect(hanging.received).toHaveLength(3);
    const open = await api.db.query(
      `SELECT count(*)::int AS n FROM event_deliveries d
        WHERE d.target = $1 AND d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM event_delivery_attempts a WHERE a.delivery_id = d.id)`,
      [stuck.id],
    );
    expect(open.rows[0].n).toBe(3);
    expect(fast.received.map((d) => d.event.data.paymentId ?? d.event.data.id).sort()).toEqual([...payments].sort());
    hanging.release(200);
    await draining;
  });

  it('merchants see only their own endpoints and deliveries', async () => {
    const { url } = await receiver();
    const mine = await register(url);
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_events_other', 'Other') ON CONFLICT DO NOTHING`);
    const otherKey = (await api.app.get(ApiKeysService).create('mer_events_other', 'secret')).secret;
    const theirs = await register(url, {}, otherKey);

    const list = await api.http().get('/webhook-endpoints').set('X-Api-Key', otherKey);
    expect(list.body.data.map((e: { id: string }) => e.id)).toEqual([theirs.id]);
    for (const req of [
      api.http().get(`/webhook-endpoints/${mine.id}`),
      api.http().get(`/webhook-endpoints/${mine.id}/deliveries`),
      api.http().patch(`/webhook-endpoints/${mine.id}`).send({ status: 'disabled' }),
      api.http().post(`/webhook-endpoints/${mine.id}/resend`).send({ eventId: 'evt_x' }),
      api.http().delete(`/webhook-endpoints/${mine.id}`),
    ]) {
      const res = await req.set('X-Api-Key', otherKey);
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing' });
    }
    // Our payment reaches our endpoint only.
    const paymentId = await pay();
    await relay.drain();
    const ours = await deliveriesOf(mine.id);
    expect(ours.some((d) => d.eventType === 'payment.succeeded')).toBe(true);
    const theirDeliveries = await api.db.query(`SELECT event_id FROM event_deliveries WHERE target = $1`, [theirs.id]);
    expect(theirDeliveries.rows).toEqual([]);
    expect(paymentId).toMatch(/^pay_/);
  });

  it('GET /events lists the merchant’s events with their deliveries; GET /events/:id reads one; type and dates filter', async () => {
    const { url } = await receiver();
    const endpoint = await register(url, { events: ['payment.succeeded'] });
    const paymentId = await pay();
    await relay.drain();

    const list = await api.http().get('/events?type=payment.succeeded&limit=5').set('X-Api-Key', sk);
    expect(list.status).toBe(200);
    expect(list.body.data.every((e: { type: string }) => e.type === 'payment.succeeded')).toBe(true);
    const event = list.body.data.find((e: { data: { paymentId?: string } }) => e.data.paymentId === paymentId);
    expect(event).toMatchObject({ id: expect.stringMatching(/^evt_/), type: 'payment.succeeded', merchantId: 'mer_default' });
    expect(event.deliveries).toEqual([
      expect.objectContaining({ sink: 'webhook_endpoint', endpointId: endpoint.id, status: 'delivered', attempts: 1, lastStatusCode: 200 }),
    ]);

    const one = await api.http().get(`/events/${event.id}`).set('X-Api-Key', sk);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(event);
    const later = await api
      .http()
      .get(`/events?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
      .set('X-Api-Key', sk);
    expect(later.body.data).toEqual([]);
    expect((await api.http().get('/events?type=nope').set('X-Api-Key', sk)).status).toBe(400);

    await api.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_events_other', 'Other') ON CONFLICT DO NOTHING`);
    const otherKey = (await api.app.get(ApiKeysService).create('mer_events_other', 'secret')).secret;
    expect((await api.http().get(`/events/${event.id}`).set('X-Api-Key', otherKey)).status).toBe(404);
    const theirs = await api.http().get('/events').set('X-Api-Key', otherKey);
    expect(theirs.body.data.some((e: { id: string }) => e.id === event.id)).toBe(false);
  });

  it('without WEBHOOK_ALLOW_PRIVATE_TARGETS: loopback and private URLs are refused at registration and at delivery', async () => {
    const strict = await startTestApp(dbUrl, { JOBS_ENABLED: 'false' });
    try {
      for (const url of [
        'http://127.0.0.1:9/x',
        'http://localhost/x',
        'https://10.1.2.3/x',
        'http://[::1]/x',
        'http://169.254.169.254/latest',
      ]) {
        const res = await strict.http().post('/webhook-endpoints').set('X-Api-Key', sk).send({ url });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'url' });
      }
      // Registered where private targets are allowed, then delivered by an instance that refuses them.
      const { receiver: r, url } = await receiver();
      const endpoint = await register(url, { events: ['payment.succeeded'] });
      await pay();
      await strict.app.get(OutboxRelay).drain();
      expect(r.received).toHaveLength(0);
      const [delivery] = await deliveriesOf(endpoint.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
      expect(delivery.lastError).toMatch(/private address/);
    } finally {
      await strict.close();
    }
  });
});
