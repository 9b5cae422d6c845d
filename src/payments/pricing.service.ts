import { Injectable } from '@nestjs/common';
import type { KeyKind } from '../auth/auth.types';
import { DomainError } from '../common/errors/domain-errors';
import { MAX_AMOUNT } from '../common/money';
import { ProductsService } from '../products/products.service';
import type { Product } from '../products/products.types';
import type { CheckoutItemDto, VerifyPriceItemDto } from './dto/checkout.dto';
import { CouponsService } from '../coupons/coupons.service';
import type { Transaction } from '../database/database.types';
import type { Line } from './payments.types';
import { CartConversion, FxService } from '../fx/fx.service';
import type { FxSnapshot } from '../fx/fx.types';

export interface PricedCart {
  lines: Line[];
  subtotal: number;
  /** The rate the converted lines were priced with (src/fx); null or absent when none was converted. */
  fx?: FxSnapshot | null;
}

/** A cart with its coupon applied: `lines[i].discount`, and total = subtotal - discount. */
export interface DiscountedCart extends PricedCart {
  discount: number;
  total: number;
  couponCode: string | null;
}

export interface PriceDiscrepancy {
  productId: string;
  expectedPrice: number | null;
  providedPrice: number;
}

/** Prices come from the catalog only, never from the client (ad hoc lines: secret keys only). */
@Injectable()
export class PricingService {
  constructor(
    private readonly products: ProductsService,
    private readonly coupons: CouponsService,
    private readonly fx: FxService,
  ) {}

  async price(merchantId: string, items: CheckoutItemDto[], currency: string, callerKind: KeyKind): Promise<PricedCart> {
    const ids = [...new Set(items.filter((i) => i.productId).map((i) => i.productId as string))];
    const catalog = new Map((await this.products.findMany(merchantId, ids)).map((p) => [p.id, p]));
    // How each product is priced in this currency (its own price, or converted through one stored rate).
    const prices = await this.fx.planCart(merchantId, currency, [...catalog.values()].filter(isSellable));
    const lines = items.map((item, i): Line => {
      if (item.productId) {
        if (item.name !== undefined || item.amount !== undefined) {
          throw new DomainError('invalid_request', 'parameter_invalid', 'A catalog line takes productId and quantity only.', {
            param: `items[${i}]`,
          });
        }
        const product = catalog.get(item.productId);
        if (!product || !product.active || product.archivedAt) {
          throw new DomainError('unprocessable', 'product_unavailable', `Product '${item.productId}' is not available.`, {
            param: `items[${i}].productId`,
          });
        }
        const price = prices.unitPrice(product, `items[${i}].productId`);
        if (price === undefined) {
          throw new DomainError('unprocessable', 'price_unavailable', `Product '${item.productId}' has no ${currency} price.`, {
            param: `items[${i}].productId`,
          });
        }
        const { unitAmount, convertedFrom } = price;
        return {
          productId: product.id,
          name: product.name,
          unitAmount,
          quantity: item.quantity,
          amount: unitAmount * item.quantity,
          productType: product.type,
          image: item.image ?? null,
          ...(convertedFrom && { convertedFrom }),
          ...(product.billingType === 'SUBSCRIPTION' && product.interval ? { interval: product.interval } : {}),
          ...(product.segpayPackageId && product.segpayPricePointId
            ? { segpayPricePoint: `${product.segpayPackageId}:${product.segpayPricePointId}` }
            : {}),
        };
      }
      if (item.name === undefined || item.amount === undefined) {
        throw new DomainError('invalid_request', 'parameter_missing', 'Each line needs productId, or name and amount.', {
          param: `items[${i}].productId`,
        });
      }
      if (callerKind !== 'secret') {
        throw new DomainError('forbidden', 'ad_hoc_line_forbidden', 'Ad hoc lines (name and amount) need a secret key.', {
          param: `items[${i}]`,
        });
      }
      return {
        productId: null,
        name: item.name,
        unitAmount: item.amount,
        quantity: item.quantity,
        amount: item.amount * item.quantity,
        productType: null,
        image: item.image ?? null,
      };
    });
    const subtotal = lines.reduce((sum, line) => sum + line.amount, 0);
    if (lines.some((l) => l.amount > MAX_AMOUNT) || subtotal > MAX_AMOUNT) {
      throw new DomainError('unprocessable', 'amount_too_large', `The total exceeds ${MAX_AMOUNT} minor units.`, { param: 'items' });
    }
    if (subtotal === 0) throw new DomainError('unprocessable', 'amount_too_small', 'The total must be above zero.', { param: 'items' });
    return { lines, subtotal, fx: prices.snapshot() };
  }

  /**
   * Prices the cart and applies the coupon (422 with the coupon's reason when it cannot). Nothing is
   * reserved here: the caller reserves the coupon in the transaction that records the session or
   * payment (`reserveCoupon`).
   */
  async priceWithCoupon(
    merchantId: string,
    items: CheckoutItemDto[],
    currency: string,
    callerKind: KeyKind,
    couponCode: string | undefined,
    customerEmail: string,
  ): Promise<DiscountedCart> {
    return this.applyCoupon(merchantId, await this.price(merchantId, items, currency, callerKind), currency, couponCode, customerEmail);
  }

  async applyCoupon(
    merchantId: string,
    cart: PricedCart,
    currency: string,
    couponCode: string | undefined,
    customerEmail: string,
  ): Promise<DiscountedCart> {
    if (!couponCode) return { ...cart, discount: 0, total: cart.subtotal, couponCode: null };
    const quote = await this.coupons.quote(merchantId, couponCode, cart.lines, currency, customerEmail);
    const lines = cart.lines.map((line, i) => ({ ...line, discount: quote.lineDiscounts[i] }));
    if (quote.total <= 0) {
      throw new DomainError('unprocessable', 'amount_too_small', 'The coupon covers the whole cart; a payment of zero cannot be charged.', {
        param: 'couponCode',
      });
    }
    return { lines, subtotal: cart.subtotal, discount: quote.discount, total: quote.total, couponCode: quote.code, fx: cart.fx };
  }

  /** Reserves one use of the cart's coupon, if it has one, for this session or payment: handed over to the caller's transaction. */
  reserveCoupon(
    tx: Transaction,
    merchantId: string,
    cart: DiscountedCart,
    target: { sessionId?: string; paymentId: string; customerEmail: string; currency: string },
  ): void {
    if (cart.couponCode) tx.later(this.coupons.reserve(tx, merchantId, cart.couponCode, { ...target, discount: cart.discount }));
  }

  /**
   * Seed 001's check: does the price a client shows match the catalog? A converted price is expected as
   * a cart in that currency would charge it (the same rate choice: see FxService.planCart).
   */
  async verify(merchantId: string, items: VerifyPriceItemDto[]): Promise<{ verified: boolean; discrepancies: PriceDiscrepancy[] }> {
    const catalog = new Map(
      (
        await this.products.findMany(
          merchantId,
          items.map((i) => i.productId),
        )
      ).map((p) => [p.id, p]),
    );
    const sellable = (id: string) => {
      const product = catalog.get(id);
      return product && isSellable(product) ? product : undefined;
    };
    // Each currency's items priced as one cart in that currency would be.
    const carts = new Map<string, CartConversion>();
    for (const currency of new Set(items.map((i) => i.currency))) {
      const inCurrency = new Set(items.filter((i) => i.currency === currency).map((i) => sellable(i.productId)));
      const products = [...inCurrency].filter((p) => p !== undefined);
      carts.set(currency, await this.fx.planCart(merchantId, currency, products));
    }
    const discrepancies: PriceDiscrepancy[] = [];
    for (const item of items) {
      const product = sellable(item.productId);
      const expected = product ? carts.get(item.currency)?.tryUnitPrice(product) : undefined;
      if (expected !== item.price)
        discrepancies.push({ productId: item.productId, expectedPrice: expected ?? null, providedPrice: item.price });
    }
    return { verified: discrepancies.length === 0, discrepancies };
  }
}

const isSellable = (product: Product) => product.active && !product.archivedAt;
