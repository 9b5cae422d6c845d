import { findFreePort } from '../../src/database/embedded-postgres';
import { createProduct, eventually, ledgerTotals, newKey, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { cleanEnv, spawnProject, Spawned, waitFor } from '../helpers/process';

/**
 * The process dies (SIGKILL) after the simulator recorded the charge and before Paybridge stored the
 * result: the simulator's latency (applied after it records the charge) holds that window open.
 */
describe('crash between the provider call and the stored result (real process, SIGKILL)', () => {
  let dbUrl: string;
  let victim: Spawned | undefined;
  let survivor: TestApp | undefined;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
  });
  afterEach(async () => {
    if (victim && victim.child.exitCode === null) victim.child.kill('SIGKILL');
    await survivor?.close();
    survivor = undefined;
  });
  afterAll(() => dropDatabase(dbUrl));

  async function chargeThenKill(api: TestApp, sk: string, productId: string, key: string) {
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    victim = spawnProject(
      ['dist/main.js'],
      cleanEnv({
        DATABASE_URL: dbUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SIMULATOR_LATENCY_MS: '5000',
        JOBS_ENABLED: 'false',
        MIGRATE_ON_START: 'false',
      }),
    );
    await waitFor(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 30_000, 'the victim to start');
    const body = processBody(productId, 'tok_visa');
    const inFlight = fetch(`${base}/payments/process`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': sk, 'Idempotency-Key': key },
      body: JSON.stringify(body),
    }).catch((err: unknown) => err);
    // The simulator has recorded the charge; Paybridge is waiting for its answer.
    const paymentId = await eventually(async () => {
      const { rows } = await api.db.query<{ id: string }>(
        `SELECT p.id FROM payments p JOIN simulator_charges c ON c.reference = p.id WHERE p.idempotency_key = $1`,
        [key],
      );
      return rows[0]?.id;
    }, 10_000);
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(String(await inFlight)).toMatch(/fetch failed/); // the client never got an answer
    const { rows } = await api.db.query('SELECT status FROM payments WHERE id = $1', [paymentId]);
    expect(rows[0].status).toBe('processing');
    return { paymentId, body };
  }

  const chargesFor = async (api: TestApp, paymentId: string) =>
    (await api.db.query<{ n: number }>('SELECT count(*)::int AS n FROM simulator_charges WHERE reference = $1', [paymentId])).rows[0].n;

  it('the recovery job finishes the payment, and a retry with the key returns it: one charge, ledger balanced', async () => {
    survivor = await startTestApp(dbUrl, {
      RECOVERY_INTERVAL_MS: '200',
      RECOVERY_MIN_AGE_SECONDS: '1',
      IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '2',
    });
    const sk = await survivor.key('secret');
    const productId = (await createProduct(survivor, await survivor.key('admin'))).id;
    const key = newKey();
    const { paymentId, body } = await chargeThenKill(survivor, sk, productId, key);

    await eventually(async () => {
      const { rows } = await survivor!.db.query('SELECT status FROM payments WHERE id = $1', [paymentId]);
      return rows[0].status === 'succeeded';
    }, 15_000);

    const retry = await processPayment(survivor, sk, body, key);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toMatchObject({ id: paymentId, status: 'succeeded' });
    expect(await chargesFor(survivor, paymentId)).toBe(1);
    const totals = await ledgerTotals(survivor, 'USD');
    expect(totals.debits).toBe(totals.credits);
    const ledger = await survivor.db.query('SELECT count(*)::int AS n FROM ledger_entries WHERE payment_id = $1', [paymentId]);
    expect(ledger.rows[0].n).toBe(2);
  });

  it('without the job, the client retry resumes from the recovery point and asks the provider: one charge', async () => {
    survivor = await startTestApp(dbUrl, { JOBS_ENABLED: 'false' });
    const sk = await survivor.key('secret');
    const productId = (await createProduct(survivor, await survivor.key('admin'))).id;
    const key = newKey();
    const { paymentId, body } = await chargeThenKill(survivor, sk, productId, key);

    // While the dead request's lock is fresh, a retry is told to wait; once stale, it resumes.
    const early = await processPayment(survivor, sk, body, key);
    expect(early.status).toBe(409);
    // The dead request's lock goes stale (IDEMPOTENCY_LOCK_TIMEOUT_SECONDS): moved back in time, not waited for.
    await survivor.db.query(`UPDATE idempotency_keys SET locked_at = now() - interval '1 hour' WHERE key = $1`, [key]);
    const resumed = await processPayment(survivor, sk, body, key);
    expect(resumed.status).toBe(201);
    expect(resumed.body).toMatchObject({ id: paymentId, status: 'succeeded' });
    expect(await chargesFor(survivor, paymentId)).toBe(1);
    const again = await processPayment(survivor, sk, body, key);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(paymentId);
  });
});
