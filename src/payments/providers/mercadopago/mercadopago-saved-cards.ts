import { CardToken, Customer, CustomerCard, MercadoPagoConfig, MercadoPagoError, MPNotFoundError } from 'mercadopago';
import { ProviderDeclineError, ProviderSavedMethod, SavedMethodRef, SaveMethodInput } from '../payment-provider';
import { parseChargeToken } from './mercadopago.mapper';

type Operation = 'charge' | 'read';
type Call = <T>(operation: Operation, fn: () => Promise<T>, passNotFound?: boolean) => Promise<T>;

/**
 * Saved cards at Mercado Pago (seed 000's CustomerCards), through the SDK's Customer, CustomerCard and
 * CardToken clients, as Mercado Pago documents the flow:
 *   save    the customer found by email (Mercado Pago keeps one per email) or created, then the card
 *           saved on it from the card token (POST /v1/customers/:id/cards)
 *   charge  the saved card read back (it must still be there), a one-use card token made from its
 *           `card_id` (POST /v1/card_tokens), and a payment with that token and
 *           `payer: {type: 'customer', id}` (MercadoPagoProvider.charge)
 *   detach  the card deleted (DELETE /v1/customers/:id/cards/:card_id)
 * Every write carries a key derived from ours, so a retried save or charge replays, never duplicates.
 */
export class MercadoPagoSavedCards {
  constructor(
    private readonly client: (idempotencyKey?: string) => MercadoPagoConfig,
    private readonly call: Call,
  ) {}

  async save(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    const customerId = input.providerCustomerRef ?? (await this.customerFor(input));
    const { paymentMethodId, cardToken } = parseChargeToken(input.token);
    const card = await this.call('charge', () =>
      new CustomerCard(this.client(`${input.idempotencyKey}:card`)).create({
        customerId,
        body: { token: cardToken, ...(paymentMethodId ? { payment_method_id: paymentMethodId } : {}) },
      }),
    );
    if (!card.id || !card.last_four_digits || !card.expiration_month || !card.expiration_year)
      throw new ProviderDeclineError('mercadopago', 'invalid_payment_method', undefined, 'Mercado Pago saved a card without id or digits');
    return {
      providerCustomerRef: customerId,
      providerMethodRef: String(card.id),
      brand: card.payment_method?.id ?? 'unknown',
      last4: card.last_four_digits,
      expMonth: card.expiration_month,
      expYear: card.expiration_year,
    };
  }

  /**
   * A one-use token for a saved card, and its payment_method_id. A card Mercado Pago no longer has
   * (deleted) is a decline: it cannot be charged.
   */
  async tokenFor(saved: SavedMethodRef, idempotencyKey: string): Promise<{ token: string; paymentMethodId: string }> {
    let card;
    try {
      card = await this.call(
        'read',
        () => new CustomerCard(this.client()).get({ customerId: saved.providerCustomerRef, cardId: saved.providerMethodRef }),
        true,
      );
    } catch (err) {
      if (!(err instanceof MPNotFoundError)) throw err;
      throw new ProviderDeclineError(
        'mercadopago',
        'invalid_payment_method',
        undefined,
        `Mercado Pago has no card ${saved.providerMethodRef}`,
      );
    }
    const token = await this.call('charge', () =>
      new CardToken(this.client(`${idempotencyKey}:token`)).create({
        body: { card_id: saved.providerMethodRef, customer_id: saved.providerCustomerRef },
      }),
    );
    if (!token.id || !card.payment_method?.id)
      throw new ProviderDeclineError('mercadopago', 'invalid_payment_method', undefined, 'Mercado Pago made no token for the saved card');
    return { token: token.id, paymentMethodId: card.payment_method.id };
  }

  /** Deletes the card; one Mercado Pago no longer has is already gone. */
  async detach(ref: SavedMethodRef): Promise<void> {
    try {
      await this.call(
        'read',
        () => new CustomerCard(this.client()).remove({ customerId: ref.providerCustomerRef, cardId: ref.providerMethodRef }),
        true,
      );
    } catch (err) {
      if (!(err instanceof MPNotFoundError)) throw err;
    }
  }

  /**
   * Mercado Pago keeps one customer per email: the one it has, or a new one. Two saves racing for a new
   * email: the second create is refused (cause 101, "the customer already exist") and finds the first's.
   */
  private async customerFor(input: SaveMethodInput): Promise<string> {
    const email = input.customer.email;
    const existing = await this.findCustomer(email);
    if (existing) return existing;
    const [firstName, ...rest] = (input.customer.name ?? '').trim().split(/\s+/);
    let customer;
    try {
      customer = await this.call('read', () =>
        new Customer(this.client(`${input.idempotencyKey}:customer`)).create({
          body: { email, ...(firstName ? { first_name: firstName } : {}), ...(rest.length > 0 ? { last_name: rest.join(' ') } : {}) },
        }),
      );
    } catch (err) {
      const causes = ((err as { cause?: unknown }).cause as MercadoPagoError | undefined)?.causes ?? [];
      const raced = causes.some((c) => String((c as { code?: unknown }).code) === '101') ? await this.findCustomer(email) : undefined;
      if (raced) return raced;
      throw err;
    }
    if (!customer.id)
      throw new ProviderDeclineError('mercadopago', 'invalid_request', undefined, 'Mercado Pago created a customer without id');
    return customer.id;
  }

  private async findCustomer(email: string): Promise<string | undefined> {
    const found = await this.call('read', () => new Customer(this.client()).search({ options: { email } }));
    return found.results?.find((c) => c.email === email)?.id;
  }
}
