import { Client } from 'pg';

/** Set by global-setup for every worker. */
export const TEST_ENV = {
  baseUrl: () => required('PAYBRIDGE_TEST_BASE_URL'),
  template: () => required('PAYBRIDGE_TEST_TEMPLATE'),
  prefix: () => required('PAYBRIDGE_TEST_PREFIX'),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (global-setup)`);
  return value;
}

export function databaseUrl(baseUrl: string, database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl(TEST_ENV.baseUrl(), 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
