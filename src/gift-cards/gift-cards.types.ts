export type GiftCardStatus = 'pending' | 'active' | 'expired' | 'canceled';

export interface GiftCardRow {
  merchant_id: string;
  id: string;
  code: string;
  status: GiftCardStatus;
  currency: string;
  initial_amount: number;
  balance: number;
  votes: number;
  recipient_email: string;
  gift_message: string | null;
  checkout_session_id: string | null;
  redeemed_by: string | null;
  redeemed_at: Date | null;
  activated_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
}

export interface GiftCard {
  id: string;
  code: string;
  status: GiftCardStatus;
  currency: string;
  initialAmount: number;
  balance: number;
  votes: number;
  recipientEmail: string;
  giftMessage: string | null;
  checkoutSessionId: string | null;
  redeemedBy: string | null;
  redeemedAt: Date | null;
  activatedAt: Date | null;
  expiresAt: Date | null;
  createdAt: Date;
}

/** An active card before its expiry: it can pay, and take money back. */
export function isSpendable(card: GiftCard): boolean {
  return card.status === 'active' && !!card.expiresAt && card.expiresAt.getTime() > Date.now();
}

export function toGiftCard(row: GiftCardRow): GiftCard {
  return {
    id: row.id,
    code: row.code,
    status: row.status,
    currency: row.currency,
    initialAmount: row.initial_amount,
    balance: row.balance,
    votes: row.votes,
    recipientEmail: row.recipient_email,
    giftMessage: row.gift_message,
    checkoutSessionId: row.checkout_session_id,
    redeemedBy: row.redeemed_by,
    redeemedAt: row.redeemed_at,
    activatedAt: row.activated_at,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

/** What the public (publishable key) sees of a card: no recipient, no message. */
export function publicView(card: GiftCard) {
  return {
    code: card.code,
    status: card.status,
    currency: card.currency,
    balance: card.balance,
    votes: card.votes,
    redeemed: card.redeemedBy !== null,
    expiresAt: card.expiresAt,
  };
}
