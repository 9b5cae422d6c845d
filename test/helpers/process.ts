import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs a command of this project (the compiled dist/ that global-setup built) and collects its output. */
export function spawnProject(args: string[], env: Record<string, string | undefined>): Spawned {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** The environment of this process without the variables that would point a child at our databases. */
export function cleanEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('PAYBRIDGE_') || name === 'DATABASE_URL') delete env[name];
  return { ...env, ...extra };
}

export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
