import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../../common/errors/domain-errors';
import type { IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { currencyExponent } from '../../common/money';
import { CustomersService } from '../../customers/customers.service';
import { ProviderRegistry } from '../../payments/providers/provider-registry';
import { ProductsService } from '../../products/products.service';
import { priceIn, type Product } from '../../products/products.types';
import { SubscriptionsService } from '../../subscriptions/subscriptions.service';
import type { SubscriptionView } from '../../subscriptions/subscriptions.types';
import type { PortalSession } from './portal-sessions.repository';

const SUBSCRIPTIONS_SHOWN = 50;
const PRODUCTS_READ = 100;
/** Providers whose token the portal page itself can produce (the simulator's test cards). */
const PAGE_TOKEN_PROVIDERS = ['simulator'] as const;

/**
 * The portal's subscriptions and saved payment methods: the customer's side of the same services the sk
 * routes call (SubscriptionsService, CustomersService), so their rules decide; the portal only adds that
 * the subscription or method must be this portal's customer's (else 404, as another merchant's is).
 */
@Injectable()
export class PortalAccountService {
  constructor(
    private readonly subscriptions: SubscriptionsService,
    private readonly customers: CustomersService,
    private readonly products: ProductsService,
    private readonly registry: ProviderRegistry,
  ) {}

  /** The customer's subscriptions (newest first, not the incomplete ones), each with its plan's name and the plans it may change to. */
  async listSubscriptions(session: PortalSession) {
    const customer = await this.customers.get(session.merchantId, session.customerId);
    const page = await this.subscriptions.list(
      session.merchantId,
      { customerEmail: customer.email },
      { limit: SUBSCRIPTIONS_SHOWN, offset: 0 },
    );
    const plans = await this.subscriptionPlans(session.merchantId);
    const names = new Map(plans.map((p) => [p.id, p.name]));
    const missing = page.data.flatMap((s) => [s.productId, s.pendingProductId]).filter((id): id is string => !!id && !names.has(id));
    for (const p of missing.length ? await this.products.findMany(session.merchantId, [...new Set(missing)]) : []) names.set(p.id, p.name);
    // An incomplete subscription was never paid (an abandoned or replaced checkout): nothing the customer has.
    return {
      data: page.data
        .filter((s) => s.status !== 'incomplete')
        .map((s) => ({
          ...this.subscriptionView(s, names),
          plans: plans.flatMap((p) => {
            const unit = p.interval === s.interval && p.id !== s.productId ? priceIn(p, s.currency) : undefined;
            return unit === undefined ? [] : [{ productId: p.id, name: p.name, amount: unit * s.quantity }];
          }),
        })),
    };
  }

  /** Cancel at period end (the portal's only cancel: SubscriptionsService ends a past-due one now, as on the API). */
  async cancel(session: PortalSession, id: string) {
    await this.ownSubscription(session, id);
    return this.subscriptions.cancel(session.merchantId, id, true);
  }

  async resume(session: PortalSession, id: string) {
    await this.ownSubscription(session, id);
    return this.subscriptions.resume(session.merchantId, id);
  }

  async change(session: PortalSession, id: string, productId: string, idem: IdempotencyContext) {
    await this.ownSubscription(session, id);
    return this.subscriptions.change(session.merchantId, id, productId, idem);
  }

  async listMethods(session: PortalSession) {
    const methods = await this.customers.listMethods(session.merchantId, session.customerId);
    return { ...methods, addWith: PAGE_TOKEN_PROVIDERS.filter((p) => this.registry.has(p)) };
  }

  addMethod(session: PortalSession, provider: string, token: string, idem: IdempotencyContext) {
    return this.customers.saveMethod(session.merchantId, session.customerId, provider, token, idem.key);
  }

  removeMethod(session: PortalSession, id: string) {
    return this.customers.deleteMethod(session.merchantId, session.customerId, id);
  }

  private subscriptionView(s: SubscriptionView, names: Map<string, string>) {
    return {
      id: s.id,
      status: s.status,
      productId: s.productId,
      productName: names.get(s.productId) ?? s.productId,
      quantity: s.quantity,
      amount: s.amount,
      currency: s.currency,
      exponent: currencyExponent(s.currency),
      interval: s.interval,
      currentPeriodEnd: s.currentPeriodEnd,
      cancelAtPeriodEnd: s.cancelAtPeriodEnd,
      canceledAt: s.canceledAt,
      pendingProductId: s.pendingProductId,
      pendingProductName: s.pendingProductId ? (names.get(s.pendingProductId) ?? s.pendingProductId) : null,
      paymentMethodId: s.paymentMethodId,
    };
  }

  /** The merchant's active subscription products (what a plan may change to: the API checks again). */
  private async subscriptionPlans(merchantId: string): Promise<Product[]> {
    const page = await this.products.listAll(merchantId, false, { limit: PRODUCTS_READ, offset: 0 });
    return page.data.filter((p) => p.billingType === 'SUBSCRIPTION' && p.active && !p.archivedAt);
  }

  private async ownSubscription(session: PortalSession, id: string): Promise<void> {
    const sub = await this.subscriptions.get(session.merchantId, id);
    if (sub.customer.id !== session.customerId) throw new NotFoundError('subscription', id);
  }
}
