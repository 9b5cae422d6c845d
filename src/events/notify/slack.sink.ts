import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../config/env';
import { DeliveriesRepository } from '../relay/deliveries.repository';
import type { DomainEvent } from '../events.types';
import type { ClaimedDelivery, DeadDelivery } from '../relay/deliveries.types';
import { parseSchedule } from '../relay/retry-schedule';
import type { Sink, SinkResult } from '../relay/sink';
import { notifyRetryDelay, postJson } from './notify-http';

/**
 * Slack (SLACK_WEBHOOK_URL): tells the operators what needs a person. Reconciliation discrepancies: every
 * `reconciliation.discrepancy` event gets a delivery (target `slack`), its message built from the event.
 * Dead deliveries: each delivery of another sink that became dead writes one of its own, of the same
 * event, whose prepared payload is the message (target `slack:<dead target>`, so two endpoints failing one
 * event are two messages). Its own dead deliveries are not reported (they would loop).
 */
@Injectable()
export class SlackSink implements Sink {
  readonly name = 'slack';
  readonly global = true;
  readonly eventTypes = ['reconciliation.discrepancy'] as const;
  readonly enabled: boolean;
  readonly perTarget = 1;
  readonly attemptTimeoutMs: number;
  private readonly url?: string;
  private readonly schedule: number[];

  constructor(
    config: ConfigService<Env, true>,
    private readonly deliveries: DeliveriesRepository,
  ) {
    this.url = config.get('SLACK_WEBHOOK_URL', { infer: true });
    this.enabled = Boolean(this.url);
    this.attemptTimeoutMs = config.get('NOTIFY_TIMEOUT_MS', { infer: true });
    this.schedule = parseSchedule(config.get('NOTIFY_RETRY_SCHEDULE', { infer: true }));
  }

  async onDeadDelivery(dead: DeadDelivery): Promise<void> {
    if (dead.sink === this.name) return;
    await this.deliveries.insertNotice(dead.id, this.name, `${this.name}:${dead.target}`, deadDeliveryMessage(dead));
  }

  async deliver(delivery: ClaimedDelivery): Promise<SinkResult> {
    const message = delivery.prepared ?? (delivery.eventType === 'reconciliation.discrepancy' ? discrepancyMessage(delivery.event) : null);
    if (!message) return { delivered: false, final: true, error: 'no message prepared' };
    return postJson(this.url as string, message, this.attemptTimeoutMs);
  }

  retryDelayMs(attempt: number, result: SinkResult): number | null {
    return notifyRetryDelay(this.schedule, attempt, result);
  }
}

/** A Slack message (text for notifications, blocks for the channel) about one dead delivery. */
export function deadDeliveryMessage(dead: DeadDelivery): Record<string, unknown> {
  const text = `Delivery dead: ${dead.eventType} ${dead.eventId} to ${dead.sink} (${dead.target}) after ${dead.attempts} attempt(s)`;
  const reason = dead.lastError ?? (dead.lastStatusCode ? `HTTP ${dead.lastStatusCode}` : 'unknown');
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: 'Event delivery dead' } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Event*\n${dead.eventType}\n\`${dead.eventId}\`` },
          { type: 'mrkdwn', text: `*Sink*\n${dead.sink} (\`${dead.target}\`)` },
          { type: 'mrkdwn', text: `*Merchant*\n\`${dead.merchantId}\`` },
          { type: 'mrkdwn', text: `*Attempts*\n${dead.attempts}` },
        ],
      },
      { type: 'section', text: { type: 'mrkdwn', text: `*Last error*\n${escapeSlack(reason).slice(0, 2900)}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Delivery \`${dead.id}\`: replay it through the admin dead-letter routes.` }] },
    ],
  };
}

/** A Slack message about one reconciliation discrepancy: what we expected, what the provider shows. */
export function discrepancyMessage(event: DomainEvent): Record<string, unknown> {
  const d = event.data as {
    id?: string;
    kind?: string;
    provider?: string;
    providerRef?: string | null;
    paymentId?: string | null;
    expected?: unknown;
    actual?: unknown;
  };
  const text = `Reconciliation discrepancy: ${d.kind} at ${d.provider} ${d.providerRef ?? ''} (payment ${d.paymentId ?? 'none'})`;
  const json = (value: unknown) => escapeSlack(JSON.stringify(value ?? {})).slice(0, 1000);
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: 'Reconciliation discrepancy' } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Kind*\n${d.kind}` },
          { type: 'mrkdwn', text: `*Provider*\n${d.provider} \`${d.providerRef ?? '-'}\`` },
          { type: 'mrkdwn', text: `*Payment*\n\`${d.paymentId ?? 'none'}\`` },
          { type: 'mrkdwn', text: `*Merchant*\n\`${event.merchantId}\`` },
        ],
      },
      { type: 'section', text: { type: 'mrkdwn', text: `*Expected*\n${json(d.expected)}\n*Found*\n${json(d.actual)}` } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `Discrepancy \`${d.id}\`: resolve it through the admin reconciliation routes.` }],
      },
    ],
  };
}

/** Slack's mrkdwn treats &, < and > as markup. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
