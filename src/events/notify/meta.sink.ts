import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { toMajorString } from '../../common/money';
import type { Env } from '../../config/env';
import type { Executor } from '../../database/database.types';
import { DeliveriesRepository } from '../relay/deliveries.repository';
import type { ClaimedDelivery, FannedOutDelivery } from '../relay/deliveries.types';
import { parseSchedule } from '../relay/retry-schedule';
import type { Sink, SinkResult } from '../relay/sink';
import { NotificationsRepository, type PurchaseSource } from './notifications.repository';
import { notifyRetryDelay, postJson } from './notify-http';

/**
 * Meta Conversions API (META_PIXEL_ID and META_ACCESS_TOKEN): a `Purchase` server event per succeeded
 * payment, event_id = the payment id (Meta deduplicates it against the browser pixel's). The customer's
 * email and name are normalized and SHA-256-hashed when the delivery is created (prepare, in the fan-out
 * transaction): the delivery row holds only the hashes, never the raw values.
 */
@Injectable()
export class MetaSink implements Sink {
  readonly name = 'meta';
  readonly global = true;
  readonly eventTypes = ['payment.succeeded'] as const;
  readonly enabled: boolean;
  readonly perTarget = 4;
  readonly attemptTimeoutMs: number;
  private readonly url: string;
  private readonly testEventCode?: string;
  private readonly schedule: number[];

  constructor(
    config: ConfigService<Env, true>,
    private readonly notifications: NotificationsRepository,
    private readonly deliveries: DeliveriesRepository,
  ) {
    const pixel = config.get('META_PIXEL_ID', { infer: true });
    const token = config.get('META_ACCESS_TOKEN', { infer: true });
    this.enabled = Boolean(pixel && token);
    this.url = `${config.get('META_API_BASE', { infer: true })}/${pixel}/events?access_token=${encodeURIComponent(token ?? '')}`;
    this.testEventCode = config.get('META_TEST_EVENT_CODE', { infer: true });
    this.attemptTimeoutMs = config.get('NOTIFY_TIMEOUT_MS', { infer: true });
    this.schedule = parseSchedule(config.get('NOTIFY_RETRY_SCHEDULE', { infer: true }));
  }

  async prepare(created: FannedOutDelivery[], tx: Executor): Promise<void> {
    const sources = await this.notifications.purchaseSources(
      created.map((d) => d.id),
      tx,
    );
    await this.deliveries.setPrepared(
      sources.map((s) => ({ id: s.deliveryId, payload: purchaseEvent(s) })),
      tx,
    );
  }

  async deliver(delivery: ClaimedDelivery): Promise<SinkResult> {
    if (!delivery.prepared) return { delivered: false, final: true, error: 'no Purchase prepared at fan-out' };
    const body: Record<string, unknown> = { data: [delivery.prepared] };
    if (this.testEventCode) body.test_event_code = this.testEventCode;
    const result = await postJson(this.url, body, this.attemptTimeoutMs);
    // The access token is in the URL; an error message never quotes the URL, only Meta's answer.
    return result;
  }

  retryDelayMs(attempt: number, result: SinkResult): number | null {
    return notifyRetryDelay(this.schedule, attempt, result);
  }
}

/** The server event for one payment.succeeded, customer data hashed. */
export function purchaseEvent(source: PurchaseSource): Record<string, unknown> {
  const data = source.event.data as { paymentId: string; amount: number; currency: string; customer?: { email?: string } };
  const email = source.email ?? data.customer?.email ?? null;
  const userData: Record<string, string[]> = {};
  const em = email ? normalizeEmail(email) : '';
  if (em) userData.em = [sha256(em)];
  const { first, last } = splitName(source.name);
  const fn = first ? normalizeName(first) : '';
  const ln = last ? normalizeName(last) : '';
  if (fn) userData.fn = [sha256(fn)];
  if (ln) userData.ln = [sha256(ln)];
  return {
    event_name: 'Purchase',
    event_time: Math.floor(Date.parse(source.event.createdAt) / 1000),
    event_id: data.paymentId,
    action_source: 'website',
    user_data: userData,
    custom_data: { value: Number(toMajorString(data.amount, data.currency)), currency: data.currency },
  };
}

/** Meta's rules: email trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Meta's rules: names lower-cased, without punctuation, UTF-8 (accents kept). */
export function normalizeName(name: string): string {
  return name.normalize('NFC').toLowerCase().replace(/\p{P}/gu, '').trim();
}

/** A single `name` as first and last: the first word and, if there are more, the last one. */
export function splitName(name: string | null): { first: string | null; last: string | null } {
  const words = (name ?? '').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { first: null, last: null };
  return { first: words[0], last: words.length > 1 ? words[words.length - 1] : null };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
