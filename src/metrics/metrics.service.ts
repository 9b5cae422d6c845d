import { Injectable } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, register, Registry } from 'prom-client';
import { DatabaseService } from '../database/database.service';

/**
 * One Prometheus registry per application instance (several instances can share a test process).
 * Other modules register their own metrics on `registry`. Node's process metrics are not an instance's:
 * main.ts collects them once into prom-client's default registry, and every scrape serves both.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(db: DatabaseService) {
    const pool = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    pool('db_pool_connections_total', 'Connections open in the main pool', () => db.stats().total);
    pool('db_pool_connections_in_use', 'Connections checked out of the main pool', () => db.stats().total - db.stats().idle);
    pool('db_pool_connections_idle', 'Idle connections in the main pool', () => db.stats().idle);
    pool('db_pool_waiting_requests', 'Requests waiting for a connection', () => db.stats().waiting);
    pool('db_pool_connections_max', 'Size of the main pool', () => db.stats().max);
  }

  /** Prometheus text format: this instance's metrics and the process's. */
  scrape(): Promise<string> {
    return Registry.merge([register, this.registry]).metrics();
  }

  counter(name: string, help: string, labelNames: string[]): Counter<string> {
    return (this.registry.getSingleMetric(name) as Counter<string>) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Observes every response, labelled by route template (not raw path). */
  observe(fastify: FastifyInstance): void {
    fastify.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });
  }
}
