import { Client } from 'pg';
import { cleanEnv, spawnProject } from '../helpers/process';
import { createEmptyDatabase, dropDatabase } from '../factories/test-app';

describe('migrations (npm run migrate, real PostgreSQL)', () => {
  let url: string;
  beforeAll(async () => {
    url = await createEmptyDatabase();
  });
  afterAll(() => dropDatabase(url));

  const migrate = async () => {
    const run = spawnProject(['dist/database/migrate.cli.js'], cleanEnv({ DATABASE_URL: url }));
    const code = await run.exited;
    return { code, output: run.output() };
  };

  it('applies every migration to an empty database, from two processes at once, and a second run is a no-op', async () => {
    const [first, second] = await Promise.all([migrate(), migrate()]);
    expect([first.code, second.code]).toEqual([0, 0]);
    // The advisory lock serialises them: one applies, the other finds nothing left.
    const outputs = [first.output, second.output];
    expect(outputs.filter((o) => o.includes('Applied: 1732300000000_foundation'))).toHaveLength(1);
    expect(outputs.filter((o) => o.includes('No migrations to apply.'))).toHaveLength(1);

    const again = await migrate();
    expect(again.code).toBe(0);
    expect(again.output).toContain('No migrations to apply.');

    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(['api_keys', 'idempotency_keys', 'merchants', 'pgmigrations', 'product_prices', 'products']),
      );
      const merchants = await client.query(`SELECT id FROM merchants`);
      expect(merchants.rows).toEqual([{ id: 'mer_default' }]);
    } finally {
      await client.end();
    }
  });

  it('stops with a message naming the variable when configuration is invalid', async () => {
    const run = spawnProject(['dist/main.js'], cleanEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: 'many' }));
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('DATABASE_POOL_MAX');
  });

  it('keys:create prints a new key alone on stdout, and the key works', async () => {
    const run = spawnProject(['dist/auth/keys-create.cli.js', '--kind', 'admin'], cleanEnv({ DATABASE_URL: url }));
    let stdout = '';
    run.child.stdout?.on('data', (d) => (stdout += d));
    expect(await run.exited).toBe(0);
    expect(stdout).toMatch(/^ak_[A-Za-z0-9]{32}\n$/);
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT kind FROM api_keys WHERE key_hash = sha256($1::bytea)`, [stdout.trim()]);
      expect(rows).toEqual([{ kind: 'admin' }]);
    } finally {
      await client.end();
    }
    const bad = spawnProject(['dist/auth/keys-create.cli.js', '--kind', 'root'], cleanEnv({ DATABASE_URL: url }));
    expect(await bad.exited).toBe(1);
  });
});
