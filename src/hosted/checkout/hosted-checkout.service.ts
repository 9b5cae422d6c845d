import { Injectable } from '@nestjs/common';
import type { AuthContext } from '../../auth/auth.types';
import { DomainError, NotFoundError } from '../../common/errors/domain-errors';
import type { IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { currencyExponent } from '../../common/money';
import { PublicUrl } from '../../common/public-url';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import { ChargesService } from '../../payments/charges/charges.service';
import type { CheckoutSession } from '../../payments/checkout/checkout-sessions.types';
import { CheckoutService } from '../../payments/checkout/checkout.service';
import type { CheckoutItemDto, CreateCheckoutDto, ProcessPaymentDto } from '../../payments/dto/checkout.dto';
import { PaymentsService } from '../../payments/payments.service';
import { PricingService } from '../../payments/pricing.service';
import type { ProviderId } from '../../payments/providers/payment-provider';
import type { Locale } from '../locale';
import type { CheckoutView } from './hosted-checkout.types';

/** The rate-limit identity of the hosted page's requests (coupon guessing counts per client address). */
export const HOSTED_CHECKOUT_KEY_ID = 'hosted_checkout';
/** Metadata of a session that replaced another on the hosted page (a coupon or gift card was applied). */
export const REPLACES_METADATA_KEY = 'paybridge_replaces';

/**
 * What the hosted checkout page (/pay/cs_…) may do with a session, whose id is its capability: read it,
 * apply a coupon or gift card, and go on to a provider. Amounts come from the same pricing, coupon and
 * gift-card services as the API's checkout; nothing is computed in the browser.
 */
@Injectable()
export class HostedCheckoutService {
  constructor(
    private readonly checkout: CheckoutService,
    private readonly charges: ChargesService,
    private readonly pricing: PricingService,
    private readonly holds: GiftCardHolds,
    private readonly payments: PaymentsService,
    private readonly publicUrl: PublicUrl,
  ) {}

  async find(id: string): Promise<CheckoutSession> {
    const session = /^cs_[A-Za-z0-9]{1,64}$/.test(id) ? await this.checkout.findForHostedPage(id) : null;
    if (!session) throw new NotFoundError('checkout session', id);
    return session;
  }

  /** The session as the page shows it: no merchant metadata, no full gift-card code. */
  async view(session: CheckoutSession, locale: Locale): Promise<CheckoutView> {
    const payment = session.paymentId ? await this.payments.getById(session.merchantId, session.paymentId) : null;
    return {
      id: session.id,
      status: session.status,
      locale,
      currency: session.currency,
      exponent: currencyExponent(session.currency),
      lines: session.lines.map((l) => ({
        name: l.name,
        quantity: l.quantity,
        unitAmount: l.unitAmount,
        amount: l.amount,
        discount: l.discount ?? 0,
        interval: l.interval ?? null,
      })),
      subtotal: session.subtotal,
      discount: session.discount,
      giftCardApplied: session.giftCardApplied,
      total: session.total,
      couponCode: session.couponCode,
      giftCardLast4: session.giftCardCode ? session.giftCardCode.slice(-4) : null,
      providers: this.checkout.hostedProviders(session),
      provider: session.provider,
      successUrl: session.successUrl,
      cancelUrl: session.cancelUrl,
      payment: payment ? { status: payment.status, declineCode: payment.declineCode } : null,
      expiresAt: session.expiresAt,
    };
  }

  /**
   * Applies a coupon and/or gift card. A session's amounts are fixed once it is open at a provider, so
   * the session is replaced: the codes are checked first (a refused code changes nothing), the session is
   * canceled (its coupon use and gift-card hold given back, its provider page closed), and a new one
   * is created through the API's own checkout with the same lines, customer, URLs and metadata (plus
   * `paybridge_replaces`). A gift card that covers the whole rest is charged at once, as POST
   * /payments/process does.
   */
  async applyDiscounts(
    session: CheckoutSession,
    codes: { couponCode?: string; giftCardCode?: string },
    idem: IdempotencyContext,
    clientIp: string | null,
  ): Promise<unknown> {
    assertOpen(session);
    // The merchant's own session created these lines (ad hoc ones need a secret key): re-pricing them is
    // the merchant's checkout again, with nothing the customer chose but the codes.
    const caller: AuthContext = { merchantId: session.merchantId, keyId: HOSTED_CHECKOUT_KEY_ID, kind: 'secret' };
    const couponCode = codes.couponCode ?? session.couponCode ?? undefined;
    const giftCardCode = codes.giftCardCode ?? session.giftCardCode ?? undefined;
    const items: CheckoutItemDto[] = session.lines.map((l) =>
      l.productId ? { productId: l.productId, quantity: l.quantity } : { name: l.name, amount: l.unitAmount, quantity: l.quantity },
    );
    const email = session.customer.email;
    const cart = await this.pricing.priceWithCoupon(session.merchantId, items, session.currency, 'secret', couponCode, email);
    if (codes.giftCardCode && codes.giftCardCode !== session.giftCardCode) {
      const quote = await this.holds.quote(session.merchantId, codes.giftCardCode, cart.total, session.currency);
      if (session.savePaymentMethod && quote.amount === cart.total) {
        // Checked before the session is replaced: nothing changes.
        throw new DomainError(
          'unprocessable',
          'gift_card_covers_total',
          'A subscription needs a card for its renewals: the gift card cannot pay all of it.',
          {
            param: 'giftCardCode',
          },
        );
      }
    }
    await this.checkout.cancel(session.merchantId, session.id, true);
    const card = giftCardCode ? await this.holds.quote(session.merchantId, giftCardCode, cart.total, session.currency) : null;
    // A session that saves the method (a cart with subscriptions) stays at the provider whose page saves it.
    const saving = session.savePaymentMethod ? { savePaymentMethod: true, provider: session.provider ?? undefined } : {};
    const cartDto = {
      items,
      currency: session.currency,
      customer: { email },
      couponCode,
      giftCardCode,
      metadata: { ...session.metadata, [REPLACES_METADATA_KEY]: session.id },
      ...saving,
    };
    if (card && card.amount === cart.total) {
      const dto: ProcessPaymentDto = { ...cartDto, returnUrl: session.successUrl };
      return this.charges.process(caller, dto, idem, clientIp);
    }
    const dto: CreateCheckoutDto = { ...cartDto, successUrl: session.successUrl, cancelUrl: session.cancelUrl };
    return this.checkout.create(caller, dto, idem, clientIp, {
      respond: async (created) => ({ id: created.id, status: created.status, hostedUrl: created.hostedUrl }),
    });
  }

  /**
   * Sends the customer on to `provider`'s page. Its decline (or back) link returns to this page, which
   * then says what happened and lets the customer try again; paying there returns to the shop.
   */
  async continueTo(session: CheckoutSession, provider: ProviderId, locale: Locale): Promise<{ url: string }> {
    assertOpen(session);
    const returnUrl = `${this.publicUrl.base()}/pay/${session.id}?locale=${encodeURIComponent(locale)}&returned=1`;
    const reopened = await this.checkout.reopenAt(session.merchantId, session.id, provider, returnUrl);
    return { url: reopened.url as string };
  }
}

function assertOpen(session: CheckoutSession): void {
  if (session.status !== 'open') {
    throw new DomainError('unprocessable', 'checkout_not_open', `The checkout session is ${session.status}.`, { param: 'sessionId' });
  }
}
