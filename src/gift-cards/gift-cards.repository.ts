import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { GiftCard, GiftCardRow, toGiftCard } from './gift-cards.types';

const COLUMNS = `merchant_id, id, code, status, currency, initial_amount, balance, votes, recipient_email, gift_message,
                 checkout_session_id, redeemed_by, redeemed_at, activated_at, expires_at, created_at`;

export interface NewGiftCard {
  merchantId: string;
  id: string;
  code: string;
  currency: string;
  amount: number;
  votes: number;
  recipientEmail: string;
  giftMessage: string | null;
  purchaserCustomerId: string;
  checkoutSessionId: string;
}

@Injectable()
export class GiftCardsRepository {
  constructor(private readonly db: DatabaseService) {}

  /** A pending card: no balance is usable until its purchase is paid. Null if the code is taken. */
  async insertPending(card: NewGiftCard, tx: Executor): Promise<GiftCard | null> {
    const { rows } = await tx.query<GiftCardRow>(
      `INSERT INTO gift_cards (merchant_id, id, code, status, currency, initial_amount, balance, votes, recipient_email, gift_message,
                               purchaser_customer_id, checkout_session_id)
       VALUES ($1, $2, $3, 'pending', $4, $5, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (merchant_id, code) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        card.merchantId,
        card.id,
        card.code,
        card.currency,
        card.amount,
        card.votes,
        card.recipientEmail,
        card.giftMessage,
        card.purchaserCustomerId,
        card.checkoutSessionId,
      ],
    );
    return rows[0] ? toGiftCard(rows[0]) : null;
  }

  async findBySession(merchantId: string, sessionId: string, executor: Executor = this.db): Promise<GiftCard | null> {
    const { rows } = await executor.query<GiftCardRow>(
      `SELECT ${COLUMNS} FROM gift_cards WHERE merchant_id = $1 AND checkout_session_id = $2`,
      [merchantId, sessionId],
    );
    return rows[0] ? toGiftCard(rows[0]) : null;
  }

  async findByCode(merchantId: string, code: string, executor: Executor = this.db): Promise<GiftCard | null> {
    const { rows } = await executor.query<GiftCardRow>(`SELECT ${COLUMNS} FROM gift_cards WHERE merchant_id = $1 AND code = $2`, [
      merchantId,
      code,
    ]);
    return rows[0] ? toGiftCard(rows[0]) : null;
  }

  /** pending → active for the card bought in this checkout session; null if there is none or it was done. */
  async activateForSession(merchantId: string, sessionId: string, expiryDays: number, tx: Executor): Promise<GiftCard | null> {
    const { rows } = await tx.query<GiftCardRow>(
      `WITH activated AS (
         UPDATE gift_cards
            SET status = 'active', activated_at = now(), expires_at = now() + make_interval(days => $3), updated_at = now()
          WHERE merchant_id = $1 AND checkout_session_id = $2 AND status = 'pending'
         RETURNING ${COLUMNS}
       ), logged AS (
         INSERT INTO gift_card_transactions (merchant_id, gift_card_id, kind, amount, reference)
         SELECT merchant_id, id, 'activation', initial_amount, $2 FROM activated
       )
       SELECT * FROM activated`,
      [merchantId, sessionId, expiryDays],
    );
    return rows[0] ? toGiftCard(rows[0]) : null;
  }

  /** Assigns the card to a user, once. Null when it is not active or already redeemed. */
  async redeem(merchantId: string, code: string, userId: string, tx: Executor): Promise<GiftCard | null> {
    const { rows } = await tx.query<GiftCardRow>(
      `UPDATE gift_cards
          SET redeemed_by = $3, redeemed_at = now(), updated_at = now()
        WHERE merchant_id = $1 AND code = $2 AND status = 'active' AND redeemed_by IS NULL AND expires_at > now()
       RETURNING ${COLUMNS}`,
      [merchantId, code, userId],
    );
    return rows[0] ? toGiftCard(rows[0]) : null;
  }

  /**
   * Spends `amount` if, and only if, the card is active, unexpired, in that currency and holds at least
   * that much: one conditional UPDATE, so racing uses can never take the balance below zero.
   */
  async debit(
    merchantId: string,
    code: string,
    amount: number,
    currency: string,
    reference: string,
    tx: Executor,
  ): Promise<GiftCard | null> {
    const { rows } = await tx.query<GiftCardRow>(
      `WITH debited AS (
         UPDATE gift_cards
            SET balance = balance - $3, updated_at = now()
          WHERE merchant_id = $1 AND code = $2 AND status = 'active' AND expires_at > now() AND currency = $4 AND balance >= $3
         RETURNING ${COLUMNS}
       ), logged AS (
         INSERT INTO gift_card_transactions (merchant_id, gift_card_id, kind, amount, reference)
         SELECT merchant_id, id, 'use', $3, $5 FROM debited
       )
       SELECT * FROM debited`,
      [merchantId, code, amount, currency, reference],
    );
    return rows[0] ? toGiftCard(rows[0]) : null;
  }

  /** Puts `amount` back on a card (a failed payment's hold, a refund). */
  async credit(merchantId: string, code: string, amount: number, reference: string, tx: Executor): Promise<GiftCard | null> {
    const { rows } = await tx.query<GiftCardRow>(
      `WITH credited AS (
         UPDATE gift_cards
            SET balance = balance + $3, updated_at = now()
          WHERE merchant_id = $1 AND code = $2 AND status = 'active' AND expires_at > now() AND balance + $3 <= initial_amount
         RETURNING ${COLUMNS}
       ), logged AS (
         INSERT INTO gift_card_transactions (merchant_id, gift_card_id, kind, amount, reference)
         SELECT merchant_id, id, 'refund', $3, $4 FROM credited
       )
       SELECT * FROM credited`,
      [merchantId, code, amount, reference],
    );
    return rows[0] ? toGiftCard(rows[0]) : null;
  }

  /** Active cards past their expiry that still hold a balance, oldest first. */
  async findExpired(limit: number): Promise<Array<{ merchantId: string; id: string }>> {
    const { rows } = await this.db.query<{ merchantId: string; id: string }>(
      `SELECT merchant_id AS "merchantId", id FROM gift_cards WHERE status = 'active' AND expires_at <= now() ORDER BY expires_at LIMIT $1`,
      [limit],
    );
    return rows;
  }

  /** active → expired; the remaining balance (returned) leaves the card. */
  async expire(merchantId: string, id: string, tx: Executor): Promise<(GiftCard & { forfeited: number }) | null> {
    const { rows } = await tx.query<GiftCardRow & { forfeited: number }>(
      `WITH old AS (
         SELECT balance FROM gift_cards WHERE merchant_id = $1 AND id = $2 FOR UPDATE
       ), expired AS (
         UPDATE gift_cards g
            SET status = 'expired', balance = 0, updated_at = now()
           FROM old
          WHERE g.merchant_id = $1 AND g.id = $2 AND g.status = 'active' AND g.expires_at <= now()
         RETURNING g.*, old.balance AS forfeited
       ), logged AS (
         INSERT INTO gift_card_transactions (merchant_id, gift_card_id, kind, amount, reference)
         SELECT merchant_id, id, 'expiry', forfeited, NULL FROM expired WHERE forfeited > 0
       )
       SELECT ${COLUMNS}, forfeited FROM expired`,
      [merchantId, id],
    );
    return rows[0] ? { ...toGiftCard(rows[0]), forfeited: rows[0].forfeited } : null;
  }
}
