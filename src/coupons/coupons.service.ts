import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../config/env';
import { CacheBus } from '../common/cache/cache-bus';
import { TtlCache } from '../common/cache/ttl-cache';
import { normalizeEmail } from '../customers/customers.types';
import { randomBase62 } from '../common/ids';
import { DomainError } from '../common/errors/domain-errors';
import { MAX_AMOUNT } from '../common/money';
import type { Executor } from '../database/database.types';
import { ProductsService } from '../products/products.service';
import { FxService } from '../fx/fx.service';
import { computeDiscount, DiscountLineInput } from './coupon-discount';
import { CouponsRepository } from './coupons.repository';
import { Coupon, CouponRedemption, CouponType, normalizeCouponCode, RedemptionReference } from './coupons.types';
import type { ValidateCouponDto } from './dto/validate-coupon.dto';
import { assertUsable, checkReference, CouponError, customerLimitReached, exhausted, looksExhausted, notFound } from './coupon-rules';

export { CouponError, type CouponErrorCode } from './coupon-rules';

/** The discount a coupon gives a cart. */
export interface CouponQuote {
  code: string;
  type: CouponType;
  currency: string;
  subtotal: number;
  discount: number;
  total: number;
  /** Per input line, in the same order. */
  lineDiscounts: number[];
}

/** The session or payment that takes a use of the coupon, and its customer. */
export interface ReservationTarget extends RedemptionReference {
  /** The customer is found by it (written earlier in the same transaction). */
  customerEmail: string;
  /** Recorded with the reservation (reports, ledger). */
  discount?: number | null;
  currency?: string | null;
}

export interface ValidateCouponResult {
  code: string;
  currency: string;
  subtotal: number;
  discount: number;
  total: number;
  lines: Array<{ productId: string; quantity: number; amount: number; discount: number }>;
}

/** Thrown inside a cache load so that unknown codes are never cached (guessers cannot fill memory). */
const MISSING = Symbol('coupon missing');

@Injectable()
export class CouponsService {
  // Coupon definitions read by validate and quote are cached (CACHE_TTL_SECONDS); every admin write and
  // every change of a limited coupon's counters drops the cache on every instance.
  private readonly cache: TtlCache<Coupon>;

  constructor(
    private readonly coupons: CouponsRepository,
    private readonly products: ProductsService,
    private readonly fx: FxService,
    private readonly bus: CacheBus,
    config: ConfigService<Env, true>,
  ) {
    this.cache = new TtlCache(config.get('CACHE_TTL_SECONDS', { infer: true }) * 1000);
    bus.subscribe('coupons', () => this.cache.clear());
  }

  // ---- customers ----

  /** POST /coupons/validate: prices the cart from the catalog, then quotes (no customer, nothing reserved). */
  async validate(merchantId: string, dto: ValidateCouponDto): Promise<ValidateCouponResult> {
    const catalog = new Map(
      (await this.products.findManyFresh(merchantId, [...new Set(dto.items.map((i) => i.productId))])).map((p) => [p.id, p]),
    );
    // Priced as checkout prices it: a product's own price, or converted through a stored rate (src/fx).
    const prices = await this.fx.planCart(
      merchantId,
      dto.currency,
      [...catalog.values()].filter((p) => p.active && !p.archivedAt),
    );
    const lines = dto.items.map((item, i) => {
      const product = catalog.get(item.productId);
      const param = `items[${i}].productId`;
      if (!product || !product.active || product.archivedAt) {
        throw new DomainError('unprocessable', 'product_unavailable', `Product '${item.productId}' is not available.`, { param });
      }
      if (product.billingType === 'SUBSCRIPTION') {
        throw new DomainError(
          'unprocessable',
          'subscription_not_supported',
          'Subscription products cannot be bought through this route yet.',
          {
            param,
          },
        );
      }
      const unitAmount = prices.unitPrice(product, param)?.unitAmount;
      if (unitAmount === undefined) {
        throw new DomainError('unprocessable', 'price_unavailable', `Product '${item.productId}' has no ${dto.currency} price.`, { param });
      }
      return { productId: product.id, quantity: item.quantity, amount: unitAmount * item.quantity, productType: product.type };
    });
    if (lines.some((l) => l.amount > MAX_AMOUNT) || lines.reduce((sum, l) => sum + l.amount, 0) > MAX_AMOUNT) {
      throw new DomainError('unprocessable', 'amount_too_large', `The total exceeds ${MAX_AMOUNT} minor units.`, { param: 'items' });
    }
    const quote = await this.quote(merchantId, dto.code, lines, dto.currency, null);
    return {
      code: quote.code,
      currency: quote.currency,
      subtotal: quote.subtotal,
      discount: quote.discount,
      total: quote.total,
      lines: lines.map((line, i) => ({
        productId: line.productId,
        quantity: line.quantity,
        amount: line.amount,
        discount: quote.lineDiscounts[i],
      })),
    };
  }

  // ---- checkout integration (src/payments) ----

  /**
   * The discount `code` gives these lines, or a CouponError (422). Reads the cached coupon; with a
   * customer email, checks perCustomerLimit against that customer's reserved + redeemed uses. Nothing is
   * reserved: reserve() is the authority on maxRedemptions and perCustomerLimit under concurrency.
   */
  async quote(
    merchantId: string,
    rawCode: string,
    lines: readonly DiscountLineInput[],
    currency: string,
    customerEmail: string | null,
  ): Promise<CouponQuote> {
    const code = normalizeCouponCode(rawCode);
    let coupon = code ? await this.cached(merchantId, code) : null;
    // A cached count cannot see reservations expire: read the row again before refusing as exhausted.
    if (code && coupon && looksExhausted(coupon)) coupon = await this.coupons.findByCode(merchantId, code);
    assertUsable(coupon, rawCode, new Date());
    if (customerEmail && coupon.perCustomerLimit !== null) {
      const used = await this.coupons.countLiveForCustomer(merchantId, coupon.code, normalizeEmail(customerEmail));
      if (used >= coupon.perCustomerLimit) throw customerLimitReached(coupon);
    }
    const outcome = computeDiscount(coupon, lines, currency);
    const subtotal = lines.reduce((sum, line) => sum + line.amount, 0);
    if (!outcome.applicable) {
      throw new CouponError(
        'coupon_not_applicable',
        outcome.reason === 'currency_mismatch'
          ? `Coupon '${coupon.code}' applies to ${coupon.currency} carts only.`
          : `Coupon '${coupon.code}' applies to none of these items.`,
      );
    }
    return {
      code: coupon.code,
      type: coupon.type,
      currency,
      subtotal,
      discount: outcome.total,
      total: subtotal - outcome.total,
      lineDiscounts: outcome.lineDiscounts,
    };
  }

  /**
   * Reserves one use of the coupon for a checkout session or payment, inside the caller's transaction
   * (the coupon row stays locked until it commits). maxRedemptions holds under concurrency on every
   * instance (one conditional UPDATE: reserved + redeemed < max); perCustomerLimit is counted under that
   * lock. Idempotent: a session or payment that already holds a reservation of this coupon gets it back
   * unchanged, whatever its status. Throws CouponError (not found, expired, exhausted) having changed
   * nothing, so the caller may catch it and carry on in the same transaction.
   */
  async reserve(tx: Executor, merchantId: string, rawCode: string, target: ReservationTarget): Promise<CouponRedemption> {
    const ref = checkReference(target);
    const code = normalizeCouponCode(rawCode);
    if (!code) throw notFound(rawCode);
    const existing = await this.coupons.findRedemption(merchantId, code, ref, tx);
    if (existing) return existing;

    const coupon = await this.coupons.takeReservedUse(merchantId, code, tx);
    if (!coupon) {
      const current = await this.coupons.findByCode(merchantId, code, tx);
      assertUsable(current, rawCode, new Date());
      throw exhausted(current);
    }
    const email = normalizeEmail(target.customerEmail);
    const inserted = await this.coupons.insertRedemption(
      merchantId,
      {
        id: `cpr_${randomBase62(20)}`,
        code,
        sessionId: ref.sessionId ?? null,
        paymentId: ref.paymentId ?? null,
        customerEmail: email,
        discount: target.discount ?? null,
        currency: target.currency ?? null,
      },
      tx,
    );
    if (!inserted) {
      // A concurrent call for the same session or payment committed first: give back the use we took.
      await this.coupons.adjustCounters(merchantId, code, -1, 0, tx);
      const winner = await this.coupons.findRedemption(merchantId, code, ref, tx);
      if (!winner) {
        throw new DomainError(
          'conflict',
          'coupon_reservation_conflict',
          'This payment already holds a reservation of the coupon for another session.',
        );
      }
      return winner;
    }
    if (coupon.perCustomerLimit !== null) {
      // Every reserver of this coupon waits on its row lock, so this count sees all committed uses.
      const live = await this.coupons.countLiveForCustomer(merchantId, code, email, tx);
      if (live > coupon.perCustomerLimit) {
        await this.coupons.deleteRedemption(merchantId, inserted.id, tx);
        await this.coupons.adjustCounters(merchantId, code, -1, 0, tx);
        throw customerLimitReached(coupon);
      }
    }
    if (coupon.maxRedemptions !== null) await this.bus.publish('coupons', tx);
    return inserted;
  }

  /**
   * The payment succeeded: the reservation becomes a redemption (reserved → redeemed; also released →
   * redeemed when money arrives for a session that had expired, which may take the count past
   * maxRedemptions: the customer has paid the discounted price). `paymentId`, with a session reference,
   * is recorded on the reservation. Idempotent. Null when the session or payment holds no reservation.
   */
  async redeem(tx: Executor, merchantId: string, rawCode: string, ref: RedemptionReference): Promise<CouponRedemption | null> {
    checkReference(ref);
    const code = normalizeCouponCode(rawCode);
    if (!code) return null;
    const reservation = await this.coupons.findRedemptionForUpdate(merchantId, code, ref, tx);
    if (!reservation || reservation.status === 'redeemed') return reservation;
    const redeemed = await this.coupons.setRedemptionStatus(merchantId, reservation.id, 'redeemed', ref.paymentId ?? null, tx);
    const wasReserved = reservation.status === 'reserved';
    const counters = await this.coupons.adjustCounters(merchantId, code, wasReserved ? -1 : 0, 1, tx);
    if (!wasReserved && counters?.maxRedemptions != null) await this.bus.publish('coupons', tx);
    return redeemed;
  }

  /**
   * The session expired or was canceled, or the payment failed: reserved → released, and the use is
   * free again. A redeemed use is never released (a refund does not give the coupon back). Idempotent.
   * Null when the session or payment holds no reservation.
   */
  async release(tx: Executor, merchantId: string, rawCode: string, ref: RedemptionReference): Promise<CouponRedemption | null> {
    checkReference(ref);
    const code = normalizeCouponCode(rawCode);
    if (!code) return null;
    const reservation = await this.coupons.findRedemptionForUpdate(merchantId, code, ref, tx);
    if (!reservation || reservation.status !== 'reserved') return reservation;
    const released = await this.coupons.setRedemptionStatus(merchantId, reservation.id, 'released', null, tx);
    const counters = await this.coupons.adjustCounters(merchantId, code, -1, 0, tx);
    if (counters?.maxRedemptions != null) await this.bus.publish('coupons', tx);
    return released;
  }

  /** How long the coupon discounts a subscription bought with it (API.md, coupons' `duration`). */
  async durationOf(merchantId: string, code: string): Promise<Pick<Coupon, 'duration' | 'durationInMonths'>> {
    const coupon = await this.coupons.findByCode(merchantId, code);
    return { duration: coupon?.duration ?? 'once', durationInMonths: coupon?.durationInMonths ?? null };
  }

  private async cached(merchantId: string, code: string): Promise<Coupon | null> {
    try {
      return await this.cache.getOrLoad(`${merchantId}:${code}`, async () => {
        const coupon = await this.coupons.findByCode(merchantId, code);
        if (!coupon) throw MISSING;
        return coupon;
      });
    } catch (err) {
      if (err === MISSING) return null;
      throw err;
    }
  }
}
