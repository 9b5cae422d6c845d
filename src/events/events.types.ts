export const EVENT_TYPES = [
  'payment.succeeded',
  'payment.failed',
  'payment.refunded',
  'checkout.completed',
  'checkout.expired',
  'subscription.activated',
  'subscription.renewed',
  'subscription.past_due',
  'subscription.failed',
  'subscription.canceled',
  'gift_card.activated',
  'gift_card.redeemed',
  'dispute.created',
  'dispute.closed',
  'reconciliation.discrepancy',
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface DomainEventInput {
  merchantId: string;
  type: EventType;
  aggregateType: 'payment' | 'checkout_session' | 'subscription' | 'gift_card' | 'reconciliation' | 'webhook_endpoint';
  aggregateId: string;
  data: Record<string, unknown>;
}

/** What leaves through the outbox (API.md, domain events). */
export interface DomainEvent {
  id: string;
  type: EventType;
  createdAt: string;
  merchantId: string;
  data: Record<string, unknown>;
}
