import { ApiKeysService } from '../../src/auth/api-keys.service';
import { eventually } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { chargeEvent, deliverSimulatorEvent } from '../factories/webhooks';

/** Webhook events that failed every attempt: listed and replayed by the admins of their merchant only. */
describe('webhook dead letters (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let admin: string;
  let otherAdmin: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // One attempt: a failing event is a dead letter at once.
    api = await startTestApp(dbUrl, { WEBHOOK_MAX_ATTEMPTS: '1' });
    admin = await api.key('admin');
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_other', 'Another merchant')`);
    otherAdmin = (await api.app.get(ApiKeysService).create('mer_other', 'admin')).secret;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const deadLetters = async (key: string) => {
    const res = await api.http().get('/admin/dead-letters').set('X-Api-Key', key);
    expect(res.status).toBe(200);
    return res.body.data as Array<{ id: string; eventId: string; status: string; lastError: string; merchantId: string }>;
  };

  it("lists a merchant's dead letters to its admins only, and replays them for them only", async () => {
    // A report of refunds for a charge no payment holds: its processing fails, and with one attempt it is dead.
    const dead = await deliverSimulatorEvent(
      api,
      'charge.refunded',
      chargeEvent('pay_nobody', 'sim_ch_nobody'),
      (stored) => stored.status === 'dead',
    );
    const mine = (await deadLetters(admin)).find((letter) => letter.eventId === dead.eventId);
    expect(mine).toMatchObject({ status: 'dead', merchantId: 'mer_default', lastError: expect.stringMatching(/sim_ch_nobody/) });
    // Another merchant's admin neither sees it nor can replay it.
    expect((await deadLetters(otherAdmin)).map((letter) => letter.eventId)).not.toContain(dead.eventId);
    const refused = await api.http().post(`/admin/dead-letters/${mine?.id}/replay`).set('X-Api-Key', otherAdmin);
    expect(refused.status).toBe(404);
    // Its own admin replays it: back in the queue with fresh attempts (and dead again, since it still fails).
    const replayed = await api.http().post(`/admin/dead-letters/${mine?.id}/replay`).set('X-Api-Key', admin);
    expect(replayed.status).toBe(201);
    expect(replayed.body).toMatchObject({ id: mine?.id, status: 'pending', attempts: 0 });
    await eventually(async () => {
      const { rows } = await api.db.query(`SELECT status, attempts FROM payment_webhook_events WHERE id = $1`, [mine?.id]);
      return rows[0].status === 'dead' && rows[0].attempts === 1;
    });
  });
});
