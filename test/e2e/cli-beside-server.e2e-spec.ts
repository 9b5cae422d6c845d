import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findFreePort } from '../../src/database/embedded-postgres';
import { createTestDatabase, dropDatabase } from '../factories/test-app';
import { cleanEnv, ROOT, spawnProject, Spawned, waitFor } from '../helpers/process';

/** Every file under dist/ with its inode and modification time: a rebuild changes at least one of them. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const stat = statSync(path);
    files[path] = `${stat.ino}:${stat.mtimeMs}`;
  }
  return files;
}

/** `npm run --silent <script>` as a user types it, with stdout and stderr apart (keys:create's stdout is the key). */
function npmRun(args: string[], env: Record<string, string | undefined>) {
  const child = spawn('npm', ['run', '--silent', ...args], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

/**
 * The README has users run `npm run keys:create` while `npm start` serves from dist/. The command-line
 * tools must not rebuild dist/ under that server (nest build empties it first: a restart, or a module the
 * server loads late, would find it missing or half written).
 */
describe('npm run keys:create and npm run migrate beside a running server (real processes)', () => {
  let dbUrl: string;
  let server: Spawned | undefined;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
  });
  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await dropDatabase(dbUrl);
  });

  it("leave the server's dist/ untouched, and the key created works on that server", async () => {
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    const env = cleanEnv({ DATABASE_URL: dbUrl, LOG_LEVEL: 'warn', JOBS_ENABLED: 'false' });
    server = spawnProject(['dist/main.js'], { ...env, PORT: String(port), HOST: '127.0.0.1' });
    await waitFor(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 30_000, `the server\n${server.output()}`);
    const dist = join(ROOT, 'dist');
    const before = snapshot(dist);
    expect(Object.keys(before)).toContain(join(dist, 'main.js'));

    const created = await npmRun(['keys:create', '--', '--kind', 'secret'], env);
    expect(created).toMatchObject({ code: 0 }); // on failure, jest shows its stderr too
    expect(created.stdout).toMatch(/^sk_[A-Za-z0-9]{32}\n$/);
    const migrated = await npmRun(['migrate'], env);
    expect(migrated).toMatchObject({ code: 0 });
    expect(migrated.stdout).toContain('No migrations to apply.');

    expect(snapshot(dist)).toEqual(before);
    expect(server.child.exitCode).toBeNull();
    const products = await fetch(`${base}/products`, { headers: { 'X-Api-Key': created.stdout.trim() } });
    expect(products.status).toBe(200);
  }, 180_000);
});
