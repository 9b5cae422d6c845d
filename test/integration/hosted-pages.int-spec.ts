import { awayFromMinuteEnd } from '../factories/clock';
import { activeGiftCard } from '../factories/gift-cards';
import { checkoutBody, createCheckout, createProduct, getPayment, newKey } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** The hosted checkout's capability routes (/pay/:sessionId/…) and the console's session and CSRF rules. */
describe('hosted pages: capability routes and console sessions', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', admin)
      .send({ code: 'HOSTED10', type: 'PERCENTAGE', percentOff: 10 });
    expect(coupon.status).toBe(201);
  });
  afterAll(async () => {
    await api?.close();
    if (dbUrl) await dropDatabase(dbUrl);
  });

  async function newSession() {
    const res = await createCheckout(api, pk, checkoutBody(productId));
    expect(res.status).toBe(201);
    return res.body;
  }

  it('every checkout session answer carries hostedUrl; the page reads it without a key, with no merchant metadata', async () => {
    const session = await newSession();
    expect(session.hostedUrl).toBe(`${api.url}/pay/${session.id}`);
    const view = await api.http().get(`/pay/${session.id}/session?locale=pt-BR`).expect(200);
    expect(view.body).toMatchObject({
      id: session.id,
      status: 'open',
      locale: 'pt-BR',
      currency: 'USD',
      exponent: 2,
      total: session.total,
    });
    expect(view.body.providers).toContain('simulator');
    expect(view.body).not.toHaveProperty('metadata');
    await api.http().get('/pay/cs_doesnotexist/session').expect(404);
  });

  it('a coupon replaces the session at the discounted price; a refused code changes nothing', async () => {
    const session = await newSession();
    const refused = await api.http().post(`/pay/${session.id}/discounts`).set('Idempotency-Key', newKey()).send({ couponCode: 'NOPE' });
    expect(refused.status).toBe(422);
    expect((await api.http().get(`/pay/${session.id}/session`)).body.status).toBe('open');

    const key = newKey();
    const applied = await api.http().post(`/pay/${session.id}/discounts`).set('Idempotency-Key', key).send({ couponCode: 'HOSTED10' });
    expect(applied.status).toBe(201);
    expect(applied.body.hostedUrl).toBe(`${api.url}/pay/${applied.body.id}`);
    const replacement = await api.http().get(`/payments/checkout/${applied.body.id}`).set('X-Api-Key', sk).expect(200);
    expect(replacement.body).toMatchObject({
      discount: Math.round(session.subtotal / 10),
      total: session.subtotal - Math.round(session.subtotal / 10),
      metadata: { paybridge_replaces: session.id },
    });
    expect((await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', sk)).body.status).toBe('canceled');
    // The same key replays the answer: no third session.
    const replay = await api.http().post(`/pay/${session.id}/discounts`).set('Idempotency-Key', key).send({ couponCode: 'HOSTED10' });
    expect(replay.body.id).toBe(applied.body.id);
    // Two replacements of one session at once: one goes on, the other is refused (no second session).
    const twice = await newSession();
    const racing = await Promise.all(
      ['HOSTED10', 'HOSTED10'].map((couponCode) =>
        api.http().post(`/pay/${twice.id}/discounts`).set('Idempotency-Key', newKey()).send({ couponCode }),
      ),
    );
    expect(racing.map((r) => r.status).sort()).toEqual([201, 422]);
    // A closed session takes nothing more.
    const closed = await api.http().post(`/pay/${session.id}/discounts`).set('Idempotency-Key', newKey()).send({ couponCode: 'HOSTED10' });
    expect(closed.status).toBe(422);
  });

  it('a gift card that covers the rest pays at once; continue opens the provider page that returns here', async () => {
    const card = await activeGiftCard(api, pk, 100_000);
    const session = await newSession();
    const paid = await api.http().post(`/pay/${session.id}/discounts`).set('Idempotency-Key', newKey()).send({ giftCardCode: card });
    expect(paid.status).toBe(201);
    expect(paid.body).toMatchObject({ status: 'succeeded', amount: session.total });
    expect((await getPayment(api, sk, paid.body.id)).giftCardAmount ?? session.total).toBe(session.total);

    const other = await newSession();
    const go = await api.http().post(`/pay/${other.id}/continue?locale=es`).send({ provider: 'simulator' }).expect(200);
    expect(go.body.url).toMatch(/\/simulator\/checkout\//);
    // The page the API opened returns a decline to the shop: the hosted page opens one that returns to it,
    // and closes the first. Continuing again (after a decline) reuses the page that returns here.
    expect(go.body.url).not.toBe(other.url);
    expect((await fetch(`${other.url}/pay`, { method: 'POST', redirect: 'manual' })).status).toBe(409);
    const declined = await fetch(`${go.body.url}/decline`, { method: 'POST', redirect: 'manual' });
    expect(declined.headers.get('location')).toBe(`${api.url}/pay/${other.id}?locale=es&returned=1`);
    const again = await api.http().post(`/pay/${other.id}/continue`).send({ provider: 'simulator' }).expect(200);
    expect(again.body.url).toBe(go.body.url);
    const refused = await api.http().post(`/pay/${other.id}/continue`).send({ provider: 'segpay' });
    expect(refused.status).toBe(422);
  });

  it('console: sign-in sets an HttpOnly SameSite=Strict cookie; reads work, writes need the CSRF token', async () => {
    const wrong = await api.http().post('/console/session').type('form').send({ apiKey: sk });
    expect(wrong.status).toBe(303);
    expect(wrong.headers.location).toBe('/console?signin=failed');
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const signIn = await api.http().post('/console/session').type('form').send({ apiKey: admin });
    expect(signIn.status).toBe(303);
    const setCookie = String(signIn.headers['set-cookie']);
    expect(setCookie).toMatch(/^pb_console=[A-Za-z0-9]+; Path=\/; HttpOnly; SameSite=Strict/);
    expect(setCookie).not.toContain(admin);
    const cookie = setCookie.split(';')[0];

    const me = await api.http().get('/console/session').set('Cookie', cookie).expect(200);
    expect(me.body.keyLast4).toBe(admin.slice(-4));
    await api.http().get('/admin/circuit-breaker').set('Cookie', cookie).expect(200);
    // The console is the admin key: a route that refuses admin keys refuses the console too.
    expect((await api.http().get('/transactions').set('Cookie', cookie)).status).toBe(403);

    const noToken = await api.http().post('/admin/circuit-breaker/reset').set('Cookie', cookie);
    expect(noToken.status).toBe(403);
    expect(noToken.body.error.code).toBe('csrf_token_invalid');
    const badToken = await api.http().post('/admin/circuit-breaker/reset').set('Cookie', cookie).set('X-CSRF-Token', 'x'.repeat(43));
    expect(badToken.status).toBe(403);
    await api.http().post('/admin/circuit-breaker/reset').set('Cookie', cookie).set('X-CSRF-Token', me.body.csrfToken).expect(200);

    // Signing out needs the token too, and ends the session.
    expect((await api.http().post('/console/session/sign-out').set('Cookie', cookie)).status).toBe(403);
    await api.http().post('/console/session/sign-out').set('Cookie', cookie).set('X-CSRF-Token', me.body.csrfToken).expect(200);
    expect((await api.http().get('/admin/circuit-breaker').set('Cookie', cookie)).status).toBe(401);
  });

  it('a revoked admin key ends its console sessions', async () => {
    const res = await api.http().post('/admin/api-keys').set('X-Api-Key', admin).send({ kind: 'admin' });
    expect(res.status).toBe(201);
    const signIn = await api.http().post('/console/session').type('form').send({ apiKey: res.body.secret });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0];
    await api.http().get('/admin/circuit-breaker').set('Cookie', cookie).expect(200);
    await api.http().delete(`/admin/api-keys/${res.body.id}`).set('X-Api-Key', admin).expect(200);
    const after = await api.http().get('/admin/circuit-breaker').set('Cookie', cookie);
    expect(after.status).toBe(401);
  });

  it('portal: a short-lived URL shows the customer its payments; allowed origins validate', async () => {
    const session = await newSession();
    const customerId = (await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', sk)).body.customer.id;
    const created = await api
      .http()
      .post('/portal/sessions')
      .set('X-Api-Key', sk)
      .send({ customerId, returnUrl: 'https://shop.example.com/account' })
      .expect(201);
    const token = new URL(created.body.url).pathname.split('/')[2];
    const view = await api.http().get(`/portal/${token}/session`).expect(200);
    expect(view.body.transactions.map((t: { id: string }) => t.id)).toContain(session.paymentId);
    await api.http().get('/portal/notavalidtoken/session').expect(404);

    // Gift-card lookups through a portal link are limited per address (20 a minute by default): guessing codes must not pay.
    await awayFromMinuteEnd(api, 5);
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      statuses.push(
        (
          await api
            .http()
            .post(`/portal/${token}/gift-card-balance`)
            .send({ code: `NOPE-${i}` })
        ).status,
      );
    }
    expect(statuses.slice(0, 20).every((s) => s === 404)).toBe(true);
    expect(statuses[20]).toBe(429);
    await api.http().post('/portal/sessions').set('X-Api-Key', pk).send({ customerId, returnUrl: 'https://x.example' }).expect(403);

    await api
      .http()
      .put('/admin/settings/allowed-origins')
      .set('X-Api-Key', admin)
      .send({ origins: ['https://shop.example/path'] })
      .expect(400);
    const saved = await api
      .http()
      .put('/admin/settings/allowed-origins')
      .set('X-Api-Key', admin)
      .send({ origins: ['https://shop.example'] })
      .expect(200);
    expect(saved.body.origins).toEqual(['https://shop.example']);
  });
});
