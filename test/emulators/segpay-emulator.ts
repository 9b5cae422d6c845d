// Over 400 lines on purpose: it mirrors Segpay's surface (payment page, postbacks, SRS) and its state in one
// place, so each strictness check sits next to the state it guards.
import {
  asRecord,
  asString,
  DeliveryRecord,
  EmulatorRequest,
  EmulatorResponse,
  EmulatorServer,
  escapeHtml,
  html,
  json,
  redirect,
} from './emulator-server';

/**
 * Segpay emulator. Segpay has no SDK and no JSON API: a hosted payment page (`/billing/poset.cgi`),
 * unsigned postbacks to the merchant, and the SRS web services (cancel, refund, reports). The hosted
 * page and the postback fields follow Segpay's documentation; the SRS API here is our own JSON
 * approximation (Segpay's answers XML/text). See README.md.
 */

export interface SegpayPricePoint {
  packageId: string;
  pricePointId: string;
  /** Price of the first transaction, in major units (19.95). */
  initialPrice: number;
  /** Days covered by the first transaction (default 30). */
  initialDays?: number;
  /** Recurring price: makes the price point a subscription (rebills). */
  recurringPrice?: number;
  recurringDays?: number;
  currencyCode?: string;
  description?: string;
}

export interface SegpayEmulatorOptions {
  /** Where postbacks are POSTed (form-encoded); settable later with `postbackUrl = …`. */
  postbackUrl?: string;
  /** SRS credentials expected in the query string (MerchantID, UserID, UserAccessKey). */
  merchantId?: string;
  userId?: string;
  userAccessKey?: string;
  pricePoints?: SegpayPricePoint[];
}

export type SegpayTranType = 'sale' | 'credit' | 'charge';
export type SegpayStage = 'Initial' | 'Conversion' | 'Rebill';

export interface SegpayTransaction {
  tranId: string;
  /** The membership/purchase this transaction belongs to (null for a declined first sale). */
  purchaseId: string | null;
  eticketId: string;
  type: SegpayTranType;
  stage: SegpayStage;
  approved: boolean;
  /** Amount in minor units; `price` is the same amount as Segpay writes it ("19.95"). */
  amountCents: number;
  price: string;
  currencyCode: string;
  refundedCents: number;
  /** For credits and chargebacks: the sale they reverse. */
  relatedTranId: string | null;
  status: 'approved' | 'declined' | 'refunded' | 'partially_refunded' | 'charged_back';
  billEmail: string | null;
  billName: string | null;
  ip: string;
  custom: Record<string, string>;
  createdAt: Date;
  /** A one-click sale: the merchant's reference (RefID), unique per merchant, and the purchase (OCToken) it reused. */
  refId?: string;
  oneClickOf?: string;
}

export interface SegpayMembership {
  purchaseId: string;
  eticketId: string;
  recurring: boolean;
  status: 'active' | 'cancelled';
  initialTranId: string;
  rebills: number;
  nextBillDate: Date | null;
  cancelledAt: Date | null;
  cancelReason: string | null;
  billEmail: string | null;
  custom: Record<string, string>;
  /** The card the buyer paid with, kept by Segpay for rebills and one-click sales on this purchase. */
  card: SegpayCard;
}

export interface SegpayCard {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  /** Every later charge on it (rebills, one-click sales) declines (setCardDeclines; an expired or closed card). */
  declines: boolean;
}

export interface SegpayPostback {
  id: string;
  fields: Record<string, string>;
  /** The form-encoded body as sent. */
  body: string;
  url: string;
  /** Sent by sendForgedPostback(): Segpay never sent it and the SRS API will not confirm it. */
  forged: boolean;
  replayOf: string | null;
}

export interface PurchaseResult {
  transaction: SegpayTransaction;
  membership: SegpayMembership | null;
  /** Where the browser is sent: x-auth-link (approved) or x-decl-link (declined). */
  redirectUrl: string | null;
  postback: DeliveryRecord | undefined;
}

const PREFILL_TO_POSTBACK: Record<string, string> = {
  'x-billname': 'billname',
  'x-billemail': 'billemail',
  'x-billaddr': 'billaddr',
  'x-billcity': 'billcity',
  'x-billstate': 'billstate',
  'x-billzip': 'billzip',
  'x-billcntry': 'billcntry',
  'x-username': 'username',
};

/** The card every emulated purchase is paid with, unless a test gives another (completePurchase's `card`). */
const TEST_CARD = { brand: 'visa', last4: '1111', expMonth: 12, declines: false } as const;

function formatPrice(cents: number): string {
  return (cents / 100).toFixed(2);
}

function toCents(value: number): number {
  return Math.round(value * 100);
}

/** Segpay's transaction time format, `YYYY-MM-DD HH:MM:SS` (UTC here; Segpay uses Eastern time). */
function transTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

function srsError(status: number, error: string): EmulatorResponse {
  return json(status, { result: 'Failed', error });
}

export class SegpayEmulator extends EmulatorServer {
  postbackUrl?: string;
  readonly merchantId: string;
  readonly userId: string;
  readonly userAccessKey: string;

  private readonly pricePointMap = new Map<string, SegpayPricePoint>();
  private readonly transactionMap = new Map<string, SegpayTransaction>();
  private readonly membershipMap = new Map<string, SegpayMembership>();
  private readonly postbackMap = new Map<string, SegpayPostback>();
  private nextTranId = 400_000_000 + Math.floor(Math.random() * 10_000_000) * 10;
  private nextPurchaseId = 70_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  private nextPostbackId = 1;

  constructor(options: SegpayEmulatorOptions = {}) {
    super('Segpay');
    this.postbackUrl = options.postbackUrl;
    this.merchantId = options.merchantId ?? 'emu-merchant';
    this.userId = options.userId ?? 'emu-user';
    this.userAccessKey = options.userAccessKey ?? 'emu-access-key';
    for (const pp of options.pricePoints ?? []) this.addPricePoint(pp);

    this.route('GET', '/billing/poset.cgi', (req) => this.paymentPage(req));
    // The page's Approve/Decline buttons post back to the page (the charge: a money call for failure injection).
    this.route('POST', '/billing/poset.cgi', (req) => this.purchaseRoute(req), { money: true });

    const srs = { auth: true };
    this.route('GET', '/srs/transactions', (req) => this.listTransactions(req), srs);
    this.route('GET', '/srs/transactions/:tranId', (req) => this.lookupTransaction(req), srs);
    this.route('POST', '/srs/transactions/:tranId/refund', (req) => this.refundRoute(req), { auth: true, money: true });
    this.route('GET', '/srs/memberships/:purchaseId', (req) => this.lookupMembership(req), srs);
    this.route('POST', '/srs/memberships/:purchaseId/cancel', (req) => this.cancelRoute(req), srs);
    this.route('GET', '/srs/postback-ips', () => json(200, { ips: ['127.0.0.1'] }), srs);
    this.route('POST', '/srs/oneclick', (req) => this.oneClickRoute(req), { auth: true, money: true });

    this.route('POST', '/_emulator/memberships/:purchaseId/rebill', (req) => this.rebillRoute(req));
    this.route('POST', '/_emulator/transactions/:tranId/chargeback', (req) => this.chargebackRoute(req));
    this.route('POST', '/_emulator/memberships/:purchaseId/card', (req) =>
      this.control(async () => {
        this.setCardDeclines(req.params.purchaseId, asString(asRecord(req.body)?.declines) !== 'false');
        return this.publicMembership(this.membershipMap.get(req.params.purchaseId) as SegpayMembership);
      }),
    );
    this.route('POST', '/_emulator/postbacks/forge', (req) => this.forgeRoute(req));
    this.route('POST', '/_emulator/postbacks/:id/replay', (req) => this.replayRoute(req));
    this.route('POST', '/_emulator/price-points', (req) => this.addPricePointRoute(req));
    this.route('POST', '/_emulator/postback-url', (req) => {
      this.postbackUrl = asString(asRecord(req.body)?.url) || undefined;
      return json(200, { postbackUrl: this.postbackUrl ?? null });
    });
  }

  // ================================================================ configuration and accessors

  /** Registers a price point (as configured in Segpay's merchant portal); returns its eticket id `package:pricepoint`. */
  addPricePoint(pricePoint: SegpayPricePoint): string {
    const eticketId = `${pricePoint.packageId}:${pricePoint.pricePointId}`;
    this.pricePointMap.set(eticketId, { currencyCode: 'USD', initialDays: 30, ...pricePoint });
    return eticketId;
  }

  /** A payment page link: `${url}/billing/poset.cgi?x-eticketid=…&x-auth-link=…&x-decl-link=…&<prefill>&<custom>`. */
  paymentPageUrl(input: {
    eticketId: string;
    authLink?: string;
    declLink?: string;
    prefill?: Record<string, string>;
    custom?: Record<string, string>;
  }): string {
    const url = new URL('/billing/poset.cgi', this.url);
    url.searchParams.set('x-eticketid', input.eticketId);
    if (input.authLink) url.searchParams.set('x-auth-link', input.authLink);
    if (input.declLink) url.searchParams.set('x-decl-link', input.declLink);
    for (const [k, v] of Object.entries({ ...(input.prefill ?? {}), ...(input.custom ?? {}) })) url.searchParams.set(k, v);
    return url.toString();
  }

  /** Segpay loses a transaction (a payment of ours that the provider does not know). */
  forgetTransaction(tranId: string): void {
    if (!this.transactionMap.delete(tranId)) throw new Error(`No transaction ${tranId}`);
  }

  transactions(): SegpayTransaction[] {
    return [...this.transactionMap.values()].map((t) => ({ ...t, custom: { ...t.custom } }));
  }

  memberships(): SegpayMembership[] {
    return [...this.membershipMap.values()].map((m) => ({ ...m, custom: { ...m.custom } }));
  }

  /** Every postback sent (genuine, forged, replays), oldest first. */
  postbacks(): SegpayPostback[] {
    return [...this.postbackMap.values()].map((p) => ({ ...p, fields: { ...p.fields } }));
  }

  // ================================================================ control

  /**
   * What a buyer pressing Approve/Decline on the payment page does: records the transaction (and, when
   * approved, the membership/purchase), sends the postback, and returns where the browser goes next.
   * `page` is a payment page URL or its query string. Resolves after the postback was delivered.
   */
  async completePurchase(
    page: string | URLSearchParams,
    options: { approve?: boolean; ip?: string; card?: Partial<SegpayCard> } = {},
  ): Promise<PurchaseResult> {
    const query = typeof page === 'string' ? new URL(page, 'http://segpay.invalid').searchParams : page;
    const result = this.purchase(query, options.approve !== false, options.ip ?? '127.0.0.1', options.card);
    if ('error' in result) throw new Error(result.error);
    return { ...result, postback: await result.postback };
  }

  /**
   * Bills the next period of a recurring membership: stage `Conversion` for the first rebill,
   * `Rebill` after. `approve: false` (or a card that declines) records a declined rebill, and the
   * membership stays due. Sends the postback (confirmed through SRS like any other) and resolves after it.
   */
  async rebill(purchaseId: string, options: { approve?: boolean } = {}): Promise<SegpayTransaction> {
    const membership = this.membershipMap.get(purchaseId);
    if (!membership) throw new Error(`No purchase ${purchaseId}`);
    if (!membership.recurring || membership.status !== 'active')
      throw new Error(`Purchase ${purchaseId} is not an active recurring membership`);
    const pp = this.pricePointMap.get(membership.eticketId);
    if (!pp?.recurringPrice) throw new Error(`Price point ${membership.eticketId} has no recurring price`);
    const approved = options.approve !== false && !membership.card.declines;
    const initial = this.transactionMap.get(membership.initialTranId);
    const transaction = this.newTransaction({
      purchaseId,
      eticketId: membership.eticketId,
      type: 'sale',
      stage: membership.rebills === 0 ? 'Conversion' : 'Rebill',
      approved,
      amountCents: toCents(pp.recurringPrice),
      currencyCode: pp.currencyCode ?? 'USD',
      relatedTranId: null,
      billEmail: membership.billEmail,
      billName: initial?.billName ?? null,
      ip: initial?.ip ?? '127.0.0.1',
      custom: membership.custom,
    });
    if (approved) {
      membership.rebills++;
      membership.nextBillDate = new Date(Date.now() + (pp.recurringDays ?? 30) * 86_400_000);
    }
    await this.postback(this.transactionFields(transaction, 'Auth'));
    return { ...transaction };
  }

  /** From now on every charge on this purchase's card declines (or, with false, succeeds again). */
  setCardDeclines(purchaseId: string, declines = true): void {
    const membership = this.membershipMap.get(purchaseId);
    if (!membership) throw new Error(`No purchase ${purchaseId}`);
    membership.card.declines = declines;
  }

  /** A chargeback on a sale: a `charge` transaction and a Void postback. */
  async chargeback(tranId: string): Promise<SegpayTransaction> {
    const sale = this.transactionMap.get(tranId);
    if (!sale || sale.type !== 'sale' || !sale.approved) throw new Error(`No approved sale ${tranId}`);
    const amount = sale.amountCents - sale.refundedCents;
    const charge = this.newTransaction({
      purchaseId: sale.purchaseId,
      eticketId: sale.eticketId,
      type: 'charge',
      stage: sale.stage,
      approved: true,
      amountCents: amount,
      currencyCode: sale.currencyCode,
      relatedTranId: sale.tranId,
      billEmail: sale.billEmail,
      billName: sale.billName,
      ip: sale.ip,
      custom: sale.custom,
    });
    sale.status = 'charged_back';
    await this.postback(this.transactionFields(charge, 'Void'));
    return { ...charge };
  }

  /**
   * Sends a postback that Segpay never sent: by default an approved sale with a transaction id the
   * SRS API does not know. `fields` override or add fields (e.g. a real tranid with another price).
   */
  async sendForgedPostback(fields: Record<string, string> = {}): Promise<SegpayPostback> {
    const eticketId = [...this.pricePointMap.keys()][0] ?? '100000:200000';
    const forged: Record<string, string> = {
      action: 'Auth',
      stage: 'Initial',
      approved: 'Yes',
      trantype: 'sale',
      tranid: String(900_000_000 + Math.floor(Math.random() * 99_999_999)),
      purchaseid: String(90_000_000 + Math.floor(Math.random() * 9_999_999)),
      price: '19.95',
      currencycode: 'USD',
      eticketid: eticketId,
      ip: '203.0.113.7',
      transtime: transTime(new Date()),
      ...fields,
    };
    const record = this.recordPostback(forged, true, null);
    await this.sendPostback(record);
    return { ...record, fields: { ...record.fields } };
  }

  /** Sends an earlier postback again, byte for byte (Segpay resends; an attacker can replay). */
  async replayPostback(postbackId: string): Promise<SegpayPostback> {
    const original = this.postbackMap.get(postbackId);
    if (!original) throw new Error(`No postback ${postbackId}`);
    const record = this.recordPostback(original.fields, original.forged, original.id);
    await this.sendPostback(record);
    return { ...record, fields: { ...record.fields } };
  }

  // ================================================================ base hooks

  protected override authenticate(req: EmulatorRequest): EmulatorResponse | null {
    const params = this.params(req);
    const ok =
      params.get('MerchantID') === this.merchantId &&
      params.get('UserID') === this.userId &&
      params.get('UserAccessKey') === this.userAccessKey;
    return ok ? null : srsError(401, 'Invalid credentials: MerchantID, UserID and UserAccessKey are required in the query string');
  }

  protected override faultResponse(status: number, req: EmulatorRequest): EmulatorResponse {
    if (req.path.startsWith('/srs/')) {
      const response = srsError(status, status === 429 ? 'Too many requests' : 'Service unavailable (injected by the Segpay emulator)');
      if (status === 429) response.headers = { 'Retry-After': '1' };
      return response;
    }
    return html(status, 'Segpay', `<p>We are unable to process your request right now (HTTP ${status}).</p>`);
  }

  protected override notFound(req: EmulatorRequest): EmulatorResponse {
    return req.path.startsWith('/srs/') ? srsError(404, 'Unknown SRS method') : html(404, 'Segpay', '<p>Not found</p>');
  }

  protected override state(): Record<string, unknown> {
    return {
      postbackUrl: this.postbackUrl ?? null,
      pricePoints: [...this.pricePointMap.entries()].map(([eticketId, pp]) => ({ eticketId, ...pp })),
      transactions: [...this.transactionMap.values()].map((t) => this.publicTransaction(t)),
      memberships: this.memberships(),
      postbacks: this.postbacks(),
    };
  }

  protected override indexLinks(): string[] {
    return [...this.pricePointMap.keys()].map(
      (e) => `<a href="${escapeHtml(this.paymentPageUrl({ eticketId: e }))}">payment page ${escapeHtml(e)}</a>`,
    );
  }

  // ================================================================ hosted payment page

  private paymentPage(req: EmulatorRequest): EmulatorResponse {
    const eticketId = req.search.get('x-eticketid') ?? '';
    const pp = this.pricePointMap.get(eticketId);
    if (!pp) return html(400, 'Segpay', `<p>Invalid eticket ${escapeHtml(eticketId)}.</p>`);
    const prefill = Object.keys(PREFILL_TO_POSTBACK)
      .filter((k) => req.search.get(k))
      .map((k) => `<li>${escapeHtml(k)}: ${escapeHtml(req.search.get(k))}</li>`)
      .join('');
    const recurring = pp.recurringPrice ? `, then ${formatPrice(toCents(pp.recurringPrice))} every ${pp.recurringDays ?? 30} days` : '';
    const action = `/billing/poset.cgi?${escapeHtml(req.search.toString())}`;
    return html(
      200,
      'Segpay payment page (emulator)',
      [
        `<p>${escapeHtml(pp.description ?? eticketId)}: <strong>${formatPrice(toCents(pp.initialPrice))} ${escapeHtml(pp.currencyCode)}</strong>`,
        ` for ${pp.initialDays ?? 30} days${escapeHtml(recurring)}</p><ul>${prefill}</ul>`,
        `<form method="post" action="${action}"><input type="hidden" name="outcome" value="approve"><button>Approve</button></form>`,
        `<form method="post" action="${action}"><input type="hidden" name="outcome" value="decline"><button>Decline</button></form>`,
      ].join(''),
    );
  }

  private async purchaseRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const approve = asString(asRecord(req.body)?.outcome) !== 'decline';
    const result = this.purchase(req.search, approve, req.remoteAddress);
    if ('error' in result) return html(400, 'Segpay', `<p>${escapeHtml(result.error)}</p>`);
    await result.postback;
    if (result.redirectUrl) return redirect(result.redirectUrl);
    const t = result.transaction;
    return html(200, 'Segpay', `<p>Transaction ${escapeHtml(t.tranId)}: ${t.approved ? 'approved' : 'declined'}.</p>`);
  }

  private purchase(
    query: URLSearchParams,
    approve: boolean,
    ip: string,
    card: Partial<SegpayCard> = {},
  ):
    | { error: string }
    | {
        transaction: SegpayTransaction;
        membership: SegpayMembership | null;
        redirectUrl: string | null;
        postback: Promise<DeliveryRecord | undefined>;
      } {
    const eticketId = query.get('x-eticketid') ?? '';
    const pp = this.pricePointMap.get(eticketId);
    if (!pp) return { error: `Invalid eticket ${eticketId}` };
    const custom: Record<string, string> = {};
    // Parameters Segpay does not interpret are passed through and echoed in postbacks.
    for (const [k, v] of query.entries()) if (!k.startsWith('x-')) custom[k] = v;
    const billEmail = query.get('x-billemail');
    const billName = query.get('x-billname');
    const purchaseId = approve ? String(this.nextPurchaseId++) : null;
    const transaction = this.newTransaction({
      purchaseId,
      eticketId,
      type: 'sale',
      stage: 'Initial',
      approved: approve,
      amountCents: toCents(pp.initialPrice),
      currencyCode: pp.currencyCode ?? 'USD',
      relatedTranId: null,
      billEmail,
      billName,
      ip,
      custom,
    });
    let membership: SegpayMembership | null = null;
    if (purchaseId) {
      membership = {
        purchaseId,
        eticketId,
        recurring: pp.recurringPrice !== undefined,
        status: 'active',
        initialTranId: transaction.tranId,
        rebills: 0,
        nextBillDate: pp.recurringPrice !== undefined ? new Date(Date.now() + (pp.initialDays ?? 30) * 86_400_000) : null,
        cancelledAt: null,
        cancelReason: null,
        billEmail,
        custom,
        card: { ...TEST_CARD, expYear: new Date().getUTCFullYear() + 3, ...card },
      };
      this.membershipMap.set(purchaseId, membership);
    }
    const fields = this.transactionFields(transaction, 'Auth');
    for (const [param, field] of Object.entries(PREFILL_TO_POSTBACK)) {
      const value = query.get(param);
      if (value) fields[field] = value;
    }
    const postback = this.postback(fields);
    const redirectUrl = (approve ? query.get('x-auth-link') : query.get('x-decl-link')) || null;
    return { transaction: { ...transaction }, membership: membership ? { ...membership } : null, redirectUrl, postback };
  }

  private newTransaction(input: Omit<SegpayTransaction, 'tranId' | 'price' | 'refundedCents' | 'status' | 'createdAt'>): SegpayTransaction {
    const transaction: SegpayTransaction = {
      ...input,
      custom: { ...input.custom },
      tranId: String(this.nextTranId++),
      price: formatPrice(input.amountCents),
      refundedCents: 0,
      status: input.approved ? 'approved' : 'declined',
      createdAt: new Date(),
    };
    this.transactionMap.set(transaction.tranId, transaction);
    return transaction;
  }

  /** The transaction postback fields Segpay sends (its default postback: every field, custom ones echoed). */
  private transactionFields(t: SegpayTransaction, action: 'Auth' | 'Void'): Record<string, string> {
    const pp = this.pricePointMap.get(t.eticketId);
    const fields: Record<string, string> = {
      action,
      stage: t.stage,
      approved: t.approved ? 'Yes' : 'No',
      trantype: t.type,
      tranid: t.tranId,
      purchaseid: t.purchaseId ?? '',
      price: t.price,
      currencycode: t.currencyCode,
      eticketid: t.eticketId,
      ip: t.ip,
      transtime: transTime(t.createdAt),
      initialvalue: pp ? formatPrice(toCents(pp.initialPrice)) : '',
      initialperiod: String(pp?.initialDays ?? ''),
      recurringvalue: pp?.recurringPrice !== undefined ? formatPrice(toCents(pp.recurringPrice)) : '',
      recurringperiod: pp?.recurringPrice !== undefined ? String(pp.recurringDays ?? 30) : '',
      desc: pp?.description ?? '',
    };
    if (t.relatedTranId) fields.relatedtranid = t.relatedTranId;
    if (t.billEmail) fields.billemail = t.billEmail;
    if (t.billName) fields.billname = t.billName;
    return { ...t.custom, ...fields };
  }

  // ================================================================ postbacks

  private postback(fields: Record<string, string>): Promise<DeliveryRecord | undefined> {
    return this.sendPostback(this.recordPostback(fields, false, null));
  }

  private recordPostback(fields: Record<string, string>, forged: boolean, replayOf: string | null): SegpayPostback {
    const record: SegpayPostback = {
      id: `pb_${this.nextPostbackId++}`,
      fields: { ...fields },
      body: new URLSearchParams(fields).toString(),
      url: this.postbackUrl ?? '',
      forged,
      replayOf,
    };
    this.postbackMap.set(record.id, record);
    return record;
  }

  private sendPostback(record: SegpayPostback): Promise<DeliveryRecord | undefined> {
    if (!record.url) return Promise.resolve(undefined);
    return this.deliver({
      kind: 'postback',
      subjectId: record.id,
      url: record.url,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'Segpay Postback (emulator)' },
      body: record.body,
    });
  }

  // ================================================================ SRS API (our JSON approximation)

  /** Query string and form body together: SRS callers put credentials in the query string. */
  private params(req: EmulatorRequest): URLSearchParams {
    const params = new URLSearchParams(req.search);
    for (const [k, v] of Object.entries(asRecord(req.body) ?? {})) if (typeof v === 'string' && !params.has(k)) params.set(k, v);
    return params;
  }

  private publicTransaction(t: SegpayTransaction): Record<string, unknown> {
    return {
      tranId: t.tranId,
      purchaseId: t.purchaseId,
      eticketId: t.eticketId,
      type: t.type,
      stage: t.stage,
      approved: t.approved,
      status: t.status,
      amount: t.price,
      currencyCode: t.currencyCode,
      refundedAmount: formatPrice(t.refundedCents),
      relatedTranId: t.relatedTranId,
      billEmail: t.billEmail,
      refId: t.refId ?? null,
      oneClickOf: t.oneClickOf ?? null,
      createdAt: t.createdAt.toISOString(),
      custom: { ...t.custom },
    };
  }

  private publicMembership(m: SegpayMembership): Record<string, unknown> {
    return {
      purchaseId: m.purchaseId,
      eticketId: m.eticketId,
      recurring: m.recurring,
      status: m.status,
      initialTranId: m.initialTranId,
      rebills: m.rebills,
      nextBillDate: m.nextBillDate?.toISOString() ?? null,
      cancelledAt: m.cancelledAt?.toISOString() ?? null,
      cancelReason: m.cancelReason,
      billEmail: m.billEmail,
      card: { brand: m.card.brand, last4: m.card.last4, expMonth: m.card.expMonth, expYear: m.card.expYear },
    };
  }

  private lookupTransaction(req: EmulatorRequest): EmulatorResponse {
    const t = this.transactionMap.get(req.params.tranId);
    if (!t) return json(404, { found: false, tranId: req.params.tranId });
    return json(200, { found: true, transaction: this.publicTransaction(t) });
  }

  /**
   * The transactions report: StartDate and EndDate (both inclusive; ISO 8601, or YYYY-MM-DD for whole
   * days), PurchaseID and Type filters, oldest first (createdAt, then tranId), at most `Limit` rows
   * (1..1000, default 1000) after the `StartAfter` transaction; `hasMore` when more follow.
   */
  private listTransactions(req: EmulatorRequest): EmulatorResponse {
    const params = this.params(req);
    const start = parseDate(params.get('StartDate'), false);
    const end = parseDate(params.get('EndDate'), true);
    if (start === null || end === null) return srsError(400, 'StartDate and EndDate are required (ISO 8601 or YYYY-MM-DD)');
    if (end < start) return srsError(400, 'EndDate is before StartDate');
    const limit = params.has('Limit') ? Number(params.get('Limit')) : REPORT_MAX_ROWS;
    if (!Number.isInteger(limit) || limit < 1 || limit > REPORT_MAX_ROWS)
      return srsError(400, `Limit must be between 1 and ${REPORT_MAX_ROWS}`);
    const purchaseId = params.get('PurchaseID');
    const type = params.get('Type');
    const refId = params.get('RefID');
    if (type && !['sale', 'credit', 'charge'].includes(type)) return srsError(400, 'Type must be sale, credit or charge');
    const order = (a: SegpayTransaction, b: SegpayTransaction) =>
      a.createdAt.getTime() - b.createdAt.getTime() || (a.tranId < b.tranId ? -1 : a.tranId > b.tranId ? 1 : 0);
    let rows = [...this.transactionMap.values()]
      .filter((t) => t.createdAt.getTime() >= start && t.createdAt.getTime() <= end)
      .filter((t) => (!purchaseId || t.purchaseId === purchaseId) && (!type || t.type === type) && (!refId || t.refId === refId))
      .sort(order);
    const startAfter = params.get('StartAfter');
    if (startAfter) {
      const cursor = this.transactionMap.get(startAfter);
      if (!cursor) return srsError(400, `StartAfter names no transaction: ${startAfter}`);
      rows = rows.filter((t) => order(t, cursor) > 0);
    }
    const transactions = rows.slice(0, limit).map((t) => this.publicTransaction(t));
    return json(200, { count: transactions.length, transactions, hasMore: rows.length > limit });
  }

  /**
   * Refunds a sale, fully or partially (Amount in major units, default: what is left). Like Segpay's
   * refund call it has no idempotency key: each accepted call refunds again.
   */
  private async refundRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const sale = this.transactionMap.get(req.params.tranId);
    if (!sale) return srsError(404, `Transaction ${req.params.tranId} not found`);
    if (sale.type !== 'sale' || !sale.approved) return srsError(400, 'Only approved sales can be refunded');
    if (sale.status === 'charged_back') return srsError(409, 'Transaction was charged back');
    const remaining = sale.amountCents - sale.refundedCents;
    if (remaining <= 0) return srsError(409, 'Transaction already fully refunded');
    const amountParam = this.params(req).get('Amount');
    let cents = remaining;
    if (amountParam !== null) {
      const value = Number(amountParam);
      if (!Number.isFinite(value) || value <= 0) return srsError(400, 'Amount must be a positive number');
      cents = toCents(value);
    }
    if (cents > remaining) return srsError(400, `Amount ${formatPrice(cents)} exceeds the refundable ${formatPrice(remaining)}`);
    const credit = this.newTransaction({
      purchaseId: sale.purchaseId,
      eticketId: sale.eticketId,
      type: 'credit',
      stage: sale.stage,
      approved: true,
      amountCents: cents,
      currencyCode: sale.currencyCode,
      relatedTranId: sale.tranId,
      billEmail: sale.billEmail,
      billName: sale.billName,
      ip: sale.ip,
      custom: sale.custom,
    });
    sale.refundedCents += cents;
    sale.status = sale.refundedCents >= sale.amountCents ? 'refunded' : 'partially_refunded';
    await this.postback(this.transactionFields(credit, 'Void'));
    return json(200, { result: 'Successful', refund: this.publicTransaction(credit), transaction: this.publicTransaction(sale) });
  }

  /**
   * A one-click sale (our JSON approximation of Segpay's one-click service): charges the card kept on a
   * previous purchase (`OCToken`, its purchase id) for `Amount` on price point `EticketID`, without the
   * buyer, as a new one-off purchase. Strict: the purchase must exist, be ours and not charged back; the
   * price point must exist and its currency be `CurrencyCode`. `RefID` (the merchant's reference) is
   * unique: the same RefID again answers the transaction it made (nothing is charged twice); with other
   * parameters it is refused. Answers 200 with the transaction, approved or declined, and sends its
   * postback (stage Initial) before answering.
   */
  private async oneClickRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const params = this.params(req);
    const token = params.get('OCToken') ?? '';
    const eticketId = params.get('EticketID') ?? '';
    const refId = params.get('RefID') ?? '';
    const amount = Number(params.get('Amount'));
    const currency = (params.get('CurrencyCode') ?? '').toUpperCase();
    if (!refId) return srsError(400, 'RefID is required');
    if (!Number.isFinite(amount) || amount <= 0 || !/^\d+(\.\d{1,2})?$/.test(params.get('Amount') ?? ''))
      return srsError(400, 'Amount must be a positive amount with at most two decimals');
    const earlier = [...this.transactionMap.values()].find((t) => t.refId === refId);
    if (earlier) {
      if (earlier.oneClickOf !== token || earlier.amountCents !== toCents(amount) || earlier.eticketId !== eticketId)
        return srsError(409, `RefID ${refId} was used for another one-click sale`);
      return json(200, {
        result: earlier.approved ? 'Successful' : 'Declined',
        replayed: true,
        transaction: this.publicTransaction(earlier),
      });
    }
    const membership = this.membershipMap.get(token);
    if (!membership) return srsError(404, `Purchase ${token} not found`);
    const initial = this.transactionMap.get(membership.initialTranId);
    if (!initial?.approved || initial.status === 'charged_back')
      return srsError(409, `Purchase ${token} cannot be used for one-click sales`);
    const pp = this.pricePointMap.get(eticketId);
    if (!pp) return srsError(400, `Invalid eticket ${eticketId}`);
    if ((pp.currencyCode ?? 'USD') !== currency)
      return srsError(400, `Price point ${eticketId} is in ${pp.currencyCode ?? 'USD'}, not ${currency}`);
    const approved = !membership.card.declines;
    const purchaseId = approved ? String(this.nextPurchaseId++) : null;
    const transaction = this.newTransaction({
      purchaseId,
      eticketId,
      type: 'sale',
      stage: 'Initial',
      approved,
      amountCents: toCents(amount),
      currencyCode: currency,
      relatedTranId: null,
      billEmail: membership.billEmail,
      billName: initial.billName,
      ip: initial.ip,
      // Custom parameters belong to the request that sent them: the one-click call's own are echoed.
      custom: oneClickCustom(params),
    });
    transaction.refId = refId;
    transaction.oneClickOf = token;
    if (purchaseId) {
      this.membershipMap.set(purchaseId, {
        ...membership,
        purchaseId,
        eticketId,
        // On a recurring price point the sale starts a membership of its own, which Segpay rebills.
        recurring: pp.recurringPrice !== undefined,
        status: 'active',
        initialTranId: transaction.tranId,
        rebills: 0,
        nextBillDate: pp.recurringPrice !== undefined ? new Date(Date.now() + (pp.initialDays ?? 30) * 86_400_000) : null,
        cancelledAt: null,
        cancelReason: null,
        custom: {},
        card: membership.card,
      });
    }
    await this.postback(this.transactionFields(transaction, 'Auth'));
    return json(200, { result: approved ? 'Successful' : 'Declined', replayed: false, transaction: this.publicTransaction(transaction) });
  }

  private lookupMembership(req: EmulatorRequest): EmulatorResponse {
    const m = this.membershipMap.get(req.params.purchaseId);
    if (!m) return json(404, { found: false, purchaseId: req.params.purchaseId });
    return json(200, { found: true, membership: this.publicMembership(m) });
  }

  private async cancelRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const m = this.membershipMap.get(req.params.purchaseId);
    if (!m) return srsError(404, `Purchase ${req.params.purchaseId} not found`);
    if (m.status === 'cancelled') return srsError(409, 'Membership already cancelled');
    m.status = 'cancelled';
    m.cancelledAt = new Date();
    m.cancelReason = this.params(req).get('CancelReason');
    m.nextBillDate = null;
    await this.postback({
      ...m.custom,
      action: 'Cancel',
      purchaseid: m.purchaseId,
      eticketid: m.eticketId,
      transtime: transTime(m.cancelledAt),
    });
    return json(200, { result: 'Successful', membership: this.publicMembership(m) });
  }

  // ================================================================ control routes

  private async rebillRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    return this.control(async () =>
      this.publicTransaction(await this.rebill(req.params.purchaseId, { approve: asString(asRecord(req.body)?.approved) !== 'No' })),
    );
  }

  private async chargebackRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    return this.control(async () => this.publicTransaction(await this.chargeback(req.params.tranId)));
  }

  private async forgeRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(asRecord(req.body) ?? {})) if (typeof v === 'string') fields[k] = v;
    return this.control(() => this.sendForgedPostback(fields));
  }

  private async replayRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    return this.control(() => this.replayPostback(req.params.id));
  }

  private addPricePointRoute(req: EmulatorRequest): EmulatorResponse {
    const body = asRecord(req.body) ?? {};
    const num = (v: unknown): number | undefined => (v === undefined || v === '' ? undefined : Number(v));
    const packageId = asString(body.packageId);
    const pricePointId = asString(body.pricePointId);
    const initialPrice = num(body.initialPrice);
    if (!packageId || !pricePointId || initialPrice === undefined || !Number.isFinite(initialPrice)) {
      return json(400, { error: 'packageId, pricePointId and initialPrice are required' });
    }
    const eticketId = this.addPricePoint({
      packageId,
      pricePointId,
      initialPrice,
      initialDays: num(body.initialDays),
      recurringPrice: num(body.recurringPrice),
      recurringDays: num(body.recurringDays),
      currencyCode: asString(body.currencyCode),
      description: asString(body.description),
    });
    return json(200, { eticketId });
  }

  private async control(fn: () => Promise<unknown>): Promise<EmulatorResponse> {
    try {
      return json(200, await fn());
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** ISO 8601, or YYYY-MM-DD (a date-only EndDate covers that whole day). null when missing or invalid. */
/** The most rows one transactions report answers. */
const REPORT_MAX_ROWS = 1000;

function parseDate(value: string | null, endOfDay: boolean): number | null {
  if (!value) return null;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const time = Date.parse(dateOnly ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(time)) return null;
  return dateOnly && endOfDay ? time + 86_400_000 - 1 : time;
}

/** Parses `package:pricepoint:price[:currency[:recurringPrice[:days]]]` (the CLI's --price-point). */
export function parsePricePointSpec(spec: string): SegpayPricePoint {
  const [packageId, pricePointId, price, currencyCode, recurringPrice, days] = spec.split(':');
  const initialPrice = Number(price);
  if (!packageId || !pricePointId || !Number.isFinite(initialPrice)) {
    throw new Error(`invalid price point '${spec}': expected package:pricepoint:price[:currency[:recurringPrice[:days]]]`);
  }
  return {
    packageId,
    pricePointId,
    initialPrice,
    currencyCode: currencyCode || 'USD',
    recurringPrice: recurringPrice ? Number(recurringPrice) : undefined,
    recurringDays: days ? Number(days) : undefined,
    initialDays: days ? Number(days) : undefined,
  };
}

const ONE_CLICK_PARAMS = new Set(['MerchantID', 'UserID', 'UserAccessKey', 'OCToken', 'EticketID', 'Amount', 'CurrencyCode', 'RefID']);

/** A one-click call's parameters that Segpay does not interpret: passed through and echoed in its postback. */
function oneClickCustom(params: URLSearchParams): Record<string, string> {
  const custom: Record<string, string> = {};
  for (const [k, v] of params.entries()) if (!ONE_CLICK_PARAMS.has(k) && !k.startsWith('x-')) custom[k] = v;
  return custom;
}
