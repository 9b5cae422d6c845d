import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Counter } from 'prom-client';
import type { Env } from '../config/env';
import type { DomainError } from '../common/errors/domain-errors';
import { CountryBlockedError, FraudBlockedError } from './fraud-errors';
import { MetricsService } from '../metrics/metrics.service';
import { FraudRepository } from './fraud.repository';

export interface FraudSubject {
  merchantId: string;
  ip: string | null;
  email: string;
  country: string | null;
  /** Direct charges only: the provider and token that would be charged. */
  paymentMethod?: { provider: string; token: string };
}

export type FraudVerdict =
  | { allowed: true }
  | { allowed: false; rule: 'blocked_country' | 'velocity_ip' | 'velocity_card' | 'velocity_email'; detail: Record<string, unknown> };

/**
 * Seed 002's fraud rules, counted in PostgreSQL so that every instance agrees: velocity per client IP,
 * card fingerprint and customer email (successful or in-flight purchases in the last hour), and
 * blocked countries. A blocked attempt never reaches a provider.
 */
@Injectable()
export class FraudService {
  private readonly enabled: boolean;
  private readonly limits: { ip: number; card: number; email: number };
  private readonly blockedCountries: Set<string>;
  private readonly blocked: Counter<string>;

  constructor(
    private readonly fraud: FraudRepository,
    metrics: MetricsService,
    config: ConfigService<Env, true>,
  ) {
    this.enabled = config.get('FRAUD_ENABLED', { infer: true });
    const all = config.get('FRAUD_MAX_PURCHASES_PER_HOUR', { infer: true });
    this.limits = {
      ip: config.get('FRAUD_MAX_PURCHASES_PER_HOUR_PER_IP', { infer: true }) ?? all,
      card: config.get('FRAUD_MAX_PURCHASES_PER_HOUR_PER_CARD', { infer: true }) ?? all,
      email: config.get('FRAUD_MAX_PURCHASES_PER_HOUR_PER_EMAIL', { infer: true }) ?? all,
    };
    this.blockedCountries = new Set(
      config
        .get('FRAUD_BLOCKED_COUNTRIES', { infer: true })
        .split(',')
        .map((c) => c.trim().toUpperCase())
        .filter(Boolean),
    );
    this.blocked = metrics.counter('fraud_blocked_total', 'Payment attempts blocked by a fraud rule', ['rule']);
  }

  /** A stable, non-reversible identifier of the card behind a provider token. */
  fingerprint(method: { provider: string; token: string }): string {
    return createHash('sha256').update(`${method.provider}:${method.token}`).digest('hex').slice(0, 32);
  }

  async assess(subject: FraudSubject): Promise<FraudVerdict> {
    if (!this.enabled) return { allowed: true };
    if (subject.country && this.blockedCountries.has(subject.country)) {
      return this.block('blocked_country', { country: subject.country });
    }
    const fingerprint = subject.paymentMethod ? this.fingerprint(subject.paymentMethod) : null;
    const counts = await this.fraud.countRecent(subject.merchantId, { ip: subject.ip, fingerprint, email: subject.email }, this.limits);
    if (subject.ip && counts.ip >= this.limits.ip) return this.block('velocity_ip', { count: counts.ip, limit: this.limits.ip });
    if (fingerprint && counts.card >= this.limits.card) return this.block('velocity_card', { count: counts.card, limit: this.limits.card });
    if (counts.email >= this.limits.email) return this.block('velocity_email', { count: counts.email, limit: this.limits.email });
    return { allowed: true };
  }

  /** The API error of a blocked attempt: 403 for a blocked country, 402 fraud_blocked otherwise. */
  errorFor(verdict: Exclude<FraudVerdict, { allowed: true }>): DomainError {
    return verdict.rule === 'blocked_country' ? new CountryBlockedError() : new FraudBlockedError();
  }

  private block(rule: Exclude<FraudVerdict, { allowed: true }>['rule'], detail: Record<string, unknown>): FraudVerdict {
    this.blocked.inc({ rule });
    return { allowed: false, rule, detail };
  }
}
