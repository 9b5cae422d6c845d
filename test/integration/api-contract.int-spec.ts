import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { ROOT } from '../helpers/process';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface Contract {
  routes: Set<string>;
  planned: Set<string>;
  /** Code spans that look like routes but do not read as one `METHOD /path`. */
  unreadable: string[];
}

/**
 * The routes of docs/API.md: every code span `METHOD /path` (a query string after `?` is dropped), in
 * the section "Planned (not yet implemented)" or anywhere else. Spans are read over the whole text, as
 * markdown does, since a span may wrap onto the next line.
 */
function readContract(markdown: string): Contract {
  const contract: Contract = { routes: new Set(), planned: new Set(), unreadable: [] };
  const routeLike = new RegExp(`^(${METHODS.join('|')})(\\||\\s+/)`);
  const route = new RegExp(`^(${METHODS.join('|')}) (/[^\\s?\\[\\]|{}]*)(\\?\\S*)?$`);
  for (const section of markdown.split(/^(?=## )/m)) {
    const target = section.startsWith('## Planned') ? contract.planned : contract.routes;
    for (const [, span] of section.matchAll(/`([^`]+)`/g)) {
      if (!routeLike.test(span)) continue;
      const match = route.exec(span.replace(/\s+/g, ' '));
      if (match) target.add(`${match[1]} ${match[2]}`);
      else contract.unreadable.push(span);
    }
  }
  return contract;
}

/**
 * docs/API.md is the contract this project implements; the OpenAPI document is generated from the code.
 * They must agree: a route the contract names is served, a route the OpenAPI document serves is in the
 * contract, and a route the contract plans is not served yet (else the contract must say it is built).
 */
describe('docs/API.md against the served application and its OpenAPI document', () => {
  let dbUrl: string;
  let api: TestApp;
  let contract: Contract;
  let served: (route: string) => boolean;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    contract = readContract(readFileSync(join(ROOT, 'docs', 'API.md'), 'utf8'));
    const router = api.app.getHttpAdapter().getInstance();
    served = (r) => {
      const [method, url] = r.split(' ');
      return router.hasRoute({ method, url });
    };
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  it('reads every route of docs/API.md (one `METHOD /path` per code span)', () => {
    expect(contract.unreadable).toEqual([]);
    // The reader finds the routes at all: a few of each part, written as the code names their parameters.
    expect([...contract.routes]).toEqual(expect.arrayContaining(['GET /products/:id', 'POST /webhooks/segpay/:token', 'GET /docs-json']));
  });

  it('every route docs/API.md names is served, and every route it plans is not served yet', () => {
    expect([...contract.routes].filter((r) => !served(r))).toEqual([]);
    // A planned section may name a built route for what it will add to it (disputes in GET /transactions).
    expect([...contract.planned].filter((r) => !contract.routes.has(r) && served(r))).toEqual([]);
    // The router is asked for the method and the path's shape (parameter names aside): a path served
    // with another method is not served with this one.
    expect([served('GET /products/:id'), served('DELETE /products/:id')]).toEqual([true, false]);
  });

  it('every route of the served OpenAPI document is in docs/API.md', async () => {
    const res = await api.http().get('/docs-json');
    expect(res.status).toBe(200);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    const openApiRoutes = Object.entries(paths).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((method) => METHODS.includes(method.toUpperCase()))
        .map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(openApiRoutes.length).toBeGreaterThan(30);
    expect(openApiRoutes.filter((r) => !contract.routes.has(r))).toEqual([]);
  });
});
