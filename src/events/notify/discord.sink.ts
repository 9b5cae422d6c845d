import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { toMajorString } from '../../common/money';
import type { Env } from '../../config/env';
import type { ClaimedDelivery } from '../relay/deliveries.types';
import { parseSchedule } from '../relay/retry-schedule';
import type { Sink, SinkResult } from '../relay/sink';
import { NotificationsRepository, type PaymentNotice } from './notifications.repository';
import { notifyRetryDelay, postJson } from './notify-http';

/** Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
export const DISCORD_LIMITS = { title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, total: 6000 } as const;

const GREEN = 0x2ecc71;
const RED = 0xe74c3c;

export interface DiscordEmbed {
  title: string;
  description?: string;
  color: number;
  timestamp: string;
  fields: Array<{ name: string; value: string; inline?: boolean }>;
  footer?: { text: string };
}

/**
 * Discord (DISCORD_WEBHOOK_URL): payment.succeeded and payment.failed as embeds, cut to Discord's limits
 * (a long product name must not make Discord refuse the whole message). A 429's `retry_after` is the
 * next attempt's time; other failures follow NOTIFY_RETRY_SCHEDULE, then dead.
 */
@Injectable()
export class DiscordSink implements Sink {
  readonly name = 'discord';
  readonly global = true;
  readonly eventTypes = ['payment.succeeded', 'payment.failed'] as const;
  readonly enabled: boolean;
  // One at a time: Discord rate-limits per webhook, and order is what people read in the channel.
  readonly perTarget = 1;
  readonly attemptTimeoutMs: number;
  private readonly url?: string;
  private readonly schedule: number[];

  constructor(
    config: ConfigService<Env, true>,
    private readonly notifications: NotificationsRepository,
  ) {
    this.url = config.get('DISCORD_WEBHOOK_URL', { infer: true });
    this.enabled = Boolean(this.url);
    this.attemptTimeoutMs = config.get('NOTIFY_TIMEOUT_MS', { infer: true });
    this.schedule = parseSchedule(config.get('NOTIFY_RETRY_SCHEDULE', { infer: true }));
  }

  async deliver(delivery: ClaimedDelivery): Promise<SinkResult> {
    const data = delivery.event.data as { paymentId?: string };
    const payment = data.paymentId ? await this.notifications.payment(delivery.merchantId, data.paymentId) : null;
    if (!payment) return { delivered: false, final: true, error: `payment ${String(data.paymentId)} not found` };
    const embed = paymentEmbed(delivery.eventType, delivery.merchantId, payment, delivery.eventCreatedAt);
    return postJson(this.url as string, { username: 'Paybridge', embeds: [embed], allowed_mentions: { parse: [] } }, this.attemptTimeoutMs);
  }

  retryDelayMs(attempt: number, result: SinkResult): number | null {
    return notifyRetryDelay(this.schedule, attempt, result);
  }
}

/** One embed for a payment event, within Discord's limits. */
export function paymentEmbed(type: string, merchantId: string, payment: PaymentNotice, at: Date): DiscordEmbed {
  const succeeded = type === 'payment.succeeded';
  const amount = `${toMajorString(payment.amount, payment.currency)} ${payment.currency}`;
  const fields: DiscordEmbed['fields'] = [
    { name: 'Amount', value: amount, inline: true },
    { name: 'Payment', value: payment.id, inline: true },
    { name: 'Merchant', value: merchantId, inline: true },
    { name: 'Customer', value: payment.customer.email, inline: true },
  ];
  if (payment.provider) fields.push({ name: 'Provider', value: payment.provider, inline: true });
  if (!succeeded)
    fields.push({ name: 'Reason', value: [payment.failureCode, payment.failureMessage].filter(Boolean).join(': ') || 'unknown' });
  for (const line of payment.lines) {
    fields.push({
      name: line.name,
      value: `${line.quantity} × ${toMajorString(line.amount / line.quantity, payment.currency)} ${payment.currency}`,
    });
  }
  return fitEmbed({
    title: `${succeeded ? 'Payment succeeded' : 'Payment failed'}: ${amount}`,
    description: payment.lines.map((l) => `${l.quantity} × ${l.name}`).join('\n'),
    color: succeeded ? GREEN : RED,
    timestamp: at.toISOString(),
    fields,
    footer: { text: 'Paybridge' },
  });
}

/**
 * Cuts an embed to Discord's limits: each text to its own limit, at most 25 fields (the last says how
 * many were left out), and the total of every text under 6,000 characters (fields dropped from the end).
 */
export function fitEmbed(embed: DiscordEmbed): DiscordEmbed {
  const L = DISCORD_LIMITS;
  const fields = embed.fields.map((f) => ({ ...f, name: cut(f.name || '—', L.fieldName), value: cut(f.value || '—', L.fieldValue) }));
  const out: DiscordEmbed = { ...embed, title: cut(embed.title, L.title), fields };
  if (embed.description) out.description = cut(embed.description, L.description);
  else delete out.description;
  // Fields kept from the start; the rest summed up in a last field.
  let kept = Math.min(fields.length, L.fields);
  const build = () => {
    out.fields = fields.slice(0, kept);
    if (kept < fields.length) out.fields[kept - 1] = { name: '…', value: `${fields.length - kept + 1} more` };
  };
  build();
  while (embedLength(out) > L.total && kept > 1) {
    kept--;
    build();
  }
  const over = embedLength(out) - L.total;
  if (over > 0 && out.description) out.description = cut(out.description, Math.max(1, out.description.length - over));
  return out;
}

export function embedLength(embed: DiscordEmbed): number {
  return (
    embed.title.length +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    embed.fields.reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
