import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-errors';
import { newId } from '../common/ids';
import { CustomersRepository } from '../customers/customers.repository';
import type { Customer, CustomerInput, PaymentMethod } from '../customers/customers.types';
import { DatabaseService } from '../database/database.service';
import { PaymentMethodsRepository } from '../customers/payment-methods.repository';
import { CardDeclinedError, ProvidersUnavailableError } from './payment-errors';
import {
  PaymentProvider,
  ProviderDeclineError,
  ProviderId,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
  SavedMethodRef,
} from './providers/payment-provider';
import { ProviderRegistry } from './providers/provider-registry';

/** A provider that can both save and detach a method (else deleting could not stop its charges). */
type Vaulting = PaymentProvider & Required<Pick<PaymentProvider, 'saveMethod' | 'detachMethod'>>;

/**
 * Payment methods saved at their provider for later charges without the customer (renewals, one-click):
 * the provider keeps the card; we keep its references, brand, last four digits and expiry.
 */
@Injectable()
export class SavedMethods {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly methods: PaymentMethodsRepository,
    private readonly customers: CustomersRepository,
    private readonly db: DatabaseService,
  ) {}

  /** POST /payments/process with `paymentMethodId`: the method, which must be this customer's (else 404). */
  async chosen(merchantId: string, email: string, paymentMethodId: string): Promise<{ customer: Customer | null; method: ChargeMethod }> {
    const customer = await this.customers.findByEmail(merchantId, email);
    const pm = await this.get(merchantId, paymentMethodId, customer?.id ?? 'none');
    return { customer, method: chargeMethod(pm) };
  }

  /** Saves a one-time token for the customer of this email (created if new): the saved method to charge instead. */
  async saveForCharge(
    merchantId: string,
    input: CustomerInput,
    method: { provider: ProviderId; token: string },
    idempotencyKey: string,
  ): Promise<{ customer: Customer; method: ChargeMethod }> {
    const customer = await this.db.transaction((tx) => this.customers.upsertByEmail(tx, merchantId, input));
    const pm = await this.save(merchantId, customer, method.provider, method.token, idempotencyKey);
    return { customer, method: chargeMethod(pm) };
  }

  /** 422 payment_method_not_supported unless the provider can save and detach methods. */
  vaulting(provider: ProviderId): Vaulting {
    const adapter = this.registry.has(provider) ? this.registry.get(provider) : null;
    if (!adapter?.saveMethod || !adapter.detachMethod) {
      throw new DomainError('unprocessable', 'payment_method_not_supported', `Payment methods cannot be saved at ${provider}.`, {
        param: 'provider',
      });
    }
    return adapter as Vaulting;
  }

  /**
   * Saves `token` at the provider for this customer (under a key derived from the caller's, so a retry
   * saves nothing twice) and records it. A decline is 402, an unavailable provider 503.
   */
  async save(merchantId: string, customer: Customer, provider: ProviderId, token: string, idempotencyKey: string): Promise<PaymentMethod> {
    const adapter = this.vaulting(provider);
    const providerCustomerRef = await this.methods.providerCustomerRef(merchantId, customer.id, provider);
    let saved;
    try {
      saved = await adapter.saveMethod({ merchantId, customer, providerCustomerRef, token, idempotencyKey });
    } catch (err) {
      if (err instanceof ProviderDeclineError) throw new CardDeclinedError(err.declineCode);
      if (err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError) throw new ProvidersUnavailableError();
      throw err;
    }
    return this.methods.insert(merchantId, { id: newId('pm'), customerId: customer.id, provider, ...saved });
  }

  /** Detaches the method at its provider, then forgets it here. */
  async detach(merchantId: string, pm: PaymentMethod): Promise<void> {
    try {
      await this.vaulting(pm.provider as ProviderId).detachMethod({
        providerCustomerRef: pm.providerCustomerRef,
        providerMethodRef: pm.providerMethodRef,
      });
    } catch (err) {
      if (err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError) throw new ProvidersUnavailableError();
      throw err;
    }
    await this.methods.markDetached(merchantId, pm.id);
  }

  /**
   * The provider's references of a saved method an attempt was made with, detached or not (a charge on a
   * detached method goes to the provider, which declines it); null when `id` is no saved method of ours
   * but a provider's own token (Stripe's test methods are `pm_…` too).
   */
  async refOf(merchantId: string, id: string): Promise<SavedMethodRef | null> {
    const pm = await this.methods.findAny(merchantId, id);
    return pm ? savedRef(pm) : null;
  }

  /** The customer's saved method `id` (not detached), or 4xx. */
  async get(merchantId: string, id: string, customerId?: string): Promise<PaymentMethod> {
    const pm = await this.methods.findActive(merchantId, id, customerId);
    if (!pm) throw new DomainError('not_found', 'resource_missing', `No such payment method: '${id}'`, { param: 'paymentMethodId' });
    return pm;
  }
}

export function savedRef(pm: Pick<PaymentMethod, 'providerCustomerRef' | 'providerMethodRef'>): SavedMethodRef {
  return { providerCustomerRef: pm.providerCustomerRef, providerMethodRef: pm.providerMethodRef };
}

/** A saved method as a charge plans it: our id as the token, the provider's references beside it. */
export interface ChargeMethod {
  provider: ProviderId;
  token: string;
  saved: SavedMethodRef;
}

function chargeMethod(pm: PaymentMethod): ChargeMethod {
  return { provider: pm.provider as ProviderId, token: pm.id, saved: savedRef(pm) };
}
