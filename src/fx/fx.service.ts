import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../config/env';
import { DomainError, NotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import { MAX_AMOUNT } from '../common/money';
import { Page, PageRequest, paginate } from '../common/pagination';
import type { PutFxRateDto } from './dto/fx-rate.dto';
import { convertMinor, normalizeRate, parsePair } from './fx-conversion';
import { FxRepository } from './fx.repository';
import { ConvertedFrom, FxRate, FxSnapshot, toSnapshot } from './fx.types';

/** How far ahead of our clock a rate's asOf may be (the source's clock may run a little ahead). */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** What pricing needs to know of a product: its prices, and whether its merchant allows converting them. */
export interface PricedProduct {
  prices: Array<{ currency: string; amount: number }>;
  allowConversion: boolean;
}

/** A unit price in the cart's currency: the product's own, or converted (then with what it was converted from). */
export interface UnitPrice {
  unitAmount: number;
  convertedFrom?: ConvertedFrom;
}

const nativePrice = (product: PricedProduct, currency: string) => product.prices.find((p) => p.currency === currency)?.amount;

/** Sold in a currency it has no price in, and its merchant allows converting it. */
const needsConversion = (product: PricedProduct, currency: string) =>
  product.allowConversion && nativePrice(product, currency) === undefined;

/** A rate as the API shows it: the stored rate and when it stops being usable. */
export type FxRateView = FxRate & { expiresAt: Date };

/**
 * The conversion of one cart into one currency, through ONE stored rate (as a Stripe checkout converts
 * from one source currency): every converted line is priced from its product's price in the rate's base
 * currency. Chosen by FxService.planCart; a refusal (no usable rate, stale rate) is thrown only when a
 * line asks for a conversion, naming that line.
 */
export class CartConversion {
  private used = false;

  constructor(
    private readonly quote: string,
    private readonly rate: FxRate | null,
    private readonly refusal: ((param: string) => DomainError) | null,
  ) {}

  /**
   * The product's unit price in the cart's currency: its own price there; else, when its merchant allows
   * it, converted (half-up) or the 422 that refuses the conversion; else undefined (no price).
   */
  unitPrice(product: PricedProduct, param: string): UnitPrice | undefined {
    const native = nativePrice(product, this.quote);
    if (native !== undefined) return { unitAmount: native };
    return product.allowConversion ? this.convert(product, param) : undefined;
  }

  /** unitPrice(), or undefined where it would refuse (verify-prices: "no expected price"). */
  tryUnitPrice(product: PricedProduct): number | undefined {
    try {
      return this.unitPrice(product, '')?.unitAmount;
    } catch (err) {
      if (err instanceof DomainError) return undefined;
      throw err;
    }
  }

  private convert(product: PricedProduct, param: string): UnitPrice {
    if (this.refusal || !this.rate) throw (this.refusal ?? noRate)(param);
    const from = product.prices.find((p) => p.currency === this.rate?.base);
    if (!from) throw noRate(param);
    const converted = convertMinor(from.amount, this.rate.base, this.quote, this.rate.rate);
    if (converted > BigInt(MAX_AMOUNT)) {
      throw new DomainError('unprocessable', 'amount_too_large', `The converted price exceeds ${MAX_AMOUNT} minor units.`, { param });
    }
    this.used = true;
    return { unitAmount: Number(converted), convertedFrom: { currency: from.currency, unitAmount: from.amount } };
  }

  /** The rate the cart was priced with, once a line was converted; null otherwise. */
  snapshot(): FxSnapshot | null {
    return this.used && this.rate ? toSnapshot(this.rate) : null;
  }
}

const noRate = (param: string) =>
  new DomainError('unprocessable', 'fx_rate_unavailable', 'No conversion rate for this currency is stored.', { param });

/** Stored conversion rates per merchant and pair, and the conversion of carts through them. */
@Injectable()
export class FxService {
  private readonly maxAgeMs: number;

  constructor(
    private readonly rates: FxRepository,
    config: ConfigService<Env, true>,
  ) {
    this.maxAgeMs = config.get('FX_MAX_AGE_HOURS', { infer: true }) * 3_600_000;
  }

  async put(merchantId: string, pair: string, dto: PutFxRateDto): Promise<FxRateView> {
    const [base, quote] = this.currencies(pair);
    const asOf = dto.asOf ? new Date(dto.asOf) : new Date();
    if (asOf.getTime() > Date.now() + MAX_CLOCK_SKEW_MS) throw new ValidationFailedError('asOf is in the future.', 'asOf');
    const stored = await this.rates.upsert(merchantId, { base, quote, rate: normalizeRate(dto.rate), source: dto.source, asOf });
    return this.view(stored);
  }

  async get(merchantId: string, pair: string): Promise<FxRateView> {
    const [base, quote] = this.currencies(pair);
    const rate = await this.rates.findByPair(merchantId, base, quote);
    if (!rate) throw new NotFoundError('fx rate', pair);
    return this.view(rate);
  }

  async list(merchantId: string, page: PageRequest): Promise<Page<FxRateView>> {
    const listed = await paginate(
      page,
      () => this.rates.list(merchantId, page),
      () => this.rates.count(merchantId),
    );
    return { ...listed, data: listed.data.map((r) => this.view(r)) };
  }

  /**
   * How the products of a cart in `quote` are priced (the function cart pricing calls): a product with a
   * price in `quote` keeps it; those without one whose merchant allows conversion are converted through
   * ONE rate for the whole cart: among the currencies every such product has a price in, the one whose
   * stored rate into `quote` is the freshest (ties: by pair). That rate older than FX_MAX_AGE_HOURS:
   * refused (422 fx_rate_stale); none: 422 fx_rate_unavailable. Nothing to convert: no query.
   */
  async planCart(merchantId: string, quote: string, cart: PricedProduct[]): Promise<CartConversion> {
    const products = cart.filter((p) => needsConversion(p, quote));
    if (products.length === 0) return new CartConversion(quote, null, null);
    const common = products
      .map((p) => new Set(p.prices.map((price) => price.currency)))
      .reduce((shared, currencies) => new Set([...shared].filter((c) => currencies.has(c))));
    const rates = common.size ? await this.rates.findInto(merchantId, quote, [...common]) : [];
    const [freshest] = rates.sort((a, b) => b.asOf.getTime() - a.asOf.getTime() || a.pair.localeCompare(b.pair));
    if (!freshest) {
      const pairs = [...common].map((c) => `${c}-${quote}`).join(', ');
      const message = pairs
        ? `No conversion rate into ${quote} is stored for ${pairs}: set one with PUT /admin/fx-rates/:pair.`
        : `The products to convert into ${quote} share no price currency: no single rate can price this cart.`;
      return new CartConversion(quote, null, (param) => new DomainError('unprocessable', 'fx_rate_unavailable', message, { param }));
    }
    if (Date.now() - freshest.asOf.getTime() > this.maxAgeMs) {
      const message = `The ${freshest.pair} rate (as of ${freshest.asOf.toISOString()}) is older than FX_MAX_AGE_HOURS; store a fresh one.`;
      return new CartConversion(quote, freshest, (param) => new DomainError('unprocessable', 'fx_rate_stale', message, { param }));
    }
    return new CartConversion(quote, freshest, null);
  }

  private currencies(pair: string): [string, string] {
    const parsed = parsePair(pair);
    if (!parsed) {
      throw new ValidationFailedError(
        `'${pair}' is not a pair of two different supported ISO 4217 currencies written BASE-QUOTE (e.g. USD-BRL).`,
        'pair',
      );
    }
    return parsed;
  }

  private view(rate: FxRate): FxRateView {
    return { ...rate, expiresAt: new Date(rate.asOf.getTime() + this.maxAgeMs) };
  }
}
