import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';
import type { CheckoutSession, CheckoutSessionRow, CheckoutStatus } from './checkout-sessions.types';
import { toCheckoutSession } from './checkout-sessions.types';
import type { Line } from '../payments.types';

const SELECT_SESSION = `
  SELECT s.merchant_id, s.id, s.status, s.currency, s.subtotal, s.discount, s.gift_card_applied, s.total, s.lines,
         s.customer_id, c.email AS customer_email, s.provider, s.provider_session_id, s.url, s.success_url, s.cancel_url,
         s.payment_id, s.metadata, s.idempotency_key, s.coupon_code, s.gift_card_code, s.save_payment_method, s.expires_at, s.completed_at, s.created_at, s.updated_at,
         s.provider_page_returns_to_hosted
    FROM checkout_sessions s
    JOIN customers c ON c.merchant_id = s.merchant_id AND c.id = s.customer_id`;

export interface NewCheckoutSession {
  merchantId: string;
  id: string;
  currency: string;
  subtotal: number;
  discount: number;
  giftCardApplied: number;
  total: number;
  lines: Line[];
  customerId: string;
  provider: string;
  successUrl: string;
  cancelUrl: string;
  paymentId: string;
  metadata: Record<string, string>;
  idempotencyKey: string | null;
  expiresInHours: number;
  couponCode: string | null;
  giftCardCode: string | null;
  savePaymentMethod: boolean;
}

@Injectable()
export class CheckoutSessionsRepository {
  constructor(private readonly db: DatabaseService) {}

  async insert(session: NewCheckoutSession, tx: Executor): Promise<void> {
    await tx.query(
      `INSERT INTO checkout_sessions (merchant_id, id, status, currency, subtotal, discount, gift_card_applied, total, lines,
                                      customer_id, provider, success_url, cancel_url, payment_id, metadata, idempotency_key, expires_at, coupon_code,
                                      gift_card_code, save_payment_method)
       VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now() + make_interval(hours => $16), $17, $18, $19)`,
      [
        session.merchantId,
        session.id,
        session.currency,
        session.subtotal,
        session.discount,
        session.giftCardApplied,
        session.total,
        JSON.stringify(session.lines),
        session.customerId,
        session.provider,
        session.successUrl,
        session.cancelUrl,
        session.paymentId,
        session.metadata,
        session.idempotencyKey,
        session.expiresInHours,
        session.couponCode,
        session.giftCardCode,
        session.savePaymentMethod,
      ],
    );
  }

  async findById(merchantId: string, id: string, executor: Executor = this.db): Promise<CheckoutSession | null> {
    const { rows } = await executor.query<CheckoutSessionRow>(`${SELECT_SESSION} WHERE s.merchant_id = $1 AND s.id = $2`, [merchantId, id]);
    return rows[0] ? toCheckoutSession(rows[0]) : null;
  }

  /** The hosted checkout page's lookup: a session id is unique across merchants (and the page's capability). */
  async findByIdAnyMerchant(id: string, executor: Executor = this.db): Promise<CheckoutSession | null> {
    const { rows } = await executor.query<CheckoutSessionRow>(`${SELECT_SESSION} WHERE s.id = $1`, [id]);
    return rows[0] ? toCheckoutSession(rows[0]) : null;
  }

  async findByIdForUpdate(merchantId: string, id: string, tx: Executor): Promise<CheckoutSession | null> {
    const { rows } = await tx.query<CheckoutSessionRow>(`${SELECT_SESSION} WHERE s.merchant_id = $1 AND s.id = $2 FOR UPDATE OF s`, [
      merchantId,
      id,
    ]);
    return rows[0] ? toCheckoutSession(rows[0]) : null;
  }

  async findByIdempotencyKey(merchantId: string, key: string, executor: Executor = this.db): Promise<CheckoutSession | null> {
    const { rows } = await executor.query<CheckoutSessionRow>(`${SELECT_SESSION} WHERE s.merchant_id = $1 AND s.idempotency_key = $2`, [
      merchantId,
      key,
    ]);
    return rows[0] ? toCheckoutSession(rows[0]) : null;
  }

  async findByProviderSession(
    merchantId: string,
    provider: string,
    providerSessionId: string,
    executor: Executor = this.db,
  ): Promise<CheckoutSession | null> {
    const { rows } = await executor.query<CheckoutSessionRow>(
      `${SELECT_SESSION} WHERE s.merchant_id = $1 AND s.provider = $2 AND s.provider_session_id = $3`,
      [merchantId, provider, providerSessionId],
    );
    return rows[0] ? toCheckoutSession(rows[0]) : null;
  }

  /**
   * Records where the customer pays: the provider's session and its hosted page, and whether that page
   * returns to Paybridge's hosted checkout (opened by it) or to the shop.
   */
  async attachProvider(
    merchantId: string,
    id: string,
    provider: string,
    providerSessionId: string,
    url: string,
    tx: Executor,
    returnsToHosted = false,
  ): Promise<void> {
    await tx.query(
      `UPDATE checkout_sessions
          SET provider = $3, provider_session_id = $4, url = $5, provider_page_returns_to_hosted = $6, updated_at = now()
        WHERE merchant_id = $1
          AND id = $2`,
      [merchantId, id, provider, providerSessionId, url, returnsToHosted],
    );
  }

  /** Moves the session from one of `from` to `to`; false if it was elsewhere. */
  async transition(merchantId: string, id: string, from: CheckoutStatus[], to: CheckoutStatus, tx: Executor): Promise<boolean> {
    const { rowCount } = await tx.query(
      `UPDATE checkout_sessions
          SET status = $4,
              completed_at = CASE WHEN $4 = 'complete' THEN now() ELSE completed_at END,
              updated_at = now()
        WHERE merchant_id = $1
          AND id = $2
          AND status = ANY($3::text[])`,
      [merchantId, id, from, to],
    );
    return rowCount === 1;
  }

  async setPayment(merchantId: string, id: string, paymentId: string, tx: Executor): Promise<void> {
    await tx.query(`UPDATE checkout_sessions SET payment_id = $3, updated_at = now() WHERE merchant_id = $1 AND id = $2`, [
      merchantId,
      id,
      paymentId,
    ]);
  }

  /** Open sessions past their expiry, oldest first. */
  async findExpired(limit: number): Promise<Array<{ merchantId: string; id: string }>> {
    const { rows } = await this.db.query<{ merchantId: string; id: string }>(
      `SELECT merchant_id AS "merchantId", id
         FROM checkout_sessions
        WHERE status = 'open'
          AND expires_at < now()
        ORDER BY expires_at
        LIMIT $1`,
      [limit],
    );
    return rows;
  }
}
