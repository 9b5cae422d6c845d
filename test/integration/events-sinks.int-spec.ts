import { createHash, randomBytes } from 'node:crypto';
import { OutboxRelay } from '../../src/events/relay/outbox-relay';
import { DiscordDigestJob } from '../../src/events/notify/discord-digest.job';
import { DISCORD_LIMITS, embedLength, type DiscordEmbed } from '../../src/events/notify/discord.sink';
import { SimulatorRepository } from '../../src/payments/providers/simulator/simulator.repository';
import { EventReceiver } from '../helpers/event-receiver';
import { SmtpReceiver } from '../helpers/smtp-receiver';
import { activeGiftCard } from '../factories/gift-cards';
import { createProduct, eventually, processBody, processPayment, refundPayment, uniqueEmail } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('Notification sinks: Discord, Slack, Meta Conversions API and email against local receivers', () => {
  let dbUrl: string;
  let api: TestApp;
  let relay: OutboxRelay;
  let sk: string;
  let admin: string;
  let productId: string;
  const discord = new EventReceiver();
  const slack = new EventReceiver();
  const meta = new EventReceiver();
  const smtp = new SmtpReceiver();

  beforeAll(async () => {
    const [discordUrl, slackUrl, metaUrl, smtpUrl] = await Promise.all([discord.start(), slack.start(), meta.start(), smtp.start()]);
    dbUrl = await createTestDatabase();
    // The relay runs only when a test drains it.
    api = await startTestApp(dbUrl, {
      JOBS_ENABLED: 'false',
      DISCORD_WEBHOOK_URL: discordUrl,
      SLACK_WEBHOOK_URL: slackUrl,
      META_PIXEL_ID: '1234567890',
      META_ACCESS_TOKEN: 'meta-token',
      META_API_BASE: `${metaUrl.replace(/\/hooks$/, '')}/v19.0`,
      META_TEST_EVENT_CODE: 'TEST4242',
      SMTP_URL: smtpUrl,
      EMAIL_FROM: 'Shop <shop@example.com>',
    });
    relay = api.app.get(OutboxRelay);
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await Promise.all([discord.stop(), slack.stop(), meta.stop(), smtp.stop()]);
    await api?.close();
    await dropDatabase(dbUrl);
  });
  afterEach(() => {
    discord.reply = () => ({ status: 204 });
    slack.reply = () => ({ status: 200 });
    meta.reply = () => ({ status: 200 });
  });

  const pay = async (token = 'tok_visa', overrides: Record<string, unknown> = {}, product = productId) => {
    const res = await processPayment(api, sk, processBody(product, token, overrides));
    expect(res.status).toBe(201);
    return res.body as { id: string; amount: number; currency: string };
  };
  const embedsFor = (paymentId: string) =>
    discord.received
      .map((d) => (JSON.parse(d.body) as { embeds: DiscordEmbed[] }).embeds[0])
      .filter((e) => e.fields.some((f) => f.value === paymentId));
  const deliveryOf = async (sink: string, paymentId: string) => {
    const { rows } = await api.db.query<{ id: string; status: string; attempts: number; next_attempt_at: Date; prepared_payload: unknown }>(
      `SELECT d.id, d.status, d.attempts, d.next_attempt_at, d.prepared_payload
         FROM event_deliveries d JOIN outbox_events o ON o.merchant_id = d.merchant_id AND o.id = d.event_id
        WHERE d.sink = $1 AND o.aggregate_id = $2`,
      [sink, paymentId],
    );
    return rows;
  };
  const dueNow = (id: string) => api.db.query(`UPDATE event_deliveries SET next_attempt_at = now() WHERE id = $1`, [id]);

  it('Discord: a success and a failure as embeds with their fields, a long product name kept within Discord limits', async () => {
    const longName = `Extremely long product name ${'x'.repeat(170)}`;
    const longProduct = (await createProduct(api, admin, { name: longName })).id;
    const ok = await pay('tok_visa', {}, longProduct);
    const failed = await processPayment(api, sk, processBody(productId, 'tok_chargeDeclined'));
    expect(failed.status).toBe(402);
    const { rows: failedRows } = await api.db.query<{ id: string }>(
      `SELECT id FROM payments WHERE status = 'failed' ORDER BY created_at DESC LIMIT 1`,
    );
    const failedId = failedRows[0].id;
    await relay.drain();

    const [success] = embedsFor(ok.id);
    expect(success.title).toMatch(/^Payment succeeded: \d+\.\d{2} USD$/);
    expect(success.fields).toEqual(
      expect.arrayContaining([
        { name: 'Payment', value: ok.id, inline: true },
        { name: 'Amount', value: expect.stringMatching(/ USD$/), inline: true },
        { name: longName, value: expect.stringMatching(/^1 × /) },
      ]),
    );
    expect(success.description).toContain(longName);
    for (const embed of discord.received.flatMap((d) => (JSON.parse(d.body) as { embeds: DiscordEmbed[] }).embeds)) {
      expect(embed.title.length).toBeLessThanOrEqual(DISCORD_LIMITS.title);
      expect(embed.fields.length).toBeLessThanOrEqual(DISCORD_LIMITS.fields);
      for (const f of embed.fields) expect(f.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue);
      expect(embedLength(embed)).toBeLessThanOrEqual(DISCORD_LIMITS.total);
    }
    const [failure] = embedsFor(failedId);
    expect(failure.title).toMatch(/^Payment failed: \d+\.\d{2} USD$/);
    expect(failure.color).not.toBe(success.color);
    expect(failure.fields.find((f) => f.name === 'Reason')?.value).toBeTruthy();
    // Only payment.succeeded and payment.failed go to Discord: nothing for other event types.
    const { rows } = await api.db.query<{ event_type: string }>(`SELECT DISTINCT event_type FROM event_deliveries WHERE sink = 'discord'`);
    expect(rows.map((r) => r.event_type).sort()).toEqual(['payment.failed', 'payment.succeeded']);
  });

  it('Discord: a 429 with retry_after sets the next attempt, then the retry succeeds', async () => {
    let calls = 0;
    discord.reply = () =>
      ++calls === 1
        ? {
            status: 429,
            headers: { 'content-type': 'application/json' },
            body: '{"message":"rate limited","retry_after":30.5,"global":false}',
          }
        : { status: 204 };
    const p = await pay();
    const before = Date.now();
    await relay.drain();
    const [waiting] = await deliveryOf('discord', p.id);
    expect(waiting).toMatchObject({ status: 'failed', attempts: 1 });
    const waitMs = waiting.next_attempt_at.getTime() - before;
    expect(waitMs).toBeGreaterThan(29_000);
    expect(waitMs).toBeLessThan(33_000);
    expect(embedsFor(p.id)).toHaveLength(1);

    await dueNow(waiting.id);
    await relay.drain();
    expect((await deliveryOf('discord', p.id))[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(embedsFor(p.id)).toHaveLength(2);
  });

  it('Slack: a delivery that became dead in another sink is reported as a Slack message', async () => {
    discord.reply = () => ({ status: 500, body: 'boom' });
    const p = await pay();
    await relay.drain();
    // NOTIFY_RETRY_SCHEDULE 1,2,4: the fourth failure is the last.
    for (let i = 0; i < 3; i++) {
      const [open] = await deliveryOf('discord', p.id);
      expect(open.status).toBe('failed');
      await dueNow(open.id);
      await relay.drain();
    }
    const [dead] = await deliveryOf('discord', p.id);
    expect(dead).toMatchObject({ status: 'dead', attempts: 4 });

    const messages = slack.received
      .map((d) => JSON.parse(d.body) as { text: string; blocks: unknown[] })
      .filter((m) => m.text.includes(dead.id) || JSON.stringify(m).includes(dead.id));
    expect(messages).toHaveLength(1);
    expect(messages[0].text).toMatch(/^Delivery dead: payment\.succeeded evt_\S+ to discord \(discord\) after 4 attempt/);
    expect(JSON.stringify(messages[0].blocks)).toContain('HTTP 500');
    const [notice] = await deliveryOf('slack', p.id);
    expect(notice.status).toBe('delivered');
  });

  it('Slack: a reconciliation discrepancy (a charge at the provider that no payment accounts for) is reported as a Slack message', async () => {
    const stray = `sim_ch_stray_${randomBytes(6).toString('hex')}`;
    await api.app.get(SimulatorRepository).recordCharge({
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
    const from = new Date(Date.now() - 3_600_000);
    const to = new Date(Date.now() + 3_600_000);
    const started = await api.http().post('/admin/reconciliation/run').set('X-Api-Key', admin).send({ provider: 'simulator', from, to });
    expect(started.status).toBe(202);
    await eventually(async () => {
      const run = await api.http().get(`/admin/reconciliation/runs/${started.body.id}`).set('X-Api-Key', admin);
      return run.body.status === 'completed';
    });
    await relay.drain();

    const messages = slack.received
      .map((d) => JSON.parse(d.body) as { text: string; blocks: unknown[] })
      .filter((m) => m.text.includes(stray));
    expect(messages).toHaveLength(1);
    expect(messages[0].text).toBe(`Reconciliation discrepancy: missing_locally at simulator ${stray} (payment none)`);
    expect(JSON.stringify(messages[0].blocks)).toContain('4200');
  });

  it('Meta: a Purchase with event_id, value in major units, test code, and email and names hashed per Meta normalization; nothing raw stored', async () => {
    const email = `meta-${uniqueEmail()}`;
    const p = await pay('tok_visa', { customer: { email, name: "  Zoë  O'Brien-Smith ", country: 'US' } });
    await relay.drain();

    const calls = meta.received.filter((d) => d.body.includes(p.id));
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('/v19.0/1234567890/events?access_token=meta-token');
    const body = JSON.parse(calls[0].body) as { data: Array<Record<string, unknown> & { event_time: number }>; test_event_code: string };
    expect(body.test_event_code).toBe('TEST4242');
    expect(body.data).toHaveLength(1);
    const event = body.data[0];
    // Meta's rules, applied here by hand: email trimmed and lower-case; names lower-case without punctuation.
    expect(event).toEqual({
      event_name: 'Purchase',
      event_id: p.id,
      event_time: expect.any(Number),
      action_source: 'website',
      user_data: { em: [sha256(email.toLowerCase())], fn: [sha256('zoë')], ln: [sha256('obriensmith')] },
      custom_data: { value: p.amount / 100, currency: 'USD' },
    });
    expect(Math.abs(event.event_time - Date.now() / 1000)).toBeLessThan(120);
    expect(sha256('test@example.com')).toBe('973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b');

    const { rows } = await api.db.query(`SELECT * FROM event_deliveries WHERE sink = 'meta'`);
    expect(rows.length).toBeGreaterThan(0);
    const stored = JSON.stringify(rows).toLowerCase();
    expect(stored).not.toContain(email.toLowerCase());
    expect(stored).not.toContain('zoë');
    expect(stored).not.toContain('brien');
    expect(stored).toContain(sha256(email.toLowerCase()));
  });

  it('Email: the gift-card code reaches its recipient when the card activates (text and HTML)', async () => {
    const pk = await api.key('publishable');
    const code = await activeGiftCard(api, pk, 5000);
    await relay.drain();
    const mails = smtp.to('friend@example.com').filter((m) => m.raw.includes(code));
    expect(mails).toHaveLength(1);
    expect(mails[0].from).toBe('shop@example.com');
    expect(mails[0].raw).toMatch(/Content-Type: text\/plain/i);
    expect(mails[0].raw).toMatch(/Content-Type: text\/html/i);
    expect(mails[0].raw).toContain(`Your code: ${code}`);
    expect(mails[0].raw).toContain('Happy birthday!');
  });

  it('Email: receipts for a payment and its refund, in Brazilian Portuguese for a customer in Brazil, English otherwise', async () => {
    const brEmail = uniqueEmail();
    const usEmail = uniqueEmail();
    const br = await pay('tok_visa', { customer: { email: brEmail, name: 'João Silva', country: 'BR' } });
    await pay('tok_visa', { customer: { email: usEmail, name: 'Jane Doe', country: 'US' } });
    const refund = await refundPayment(api, admin, br.id, { amount: 100 });
    expect(refund.status).toBeLessThan(300);
    await relay.drain();

    const brMails = smtp.to(brEmail);
    expect(brMails).toHaveLength(2);
    const receipt = brMails.find((m) => m.raw.includes('Obrigado pela sua compra'));
    expect(receipt?.raw).toContain('Aqui está o seu recibo.');
    expect(receipt?.raw).toContain(br.id);
    expect(receipt?.raw).toMatch(/US\$\s1,00|US\$\s\d+,\d{2}/);
    expect(brMails.some((m) => m.raw.includes('Reembolsamos'))).toBe(true);

    const usMails = smtp.to(usEmail);
    expect(usMails).toHaveLength(1);
    expect(usMails[0].raw).toContain('Thank you for your purchase.');
  });

  it('Discord: the daily revenue digest per currency from the ledger, sent once per day', async () => {
    const a = await pay('tok_visa', { currency: 'BRL' });
    await pay('tok_visa', { currency: 'BRL' });
    expect((await refundPayment(api, admin, a.id, { amount: 1000 })).status).toBeLessThan(300);
    const job = api.app.get(DiscordDigestJob);
    const tomorrow = new Date(Date.now() + 86_400_000);
    const today = new Date().toISOString().slice(0, 10);
    const before = discord.received.length;

    expect(await job.run(tomorrow)).toMatchObject({ sent: true, day: today });
    expect(discord.received).toHaveLength(before + 1);
    const [embed] = (JSON.parse(discord.received[before].body) as { embeds: DiscordEmbed[] }).embeds;
    expect(embed.title).toBe(`Revenue ${today} (UTC)`);
    // Two BRL charges of 149.90 at list price, one refund of 10.00: independent of the other tests' USD.
    expect(embed.fields.find((f) => f.name === 'BRL')?.value).toBe('Sales 299.80 BRL · Refunds 10.00 BRL · Net 289.80 BRL · 2 charge(s)');
    expect(embed.fields.find((f) => f.name === 'USD')).toBeDefined();

    // A second run (another instance, the next hour) does not send the day again.
    expect(await job.run(tomorrow)).toMatchObject({ sent: false, reason: 'already_sent' });
    expect(discord.received).toHaveLength(before + 1);
  });
});
