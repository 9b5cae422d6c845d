import { randomBytes } from 'node:crypto';
import { asRecord, asString } from './emulator-server';
import { badRequest, brandOfBin, CARD_METHODS, CardToken, clone, isoNow, Json, notFound } from './mercadopago-emulator-support';

/**
 * Mercado Pago's customers and their saved cards (Customers and Cards APIs), as strict as Mercado Pago:
 * one customer per email (a second is refused with cause 101), a card is saved from an unused card
 * token (the token is then used), a saved card is charged through a new token made from its `card_id`
 * (POST /v1/card_tokens) that only its own customer may pay with (`payer: {type: 'customer', id}`),
 * and a deleted card makes no more tokens.
 */
export class MercadoPagoCustomers {
  private readonly customerMap = new Map<string, Json>();
  private readonly cardMap = new Map<string, Json & { customer_id: string }>();
  private nextCardId = 1_700_000_000_000 + Math.floor(Math.random() * 1_000_000);

  constructor(private readonly userId: number) {}

  customers(): Json[] {
    return [...this.customerMap.values()].map(clone);
  }

  cards(): Json[] {
    return [...this.cardMap.values()].map(clone);
  }

  create(body: Json): Json {
    const email = asString(body.email)?.trim();
    if (!email || !/^[^@\s]+@[^@\s]+$/.test(email)) throw badRequest('invalid email', 103);
    if ([...this.customerMap.values()].some((c) => c.email === email)) throw badRequest('the customer already exist', 101);
    const id = `${this.userId}-${randomBytes(7).toString('base64url').slice(0, 10)}`;
    const created = isoNow();
    const customer: Json = {
      id,
      email,
      first_name: asString(body.first_name) ?? null,
      last_name: asString(body.last_name) ?? null,
      phone: asRecord(body.phone) ?? { area_code: null, number: null },
      identification: asRecord(body.identification) ?? { type: null, number: null },
      description: asString(body.description) ?? null,
      metadata: asRecord(body.metadata) ?? {},
      default_card: null,
      cards: [],
      addresses: [],
      date_registered: null,
      date_created: created,
      date_last_updated: created,
      user_id: this.userId,
      live_mode: false,
    };
    this.customerMap.set(id, customer);
    return clone(customer);
  }

  /** GET /v1/customers/search: by `email` (exact), paged. */
  search(query: Record<string, unknown>): Json {
    const email = typeof query.email === 'string' ? query.email : undefined;
    const limit = Math.min(Number(query.limit ?? 10) || 10, 100);
    const offset = Number(query.offset ?? 0) || 0;
    const all = [...this.customerMap.values()].filter((c) => !email || c.email === email);
    return { paging: { limit, offset, total: all.length }, results: all.slice(offset, offset + limit).map((c) => this.withCards(c)) };
  }

  get(id: string): Json {
    return this.withCards(this.customer(id));
  }

  /** POST /v1/customers/:id/cards `{token}`: the token's card, saved; the same card saved again is the card already there. */
  addCard(customerId: string, body: Json, tokens: Map<string, CardToken>): Json {
    const customer = this.customer(customerId);
    const tokenId = asString(body.token);
    if (!tokenId) throw badRequest("token attribute can't be null", 2006);
    const token = tokens.get(tokenId);
    if (!token || token.used) throw badRequest('Invalid card_token_id', 3003);
    if (token.cardId) throw badRequest('The card token was made from a saved card', 3003);
    const brand = asString(body.payment_method_id) ?? brandOfBin(token.firstSix);
    if (!CARD_METHODS[brand]) throw badRequest(`Invalid payment_method_id: ${brand}`, 4033);
    token.used = true;
    const existing = [...this.cardMap.values()].find(
      (c) =>
        c.customer_id === customerId &&
        c.first_six_digits === token.firstSix &&
        c.last_four_digits === token.lastFour &&
        c.expiration_year === token.expirationYear &&
        c.expiration_month === token.expirationMonth,
    );
    if (existing) return clone(existing);
    const created = isoNow();
    const card = {
      id: String(this.nextCardId++),
      customer_id: customerId,
      expiration_month: token.expirationMonth,
      expiration_year: token.expirationYear,
      first_six_digits: token.firstSix,
      last_four_digits: token.lastFour,
      payment_method: { id: brand, name: brand, payment_type_id: CARD_METHODS[brand], thumbnail: '', secure_thumbnail: '' },
      security_code: { length: brand === 'amex' ? 4 : 3, card_location: brand === 'amex' ? 'front' : 'back' },
      issuer: { id: 25, name: brand },
      cardholder: { name: token.cardholderName, identification: asRecord(asRecord(token.body.cardholder)?.identification) ?? {} },
      date_created: created,
      date_last_updated: created,
      user_id: String(this.userId),
      live_mode: false,
    };
    this.cardMap.set(card.id, card);
    if (!customer.default_card) customer.default_card = card.id;
    return clone(card);
  }

  listCards(customerId: string): Json[] {
    this.customer(customerId);
    return [...this.cardMap.values()].filter((c) => c.customer_id === customerId).map(clone);
  }

  getCard(customerId: string, cardId: string): Json {
    return clone(this.card(customerId, cardId));
  }

  deleteCard(customerId: string, cardId: string): Json {
    const card = this.card(customerId, cardId);
    this.cardMap.delete(cardId);
    const customer = this.customer(customerId);
    if (customer.default_card === cardId) customer.default_card = this.listCards(customerId)[0]?.id ?? null;
    return clone(card);
  }

  /**
   * POST /v1/card_tokens `{card_id, customer_id?, security_code?}`: a one-use token for a saved card,
   * carrying its cardholder (whose test name decides the payment's outcome, as for any token).
   */
  tokenForCard(body: Json): Omit<CardToken, 'id' | 'body'> {
    const cardId = asString(body.card_id) ?? String(body.card_id);
    const card = this.cardMap.get(cardId);
    if (!card) throw notFound('Card not found', 2020);
    const customerId = asString(body.customer_id);
    if (customerId && customerId !== card.customer_id) throw badRequest('The card does not belong to this customer', 2021);
    const code = asString(body.security_code);
    if (code !== undefined && !/^\d{3,4}$/.test(code)) throw badRequest('invalid parameter security_code', 'E203');
    return {
      cardholderName: String(asRecord(card.cardholder)?.name ?? 'APRO'),
      firstSix: String(card.first_six_digits),
      lastFour: String(card.last_four_digits),
      expirationMonth: Number(card.expiration_month),
      expirationYear: Number(card.expiration_year),
      used: false,
      cardId,
      customerId: card.customer_id,
    };
  }

  /**
   * A payment's `payer` and token checked together: `{type: 'customer', id}` must name a customer, and a
   * token made from a saved card may only pay for that card's customer. Returns the payer to record.
   */
  payerFor(payer: Json, token: CardToken | undefined): Json {
    if (payer.type !== 'customer') {
      if (token?.cardId) throw badRequest('A saved card token needs payer.type customer and payer.id', 2021);
      return payer;
    }
    const id = asString(payer.id);
    if (!id) throw badRequest("payer.id can't be null for payer.type customer", 2021);
    const customer = this.customerMap.get(id);
    if (!customer) throw badRequest('Customer not found', 2021);
    if (token?.customerId && token.customerId !== id) throw badRequest('The card token belongs to another customer', 2021);
    return { ...payer, id, email: asString(payer.email) ?? customer.email };
  }

  private customer(id: string): Json {
    const customer = this.customerMap.get(id);
    if (!customer) throw notFound('Customer not found', 'not_found');
    return customer;
  }

  private card(customerId: string, cardId: string): Json & { customer_id: string } {
    this.customer(customerId);
    const card = this.cardMap.get(cardId);
    if (!card || card.customer_id !== customerId) throw notFound('Card not found', 2020);
    return card;
  }

  private withCards(customer: Json): Json {
    return clone({ ...customer, cards: this.listCards(String(customer.id)) });
  }
}
