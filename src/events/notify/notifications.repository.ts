import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';

/** A payment as the notification sinks describe it (Discord embeds, email receipts). */
export interface PaymentNotice {
  id: string;
  status: string;
  amount: number;
  amountRefunded: number;
  currency: string;
  failureCode: string | null;
  failureMessage: string | null;
  provider: string | null;
  lines: Array<{ name: string; quantity: number; amount: number }>;
  customer: { email: string; name: string | null; country: string | null };
}

/** What Meta's prepare step reads for each new delivery: the event and its customer, raw (hashed at once). */
export interface PurchaseSource {
  deliveryId: string;
  event: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
  email: string | null;
  name: string | null;
}

interface PaymentNoticeRow {
  id: string;
  status: string;
  amount: string;
  amount_refunded: string;
  currency: string;
  failure_code: string | null;
  failure_message: string | null;
  provider: string | null;
  lines: Array<{ name: string; quantity: number; amount: number }> | null;
  email: string;
  name: string | null;
  country: string | null;
}

/** Reads for the notification sinks (src/events/notify): payments, customers and gift cards. */
@Injectable()
export class NotificationsRepository {
  constructor(private readonly db: DatabaseService) {}

  async payment(merchantId: string, paymentId: string, executor: Executor = this.db): Promise<PaymentNotice | null> {
    const { rows } = await executor.query<PaymentNoticeRow>(
      `SELECT p.id, p.status, p.amount, p.amount_refunded, p.currency, p.failure_code, p.failure_message, p.provider, p.lines,
              c.email, c.name, c.country
         FROM payments p
         JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id
        WHERE p.merchant_id = $1
          AND p.id = $2`,
      [merchantId, paymentId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      status: row.status,
      amount: Number(row.amount),
      amountRefunded: Number(row.amount_refunded),
      currency: row.currency,
      failureCode: row.failure_code,
      failureMessage: row.failure_message,
      provider: row.provider,
      lines: (row.lines ?? []).map((l) => ({ name: l.name, quantity: l.quantity, amount: l.amount })),
      customer: { email: row.email, name: row.name, country: row.country },
    };
  }

  /** The events of these new deliveries with their customers' email and name (payment events only). */
  async purchaseSources(deliveryIds: string[], executor: Executor = this.db): Promise<PurchaseSource[]> {
    const { rows } = await executor.query<{ id: string; payload: PurchaseSource['event']; email: string | null; name: string | null }>(
      `SELECT d.id, o.payload, c.email, c.name
         FROM event_deliveries d
         JOIN outbox_events o ON o.merchant_id = d.merchant_id AND o.id = d.event_id
         LEFT JOIN customers c ON c.merchant_id = o.merchant_id AND c.id = o.payload #>> '{data,customer,id}'
        WHERE d.id = ANY ($1::text[])`,
      [deliveryIds],
    );
    return rows.map((r) => ({ deliveryId: r.id, event: r.payload, email: r.email, name: r.name }));
  }

  /**
   * A gift card's code and recipient, and the country of the customer who bought it (the email's
   * language), for a gift_card.activated event that does not carry them.
   */
  async giftCard(
    merchantId: string,
    giftCardId: string,
    executor: Executor = this.db,
  ): Promise<{
    code: string;
    recipientEmail: string;
    amount: number;
    currency: string;
    giftMessage: string | null;
    expiresAt: Date | null;
    buyerCountry: string | null;
  } | null> {
    const { rows } = await executor.query<{
      code: string;
      recipient_email: string;
      initial_amount: string;
      currency: string;
      gift_message: string | null;
      expires_at: Date | null;
      country: string | null;
    }>(
      `SELECT g.code, g.recipient_email, g.initial_amount, g.currency, g.gift_message, g.expires_at, c.country
         FROM gift_cards g
         LEFT JOIN checkout_sessions s ON s.merchant_id = g.merchant_id AND s.id = g.checkout_session_id
         LEFT JOIN customers c ON c.merchant_id = s.merchant_id AND c.id = s.customer_id
        WHERE g.merchant_id = $1
          AND g.id = $2`,
      [merchantId, giftCardId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      code: row.code,
      recipientEmail: row.recipient_email,
      amount: Number(row.initial_amount),
      currency: row.currency,
      giftMessage: row.gift_message,
      expiresAt: row.expires_at,
      buyerCountry: row.country,
    };
  }

  /** The buyer's country for a gift card bought in a checkout session (the email's language). */
  async buyerCountryOfGiftCard(merchantId: string, giftCardId: string, executor: Executor = this.db): Promise<string | null> {
    return (await this.giftCard(merchantId, giftCardId, executor))?.buyerCountry ?? null;
  }

  /**
   * Revenue per currency over [from, to) from the ledger, all merchants: sales (list price, less coupon
   * discounts; gift cards sold are a liability, not revenue), refunds, and the number of charges.
   */
  async revenueByCurrency(from: Date, to: Date, executor: Executor = this.db.reports): Promise<RevenueRow[]> {
    const { rows } = await executor.query<{ currency: string; sales: string; refunds: string; charges: number }>(
      `SELECT l.currency,
              coalesce(sum(l.amount) FILTER (WHERE l.account = 'sales' AND l.direction = 'credit'), 0)
                - coalesce(sum(l.amount) FILTER (WHERE l.account = 'discounts' AND l.direction = 'debit'), 0) AS sales,
              coalesce(sum(l.amount) FILTER (WHERE l.account = 'refunds' AND l.direction = 'debit'), 0) AS refunds,
              count(DISTINCT l.posting_id) FILTER (WHERE l.kind = 'charge')::int AS charges
         FROM ledger_entries l
        WHERE l.created_at >= $1
          AND l.created_at < $2
          AND l.kind IN ('charge', 'refund')
        GROUP BY l.currency
        ORDER BY l.currency`,
      [from, to],
    );
    return rows.map((r) => ({ currency: r.currency, sales: Number(r.sales), refunds: Number(r.refunds), charges: r.charges }));
  }

  async digestSent(kind: string, day: string, executor: Executor = this.db): Promise<boolean> {
    const { rows } = await executor.query(`SELECT 1 FROM notification_digests WHERE kind = $1 AND day = $2::date`, [kind, day]);
    return rows.length > 0;
  }

  async markDigestSent(kind: string, day: string, executor: Executor = this.db): Promise<void> {
    await executor.query(`INSERT INTO notification_digests (kind, day) VALUES ($1, $2::date) ON CONFLICT (kind, day) DO NOTHING`, [
      kind,
      day,
    ]);
  }
}

export interface RevenueRow {
  currency: string;
  /** Minor units: sales at list price less coupon discounts. */
  sales: number;
  refunds: number;
  charges: number;
}
