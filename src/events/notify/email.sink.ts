import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createTransport, type Transporter } from 'nodemailer';
import type { Env } from '../../config/env';
import type { ClaimedDelivery } from '../relay/deliveries.types';
import { parseSchedule } from '../relay/retry-schedule';
import type { Sink, SinkResult } from '../relay/sink';
import { giftCardEmail, localeForCountry, receiptEmail, refundEmail, type RenderedEmail } from './email-templates';
import { NotificationsRepository } from './notifications.repository';
import { notifyRetryDelay } from './notify-http';

/**
 * Email over SMTP (SMTP_URL, from EMAIL_FROM): the gift-card code to its recipient when the card
 * activates, and a receipt to the customer for each succeeded payment and each refund; plain text and
 * HTML, in Brazilian Portuguese for customers in Brazil, English otherwise. A permanent SMTP refusal
 * (5xx: no such mailbox) makes the delivery dead at once; anything else follows NOTIFY_RETRY_SCHEDULE.
 */
@Injectable()
export class EmailSink implements Sink, OnApplicationShutdown {
  readonly name = 'email';
  readonly global = true;
  readonly eventTypes = ['gift_card.activated', 'payment.succeeded', 'payment.refunded'] as const;
  readonly enabled: boolean;
  readonly perTarget = 4;
  readonly attemptTimeoutMs: number;
  private readonly from: string;
  private readonly schedule: number[];
  private readonly transport: Transporter | null;

  constructor(
    config: ConfigService<Env, true>,
    private readonly notifications: NotificationsRepository,
  ) {
    const url = config.get('SMTP_URL', { infer: true });
    this.enabled = Boolean(url);
    this.from = config.get('EMAIL_FROM', { infer: true });
    this.attemptTimeoutMs = config.get('NOTIFY_TIMEOUT_MS', { infer: true });
    this.schedule = parseSchedule(config.get('NOTIFY_RETRY_SCHEDULE', { infer: true }));
    const t = Math.floor(this.attemptTimeoutMs / 2);
    this.transport = url ? createTransport({ url, connectionTimeout: t, greetingTimeout: t, socketTimeout: t }) : null;
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }

  async deliver(delivery: ClaimedDelivery): Promise<SinkResult> {
    const message = await this.compose(delivery);
    if ('error' in message) return { delivered: false, final: true, error: message.error };
    try {
      await (this.transport as Transporter).sendMail({
        from: this.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        // The delivery id: a retry after a lost answer is recognisably the same message.
        messageId: `<${delivery.id}@paybridge>`,
        headers: { 'X-Paybridge-Event': delivery.eventId },
      });
      return { delivered: true };
    } catch (err) {
      const e = err as Error & { responseCode?: number };
      return { delivered: false, statusCode: e.responseCode, error: e.message, final: (e.responseCode ?? 0) >= 500 };
    }
  }

  retryDelayMs(attempt: number, result: SinkResult): number | null {
    return notifyRetryDelay(this.schedule, attempt, result);
  }

  private async compose(delivery: ClaimedDelivery): Promise<(RenderedEmail & { to: string }) | { error: string }> {
    const data = delivery.event.data as Record<string, unknown>;
    if (delivery.eventType === 'gift_card.activated') {
      const giftCardId = String(data.giftCardId);
      // The event carries the code and recipient; an older or slimmer event is completed from the card.
      const card =
        typeof data.code === 'string' && typeof data.recipientEmail === 'string'
          ? {
              code: data.code,
              recipientEmail: data.recipientEmail,
              amount: Number(data.amount),
              currency: String(data.currency),
              giftMessage: (data.giftMessage as string | null) ?? null,
              expiresAt: (data.expiresAt as string | null) ?? null,
              buyerCountry: await this.notifications.buyerCountryOfGiftCard(delivery.merchantId, giftCardId),
            }
          : await this.notifications
              .giftCard(delivery.merchantId, giftCardId)
              .then((c) => c && { ...c, expiresAt: c.expiresAt?.toISOString() ?? null });
      if (!card) return { error: `gift card ${giftCardId} not found` };
      return { to: card.recipientEmail, ...giftCardEmail(card, localeForCountry(card.buyerCountry)) };
    }
    const payment = await this.notifications.payment(delivery.merchantId, String(data.paymentId));
    if (!payment) return { error: `payment ${String(data.paymentId)} not found` };
    const locale = localeForCountry(payment.customer.country);
    const rendered =
      delivery.eventType === 'payment.refunded' ? refundEmail(payment, Number(data.refundAmount), locale) : receiptEmail(payment, locale);
    return { to: payment.customer.email, ...rendered };
  }
}
