import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Counter, Gauge } from 'prom-client';
import { PLATFORM_MERCHANT_ID } from '../../auth/auth.types';
import type { Env } from '../../config/env';
import { CacheBus } from '../../common/cache/cache-bus';
import { TtlCache } from '../../common/cache/ttl-cache';
import { MetricsService } from '../../metrics/metrics.service';
import { Circuit, CircuitBreakerRepository, CircuitState } from './circuit-breaker.repository';

const STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };
/** Every instance rereads the shared state at least this often; transitions reach them at once by NOTIFY. */
const LOCAL_TTL_MS = 1000;

/**
 * A circuit breaker per provider whose state lives in PostgreSQL, so every instance agrees:
 * CIRCUIT_FAILURE_THRESHOLD consecutive provider failures open it; after CIRCUIT_OPEN_SECONDS one
 * caller probes (half-open): a success closes it, a failure opens it again. Declines are successes
 * (the provider answered). Reads are served from a local copy refreshed every second and dropped on
 * every transition anywhere (LISTEN/NOTIFY), so the hot path adds no query while all is well.
 */
@Injectable()
export class CircuitBreakerService {
  private readonly logger = new Logger(CircuitBreakerService.name);
  private readonly local = new TtlCache<Map<string, Circuit>>(LOCAL_TTL_MS);
  private readonly threshold: number;
  private readonly openSeconds: number;
  private readonly transitions: Counter<string>;

  constructor(
    private readonly circuits: CircuitBreakerRepository,
    private readonly bus: CacheBus,
    metrics: MetricsService,
    config: ConfigService<Env, true>,
  ) {
    this.threshold = config.get('CIRCUIT_FAILURE_THRESHOLD', { infer: true });
    this.openSeconds = config.get('CIRCUIT_OPEN_SECONDS', { infer: true });
    bus.subscribe('circuits', () => this.local.clear());
    this.transitions = metrics.counter('circuit_breaker_transitions_total', 'Circuit breaker transitions', ['provider', 'to']);
    const snapshot = () => this.snapshot();
    new Gauge({
      name: 'circuit_breaker_state',
      help: 'Circuit state per provider: 0 closed, 1 half-open, 2 open',
      labelNames: ['provider'],
      registers: [metrics.registry],
      async collect() {
        // A scrape must not fail when the database is busy: keep the last values.
        const circuits = await snapshot().catch(() => null);
        if (circuits) for (const circuit of circuits.values()) this.set({ provider: circuit.provider }, STATE_VALUE[circuit.state]);
      },
    });
  }

  /** May this provider be called now? An expired open circuit lets exactly one caller through. */
  async allows(provider: string): Promise<boolean> {
    const circuit = (await this.snapshot()).get(provider);
    if (!circuit || circuit.state === 'closed') return true;
    const since = circuit.state === 'open' ? circuit.openedAt : circuit.probeStartedAt;
    if (since && Date.now() - since.getTime() < this.openSeconds * 1000) return false;
    const probe = await this.circuits.claimProbe(provider, this.openSeconds);
    if (probe) await this.changed(provider, 'half_open');
    return probe;
  }

  /**
   * A failure a merchant provoked on purpose with a test token says nothing about the provider: it counts
   * only when the platform's own merchant sent it (its operators exercise the breaker that way); another
   * merchant's test failures are answered but never counted, so they cannot switch payments off for all.
   */
  async recordFailure(provider: string, cause: { merchantId?: string; testToken?: boolean } = {}): Promise<void> {
    if (cause.testToken && cause.merchantId !== PLATFORM_MERCHANT_ID) return;
    const { circuit, opened } = await this.circuits.recordFailure(provider, this.threshold);
    if (opened) {
      this.logger.warn({ provider, failures: circuit.consecutiveFailures }, 'circuit opened');
      this.transitions.inc({ provider, to: 'open' });
    }
    // Every instance must see the failure count, so that its next success resets it.
    await this.bus.publish('circuits');
  }

  async recordSuccess(provider: string): Promise<void> {
    const circuit = (await this.snapshot()).get(provider);
    if (!circuit || (circuit.state === 'closed' && circuit.consecutiveFailures === 0)) return;
    if (await this.circuits.recordSuccess(provider)) {
      this.logger.log({ provider }, 'circuit closed');
      await this.changed(provider, 'closed');
    }
  }

  /** Admin reset: closes one provider's circuit (or all) on every instance. */
  async reset(provider: string | null): Promise<void> {
    await this.circuits.reset(provider);
    this.logger.log({ provider: provider ?? 'all' }, 'circuit reset by an admin');
    await this.changed(provider ?? 'all', 'closed');
  }

  async states(providers: string[]): Promise<Array<Pick<Circuit, 'provider' | 'state' | 'consecutiveFailures' | 'openedAt'>>> {
    this.local.clear();
    const snapshot = await this.snapshot();
    return providers.map((provider) => {
      const circuit = snapshot.get(provider);
      return {
        provider,
        state: circuit?.state ?? 'closed',
        consecutiveFailures: circuit?.consecutiveFailures ?? 0,
        openedAt: circuit?.openedAt ?? null,
      };
    });
  }

  private snapshot(): Promise<Map<string, Circuit>> {
    return this.local.getOrLoad('all', async () => new Map((await this.circuits.findAll()).map((c) => [c.provider, c])));
  }

  private async changed(provider: string, to: CircuitState): Promise<void> {
    this.transitions.inc({ provider, to });
    await this.bus.publish('circuits');
  }
}
