import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../common/errors/domain-errors';
import type { ProviderId } from '../payments/providers/payment-provider';
import { SavedMethods } from '../payments/saved-methods';
import { CustomersRepository } from './customers.repository';
import { CustomerView, paymentMethodView } from './customers.types';
import { PaymentMethodsRepository } from './payment-methods.repository';

/** Customers and their saved payment methods (API.md, Customers and saved payment methods). */
@Injectable()
export class CustomersService {
  constructor(
    private readonly customers: CustomersRepository,
    private readonly methods: PaymentMethodsRepository,
    private readonly saved: SavedMethods,
  ) {}

  async findByEmail(merchantId: string, email: string) {
    const customer = await this.customers.findByEmail(merchantId, email);
    return { data: customer ? [customer] : [], hasMore: false };
  }

  async get(merchantId: string, id: string): Promise<CustomerView> {
    const customer = await this.customers.findById(merchantId, id);
    if (!customer) throw new NotFoundError('customer', id);
    return customer;
  }

  /** Saves the method at the provider (keyed by the request's Idempotency-Key) and records its references. */
  async saveMethod(merchantId: string, customerId: string, provider: string, token: string, idempotencyKey: string) {
    const customer = await this.get(merchantId, customerId);
    return paymentMethodView(await this.saved.save(merchantId, customer, provider as ProviderId, token, `${idempotencyKey}_pm`));
  }

  async listMethods(merchantId: string, customerId: string) {
    await this.get(merchantId, customerId);
    return { data: (await this.methods.listForCustomer(merchantId, customerId)).map(paymentMethodView) };
  }

  /** Detaches the method at its provider (it can no longer be charged), then forgets it here. */
  async deleteMethod(merchantId: string, customerId: string, id: string) {
    await this.get(merchantId, customerId);
    const pm = await this.saved.get(merchantId, id, customerId);
    await this.saved.detach(merchantId, pm);
    return { id: pm.id, deleted: true };
  }
}
