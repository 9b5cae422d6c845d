import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Interval } from '@nestjs/schedule';
import { clientAddressKey } from '../../common/rate-limit/client-address';
import { RateLimitExceededError } from '../../common/rate-limit/rate-limit.guard';
import { RateLimitRepository } from '../../common/rate-limit/rate-limit.repository';
import type { Env } from '../../config/env';
import { DomainError, NotFoundError } from '../../common/errors/domain-errors';
import { randomBase62 } from '../../common/ids';
import { currencyExponent } from '../../common/money';
import { PublicUrl } from '../../common/public-url';
import { CustomersRepository } from '../../customers/customers.repository';
import { GiftCardsService } from '../../gift-cards/gift-cards.service';
import { PaymentsService } from '../../payments/payments.service';
import type { Locale } from '../locale';
import { PortalSession, PortalSessionsRepository } from './portal-sessions.repository';

/** A portal URL lives this long: the merchant's back end makes a new one each time the customer asks. */
export const PORTAL_SESSION_MINUTES = 60;
const TRANSACTIONS_SHOWN = 50;

const hashToken = (token: string) => createHash('sha256').update(token).digest();

/**
 * The customer portal: a short-lived URL the merchant's back end asks for (the token in it is the
 * capability), showing that customer's transactions with their receipts and a gift-card balance
 * lookup. Subscriptions and saved payment methods join it when those land (slots in web/src/portal).
 */
@Injectable()
export class PortalService {
  constructor(
    private readonly sessions: PortalSessionsRepository,
    private readonly customers: CustomersRepository,
    private readonly payments: PaymentsService,
    private readonly giftCards: GiftCardsService,
    private readonly publicUrl: PublicUrl,
    private readonly counters: RateLimitRepository,
    private readonly config: ConfigService<Env, true>,
  ) {}

  async create(merchantId: string, customerId: string, returnUrl: string): Promise<{ url: string; expiresAt: Date }> {
    const customer = await this.customers.findById(merchantId, customerId);
    if (!customer) throw new NotFoundError('customer', customerId);
    const token = randomBase62(43);
    const session = await this.sessions.insert(hashToken(token), { merchantId, customerId, returnUrl }, PORTAL_SESSION_MINUTES);
    return { url: `${this.publicUrl.base()}/portal/${token}`, expiresAt: session.expiresAt };
  }

  /** Every instance deletes ended portal sessions hourly (a second DELETE finds nothing: no lock needed). */
  @Interval('portal-sessions-cleanup', 3_600_000)
  async deleteExpired(): Promise<void> {
    await this.sessions.deleteExpired().catch(() => undefined);
  }

  async find(token: string): Promise<PortalSession> {
    const session = /^[A-Za-z0-9]{43}$/.test(token) ? await this.sessions.findActive(hashToken(token)) : null;
    if (!session) throw new DomainError('not_found', 'portal_session_expired', 'This portal link has expired: ask the shop for a new one.');
    return session;
  }

  /** The customer's transactions (newest first) with what each receipt shows. */
  async view(session: PortalSession, locale: Locale) {
    const customer = await this.customers.findById(session.merchantId, session.customerId);
    if (!customer) throw new NotFoundError('customer', session.customerId);
    const page = await this.payments.list(session.merchantId, { customerEmail: customer.email }, { limit: TRANSACTIONS_SHOWN, offset: 0 });
    return {
      locale,
      customer: { email: customer.email, name: customer.name },
      returnUrl: session.returnUrl,
      expiresAt: session.expiresAt,
      transactions: page.data.map((p) => ({
        id: p.id,
        status: p.status,
        amount: p.amount,
        amountRefunded: p.amountRefunded,
        currency: p.currency,
        exponent: currencyExponent(p.currency),
        provider: p.provider,
        lines: (p.lines ?? []).map((l) => ({ name: l.name, quantity: l.quantity, amount: l.amount, discount: l.discount ?? 0 })),
        discount: p.discount ?? 0,
        createdAt: p.createdAt,
      })),
    };
  }

  /**
   * A gift card's balance. Every lookup counts against a per-address limit (the coupon guessing limit's
   * rate, COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE): a portal link must not become a way to guess codes.
   */
  async giftCardBalance(session: PortalSession, code: string, clientIp: string | null) {
    const taken = await this.counters.takeOne({
      merchantId: session.merchantId,
      bucket: 'portal-gift-card-balance',
      apiKeyId: 'portal',
      clientIp: clientAddressKey(clientIp ?? undefined),
    });
    if (taken.count > this.config.get('COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE', { infer: true })) {
      throw new RateLimitExceededError(Math.max(1, Math.ceil(taken.resetMs / 1000)));
    }
    const card = await this.giftCards.get(session.merchantId, code);
    return {
      balance: card.balance,
      currency: card.currency,
      exponent: currencyExponent(card.currency),
      status: card.status,
      expiresAt: card.expiresAt,
    };
  }
}
