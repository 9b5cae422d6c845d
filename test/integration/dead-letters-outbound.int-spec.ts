import { ApiKeysService } from '../../src/auth/api-keys.service';
import { OutboxRepository } from '../../src/events/outbox.repository';
import { OutboxRelay } from '../../src/events/relay/outbox-relay';
import { EventReceiver } from '../helpers/event-receiver';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

interface DeadLetter {
  id: string;
  direction: 'inbound' | 'outbound';
  status: string;
  attempts: number;
  eventId: string;
  endpointId?: string;
  lastStatusCode: number | null;
  attemptLog?: Array<{ statusCode: number }>;
}

/** Outgoing deliveries that died: listed and replayed through the admin dead-letter routes, per merchant. */
describe('outgoing dead letters (real PostgreSQL, a local endpoint)', () => {
  let dbUrl: string;
  let api: TestApp;
  let relay: OutboxRelay;
  let admin: string;
  let otherAdmin: string;
  const receiver = new EventReceiver();

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // Two attempts with no wait between them, then dead; the relay runs only when the test drains it.
    api = await startTestApp(dbUrl, {
      JOBS_ENABLED: 'false',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_ENDPOINT_RETRY_SCHEDULE: '0',
    });
    relay = api.app.get(OutboxRelay);
    admin = await api.key('admin');
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_other', 'Another merchant')`);
    otherAdmin = (await api.app.get(ApiKeysService).create('mer_other', 'admin')).secret;
  });
  afterAll(async () => {
    await receiver.stop();
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const list = async (key: string, query = '?direction=outbound') => {
    const res = await api.http().get(`/admin/dead-letters${query}`).set('X-Api-Key', key);
    expect(res.status).toBe(200);
    return res.body.data as DeadLetter[];
  };
  const deliveryStatus = async (id: string) =>
    (await api.db.query<{ status: string }>(`SELECT status FROM event_deliveries WHERE id = $1`, [id])).rows[0].status;

  it('a delivery that failed every attempt is listed (with its attempts) to its merchant only, and replayed: due now, attempts reset, delivered', async () => {
    const url = await receiver.start();
    receiver.reply = () => ({ status: 500 });
    const endpoint = await api.http().post('/webhook-endpoints').set('X-Api-Key', admin).send({ url });
    expect(endpoint.status).toBe(201);
    const outbox = api.app.get(OutboxRepository);
    await api.db.transaction((tx) =>
      outbox.insert(
        [
          {
            merchantId: 'mer_default',
            type: 'payment.succeeded',
            aggregateType: 'payment',
            aggregateId: 'pay_dead',
            data: { id: 'pay_dead' },
          },
        ],
        tx,
      ),
    );
    const event = (await api.db.query<{ id: string }>(`SELECT id FROM outbox_events WHERE aggregate_id = 'pay_dead'`)).rows[0];
    // Each drain makes one attempt of what is due; the schedule has two.
    for (let round = 0; round < 5 && receiver.received.length < 2; round++) await relay.drain();
    const dead = (await list(admin)).find((letter) => letter.eventId === event.id);
    expect(dead).toMatchObject({
      direction: 'outbound',
      status: 'dead',
      attempts: 2,
      endpointId: endpoint.body.id,
      lastStatusCode: 500,
      attemptLog: [{ statusCode: 500 }, { statusCode: 500 }],
    });
    const id = (dead as DeadLetter).id;

    // Inbound stays the default list; another merchant neither sees nor replays it.
    expect((await list(admin, '')).map((letter) => letter.id)).not.toContain(id);
    expect((await list(otherAdmin)).map((letter) => letter.id)).not.toContain(id);
    expect((await api.http().post(`/admin/dead-letters/${id}/replay`).set('X-Api-Key', otherAdmin)).status).toBe(404);
    expect(await deliveryStatus(id)).toBe('dead');

    receiver.reply = () => ({ status: 204 });
    const replayed = await api.http().post(`/admin/dead-letters/${id}/replay`).set('X-Api-Key', admin);
    expect(replayed.status).toBe(201);
    expect(replayed.body).toMatchObject({ id, direction: 'outbound', status: 'pending', attempts: 0, lastError: null });
    // Only a dead delivery is replayed: a second replay finds none.
    expect((await api.http().post(`/admin/dead-letters/${id}/replay`).set('X-Api-Key', admin)).status).toBe(404);

    await relay.drain();
    expect(await deliveryStatus(id)).toBe('delivered');
    expect(receiver.received.map((d) => d.headers['webhook-id'])).toEqual([event.id, event.id, event.id]);
    expect((await list(admin)).map((letter) => letter.id)).not.toContain(id);
  });

  it('an unknown direction is a 400 naming the field', async () => {
    const res = await api.http().get('/admin/dead-letters?direction=sideways').set('X-Api-Key', admin);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: 'direction' });
  });
});
