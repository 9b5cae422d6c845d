import { Socket } from 'node:net';
import { Client } from 'pg';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { createProduct, newKey, processBody, processPayment } from '../factories/payments';

/**
 * The cost of a direct payment the README states and the bench depends on (Architecture: 13 statements
 * in 5 round trips): the phases are declared through PhasedOperation, which must hand the key's writes
 * over (tx.later) so that they leave with the phase's own statements and COMMIT.
 */
describe('a direct payment: statements and round trips (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // No background job may send statements while one payment is counted.
    api = await startTestApp(dbUrl, { JOBS_ENABLED: 'false' });
    sk = await api.key('secret');
    productId = (await createProduct(api, await api.key('admin'))).id;
    await processPayment(api, sk, processBody(productId, 'tok_visa'), newKey()); // the customer exists, caches are warm
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  it('claim, phase 1, the simulator, the outcome: 20 statements (BEGIN, SET LOCAL and COMMIT included) in 5 socket writes', async () => {
    const port = Number(new URL(dbUrl).port || 5432);
    const statements: string[] = [];
    let writes = 0;
    const query = Client.prototype.query;
    const proto = Socket.prototype as unknown as {
      _write: (...args: unknown[]) => void;
      _writev: (...args: unknown[]) => void;
    };
    const { _write: write, _writev: writev } = proto;
    const toDatabase = (socket: Socket) => socket.remotePort === port;
    (Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text;
      statements.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    };
    // What reaches the socket: one chunk (_write), or the chunks a cork gathered (_writev), each one
    // write the database answers before the next can depend on it: a round trip.
    proto._write = function (this: Socket, ...args: unknown[]) {
      if (toDatabase(this)) writes++;
      return write.apply(this, args);
    };
    proto._writev = function (this: Socket, ...args: unknown[]) {
      if (toDatabase(this)) writes++;
      return writev.apply(this, args);
    };
    let status: number;
    try {
      status = (await processPayment(api, sk, processBody(productId, 'tok_visa'), newKey())).status;
    } finally {
      Client.prototype.query = query;
      proto._write = write;
      proto._writev = writev;
    }
    expect(status).toBe(201);
    expect(statements).toEqual([
      // the claim, committed without waiting for the disk
      'BEGIN',
      'SET LOCAL synchronous_commit',
      'WITH claimed AS',
      'COMMIT',
      // phase 1: the customer, the payment and its attempt, the recovery point (PhasedOperation.record)
      'BEGIN',
      'INSERT INTO customers',
      'UPDATE customers SET',
      'WITH payment AS',
      'WITH advanced AS',
      'COMMIT',
      // the simulator's record of the charge
      'BEGIN',
      'SET LOCAL synchronous_commit',
      'WITH inserted AS',
      'COMMIT',
      // the outcome and the stored answer (PhasedOperation.finish)
      'BEGIN',
      'WITH current AS',
      'INSERT INTO ledger_entries',
      'INSERT INTO outbox_events',
      'WITH completed AS',
      'COMMIT',
    ]);
    expect(writes).toBe(5);
  });
});
