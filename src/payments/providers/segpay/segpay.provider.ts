// Over 400 lines (407) for now: the Segpay adapter's whole contract (hosted page, SRS confirmations, refunds,
// one-click, listing, rebills). Next split: the postback verification (token, IP list) into its own file.
import type { BlockList } from 'node:net';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../../config/env';
import { fromMajorString, toMajorString } from '../../../common/money';
import {
  ChargeInput,
  CreateCheckoutInput,
  PaymentProvider,
  ProviderCheckout,
  ProviderDeclineError,
  ProviderPayment,
  ProviderRefund,
  ProviderRefundStatus,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
  ProviderTransaction,
  ProviderWebhookEvent,
  ProviderSavedMethod,
  RefundInput,
  SavedMethodRef,
  SaveMethodInput,
  TransactionWindow,
  WebhookRequest,
  WebhookVerificationError,
} from '../payment-provider';
import {
  checkoutSigningKey,
  claimProblems,
  confirmationProblems,
  isAllowedSource,
  parseAllowList,
  paymentPageUrl,
  PostbackFormatError,
  postbackFieldsOf,
  readPostback,
  signCheckoutClaim,
  SrsMembership,
  SrsTransaction,
  toChargebackDispute,
  toProviderPayment,
  creditStatusOf,
  toWebhookEvent,
  verifiedCheckoutClaim,
} from './segpay.mapper';
import { describe, NOT_SENT, sameSecret } from './segpay-support';
import { SegpayRefundClaimsRepository } from './segpay-refund-claims.repository';
import { errorText, oneClickEvent, SegpayOneClick, SrsAnswer } from './segpay-one-click';
import { listSegpayTransactions } from './segpay-listing';

/**
 * Segpay: no SDK and no payment API. Money is taken only on Segpay's hosted payment page; Segpay tells
 * us by unsigned postbacks (`POST /webhooks/segpay/:token`), which are trusted only after the secret
 * path token, the optional source-address allow-list and a confirmation through the SRS reporting API
 * (confirmEvent). Refunds go through SRS, which has no idempotency key (see refund()).
 *
 * The SRS calls follow our emulator's JSON design (test/emulators/README.md): Segpay's real SRS web
 * services have the same roles and credentials in the query string but answer XML/text.
 */
@Injectable()
export class SegpayProvider implements PaymentProvider {
  readonly id = 'segpay' as const;
  readonly configured: boolean;
  private readonly logger = new Logger(SegpayProvider.name);
  private readonly merchantId?: string;
  private readonly userId?: string;
  private readonly accessKey?: string;
  private readonly eticketId?: string;
  private readonly pageBase: string;
  private readonly apiBase: string;
  private readonly postbackToken?: string;
  private readonly allowList: BlockList | null;
  private readonly timeoutMs: number;
  private readonly signingKey: Buffer | null;
  private readonly oneClick: SegpayOneClick;

  constructor(
    config: ConfigService<Env, true>,
    private readonly claims: SegpayRefundClaimsRepository,
  ) {
    this.merchantId = config.get('SEGPAY_MERCHANT_ID', { infer: true });
    this.configured = Boolean(this.merchantId);
    this.userId = config.get('SEGPAY_USER_ID', { infer: true });
    this.accessKey = config.get('SEGPAY_API_KEY', { infer: true });
    const packageId = config.get('SEGPAY_PACKAGE_ID', { infer: true });
    const pricePointId = config.get('SEGPAY_PRICE_POINT_ID', { infer: true });
    this.eticketId = packageId && pricePointId ? `${packageId}:${pricePointId}` : undefined;
    this.pageBase = config.get('SEGPAY_PAYMENT_PAGE_BASE', { infer: true });
    this.apiBase = config.get('SEGPAY_API_BASE', { infer: true }).replace(/\/+$/, '');
    this.postbackToken = config.get('SEGPAY_POSTBACK_TOKEN', { infer: true });
    this.allowList = parseAllowList(config.get('SEGPAY_POSTBACK_IPS', { infer: true }));
    this.timeoutMs = config.get('PROVIDER_TIMEOUT_MS', { infer: true });
    this.signingKey = this.accessKey ? checkoutSigningKey(this.accessKey) : null;
    this.oneClick = new SegpayOneClick(
      {
        srs: (method, path, options) => this.srs(method, path, options),
        findMembership: (id) => this.findMembership(id),
        findTransaction: (id) => this.findTransaction(id),
      },
      this.eticketId,
    );
  }

  /**
   * A link to Segpay's payment page; nothing is created at Segpay until the customer pays, so the link
   * is the session (providerSessionId = our checkout session id) and a retry builds the same link.
   *
   * Segpay charges the price configured on the price point, not an amount we send. CreateCheckoutInput
   * carries no product, so every session uses SEGPAY_PACKAGE_ID:SEGPAY_PRICE_POINT_ID, and that price
   * point's price must equal the session total. The expected amount, currency and price point travel
   * signed in the custom parameters; confirmEvent refuses a payment that does not match them.
   */
  async createCheckout(input: CreateCheckoutInput): Promise<ProviderCheckout> {
    if (!this.eticketId)
      throw new ProviderUnavailableError(this.id, 'Segpay has no price point configured (SEGPAY_PACKAGE_ID, SEGPAY_PRICE_POINT_ID)');
    if (!this.signingKey || !this.userId)
      throw new ProviderUnavailableError(
        this.id,
        'Segpay postbacks cannot be confirmed without SRS credentials (SEGPAY_USER_ID, SEGPAY_API_KEY)',
      );
    const claim = {
      session: input.reference,
      merchant: input.merchantId,
      amount: input.amount,
      currency: input.currency,
      eticketId: this.eticketId,
    };
    const url = paymentPageUrl({
      pageBase: this.pageBase,
      claim,
      signature: signCheckoutClaim(claim, this.signingKey),
      successUrl: input.successUrl,
      cancelUrl: input.cancelUrl,
      customer: input.customer,
    });
    return { providerSessionId: input.reference, url };
  }

  /**
   * Segpay takes card details only on its own page: no token charge. A saved method (a purchase id) is
   * charged by a one-click sale (SegpayOneClick).
   */
  async charge(input: ChargeInput): Promise<ProviderPayment> {
    if (input.saved) return this.oneClick.charge({ ...input, saved: input.saved });
    const why = 'Segpay does not take direct charges: use a hosted checkout (POST /payments/checkout).';
    throw new ProviderDeclineError(this.id, 'not_supported', undefined, why);
  }

  /** Keeps a purchase id for one-click sales, once SRS shows it is this customer's and chargeable. */
  saveMethod(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    return this.oneClick.save(input);
  }

  /** Nothing to revoke at Segpay (no customer object, no vault): a deleted method is only forgotten here. */
  async detachMethod(_ref: SavedMethodRef): Promise<void> {}

  /** Cancels the membership a one-click sale of ours started: Segpay rebills it no more. */
  cancelSubscription(firstChargeRef: string): Promise<void> {
    return this.oneClick.cancelMembership(firstChargeRef);
  }

  /** One-click sales never wait on the customer, so none is canceled. */
  async cancel(_providerRef: string): Promise<void> {}

  /** SRS transaction lookup by Segpay's transaction id; without one, the one-click sale whose RefID is our key. */
  async retrieve(lookup: { providerRef?: string | null; idempotencyKey: string }): Promise<ProviderPayment | null> {
    if (!lookup.providerRef) return this.oneClick.findByKey(lookup.idempotencyKey);
    const transaction = await this.findTransaction(lookup.providerRef);
    return transaction ? toProviderPayment(transaction) : null;
  }

  /**
   * Refunds a sale (fully or partly) through SRS. Segpay's refund call has no idempotency key, so ours
   * is kept in the database (segpay_refund_claims): the key is claimed before SRS is called, with the
   * sale's credits at that moment, and the credit SRS makes is recorded after. A later attempt under the
   * same key (a retry after a lost answer, a restart, another instance) returns the recorded credit;
   * when none was recorded, a credit of exactly this amount that is newer than the claim and answers no
   * other key is that earlier attempt's, and nothing is sent. While one attempt is sending (a lease of
   * twice the provider timeout), another attempt of the same key sends nothing: its outcome is unknown
   * until the first one's answer is recorded or its lease runs out.
   */
  async refund(input: RefundInput): Promise<ProviderRefund> {
    let sale: SrsTransaction | null;
    let credits: SrsTransaction[];
    try {
      sale = await this.findTransaction(input.providerRef);
      credits = sale ? await this.creditsOf(sale) : [];
    } catch (err) {
      // An earlier attempt of this refund was sent and cannot be checked now: it may have refunded, so
      // "nothing happened" (unavailable) would be wrong.
      if (err instanceof ProviderUnavailableError && (await this.claims.find(input.idempotencyKey)))
        throw new ProviderUnknownOutcomeError(this.id, `Cannot check an earlier attempt of this refund: ${err.message}`, { cause: err });
      throw err;
    }
    if (!sale || sale.type !== 'sale' || !sale.approved)
      throw new ProviderDeclineError(this.id, 'refund_refused', input.providerRef, `Segpay has no approved sale ${input.providerRef}.`);
    if (sale.currencyCode.toUpperCase() !== input.currency)
      throw new ProviderDeclineError(this.id, 'refund_refused', input.providerRef, `Sale ${sale.tranId} is in ${sale.currencyCode}.`);

    const claim = await this.claims.claim({
      refundKey: input.idempotencyKey,
      saleTranId: sale.tranId,
      amount: input.amount,
      currency: input.currency,
      creditsBefore: credits.map((c) => c.tranId),
      leaseMs: this.timeoutMs * 2,
    });
    if (claim.creditTranId) return { providerRefundId: claim.creditTranId, status: 'succeeded' };
    if (!claim.fresh) {
      const before = new Set(claim.creditsBefore);
      const others = await this.claims.creditsOfOtherKeys(sale.tranId, input.idempotencyKey);
      const earlier = credits.find(
        (c) => fromMajorString(c.amount, input.currency) === input.amount && !before.has(c.tranId) && !others.has(c.tranId),
      );
      if (earlier) {
        await this.claims.recordCredit(input.idempotencyKey, earlier.tranId);
        return { providerRefundId: earlier.tranId, status: 'succeeded' };
      }
      if (!claim.mayCredit)
        throw new ProviderUnknownOutcomeError(this.id, `Another attempt of refund ${input.idempotencyKey} is waiting for Segpay's answer`);
    }

    const answer = await this.srs('POST', `/srs/transactions/${encodeURIComponent(sale.tranId)}/refund`, {
      params: { Amount: toMajorString(input.amount, input.currency), Comment: `paybridge ${input.idempotencyKey}` },
      money: true,
    });
    const credit = answer.body.refund as SrsTransaction | undefined;
    if (answer.status === 200 && credit?.tranId) {
      await this.claims.recordCredit(input.idempotencyKey, credit.tranId);
      return { providerRefundId: credit.tranId, status: 'succeeded' };
    }
    if (answer.status >= 400 && answer.status < 500) {
      await this.claims.release(input.idempotencyKey);
      throw new ProviderDeclineError(this.id, 'refund_refused', input.providerRef, `Segpay refused the refund: ${errorText(answer)}`);
    }
    throw new ProviderUnknownOutcomeError(this.id, `Segpay answered the refund with HTTP ${answer.status} and no credit`);
  }

  /** A refund is a credit transaction at SRS: approved, declined, or not reported yet. */
  async retrieveRefund(lookup: { providerRef: string; providerRefundId: string }): Promise<ProviderRefundStatus> {
    const credit = await this.findTransaction(lookup.providerRefundId);
    if (!credit) return 'pending';
    return creditStatusOf(credit);
  }

  /** Nothing exists at Segpay before the customer pays. The link stays usable: a late payment is still recorded. */
  async cancelCheckout(_providerSessionId: string): Promise<void> {}

  /** Unsigned postbacks: the secret path token and the source allow-list stand in for a signature. */
  async parseWebhook(request: WebhookRequest): Promise<ProviderWebhookEvent> {
    if (!this.postbackToken || !sameSecret(request.params.token ?? '', this.postbackToken))
      throw new WebhookVerificationError('Unknown Segpay postback token', 403);
    if (!isAllowedSource(this.allowList, request.ip))
      throw new WebhookVerificationError('Segpay postbacks are not accepted from this address', 403);
    try {
      return toWebhookEvent(readPostback(request.rawBody, request.query));
    } catch (err) {
      if (err instanceof PostbackFormatError) throw new WebhookVerificationError(err.message, 400);
      throw err;
    }
  }

  /**
   * Nothing in a postback is trusted until SRS confirms it: the transaction exists and matches the
   * postback field for field; for a first sale, it is also what our checkout asked for (the signed
   * custom parameters); a one-click sale is a direct charge's outcome (oneClickEvent); a rebill or
   * cancellation is of the membership a one-click sale of ours started (membershipOwner). Returns the event with SRS's amount and currency; throws
   * WebhookVerificationError when SRS does not confirm (the event is then ignored), and a provider
   * error when SRS cannot answer (the worker retries).
   */
  async confirmEvent(event: ProviderWebhookEvent): Promise<ProviderWebhookEvent> {
    const fields = postbackFieldsOf(event);
    // Merchant and session come only from a signed claim: unsigned custom parameters are never used.
    const claim = this.signingKey ? verifiedCheckoutClaim(fields, this.signingKey) : null;
    const owner = { merchantId: claim?.merchant, reference: claim?.session, providerSessionId: claim?.session };
    if (event.type === 'membership.cancelled') {
      const membership = await this.findMembership(fields.purchaseid ?? '');
      if (!membership || membership.status !== 'cancelled')
        throw new WebhookVerificationError(`SRS does not confirm the cancellation of purchase ${fields.purchaseid}`);
      return { ...event, ...(await this.oneClick.membershipOwner(membership.purchaseId)) };
    }
    const transaction = await this.findTransaction(fields.tranid ?? '');
    if (!transaction) throw new WebhookVerificationError(`SRS has no transaction ${fields.tranid}`);
    const problems = confirmationProblems(fields, transaction);
    if (problems.length > 0) throw new WebhookVerificationError(`SRS does not confirm postback ${event.eventId}: ${problems.join('; ')}`);

    if (event.kind === 'renewal.succeeded' || event.kind === 'renewal.failed') {
      const subscriber = await this.oneClick.membershipOwner(transaction.purchaseId ?? '');
      return { ...event, ...subscriber, reference: undefined, providerRef: transaction.tranId, ...this.amountOf(transaction) };
    }
    if (event.kind === 'payment.succeeded' || event.kind === 'payment.failed') {
      const oneClick = oneClickEvent(event, transaction);
      if (!oneClick) throw new WebhookVerificationError(`SRS shows ${transaction.tranId} as no one-click sale of ours`);
      return { ...oneClick, ...this.amountOf(transaction) };
    }
    if (event.kind === 'checkout.completed' || event.kind === 'checkout.attempt_failed') {
      if (!claim) throw new WebhookVerificationError(`Postback ${event.eventId} does not carry a valid Paybridge checkout signature`);
      const mismatch = claimProblems(claim, transaction);
      if (mismatch.length > 0) {
        // Money may have moved at a price we did not ask for: a price point that does not match the
        // session total, or a tampered link. Refused, and loud, so that someone reconciles it.
        this.logger.error(
          { sessionId: claim.session, tranId: transaction.tranId, problems: mismatch },
          'Segpay charged something other than the checkout expected; postback refused',
        );
        throw new WebhookVerificationError(`Segpay transaction ${transaction.tranId} does not match checkout ${claim.session}`);
      }
    }
    if (event.kind === 'dispute') {
      if (transaction.type !== 'charge' || !transaction.relatedTranId)
        throw new WebhookVerificationError(`SRS shows ${transaction.tranId} as a ${transaction.type}, not a chargeback`);
      return { ...event, ...owner, ...this.amountOf(transaction), dispute: toChargebackDispute(transaction) };
    }
    return { ...event, ...owner, ...this.amountOf(transaction) };
  }

  /** Sales, credits and chargebacks of the window, from the SRS transactions report (segpay-listing.ts). */
  listTransactions(window: TransactionWindow): AsyncIterable<ProviderTransaction[]> {
    const key = this.signingKey;
    const owner = (t: SrsTransaction) => (key ? verifiedCheckoutClaim({ ...t.custom, eticketid: t.eticketId }, key) : null);
    return listSegpayTransactions((params) => this.srs('GET', '/srs/transactions', { params }), window, owner);
  }

  // ---------------------------------------------------------------- SRS

  private amountOf(t: SrsTransaction): { amount: number; currency: string } {
    const currency = t.currencyCode.toUpperCase();
    return { amount: fromMajorString(t.amount, currency), currency };
  }

  private async findTransaction(tranId: string): Promise<SrsTransaction | null> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(tranId)) return null;
    const answer = await this.srs('GET', `/srs/transactions/${encodeURIComponent(tranId)}`);
    if (answer.status === 404 && answer.body.found === false) return null;
    if (answer.status === 200 && answer.body.found === true) return answer.body.transaction as SrsTransaction;
    throw new ProviderUnavailableError(this.id, `SRS transaction lookup answered HTTP ${answer.status}: ${errorText(answer)}`);
  }

  private async findMembership(purchaseId: string): Promise<SrsMembership | null> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(purchaseId)) return null;
    const answer = await this.srs('GET', `/srs/memberships/${encodeURIComponent(purchaseId)}`);
    if (answer.status === 404 && answer.body.found === false) return null;
    if (answer.status === 200 && answer.body.found === true) return answer.body.membership as SrsMembership;
    throw new ProviderUnavailableError(this.id, `SRS membership lookup answered HTTP ${answer.status}: ${errorText(answer)}`);
  }

  /** The credits (refunds) Segpay recorded against a sale, from the transactions report. */
  private async creditsOf(sale: SrsTransaction): Promise<SrsTransaction[]> {
    if (!sale.purchaseId) return [];
    const answer = await this.srs('GET', '/srs/transactions', {
      params: {
        StartDate: new Date(Date.parse(sale.createdAt) - 86_400_000).toISOString().slice(0, 10),
        EndDate: new Date(Date.now() + 86_400_000).toISOString().slice(0, 10),
        PurchaseID: sale.purchaseId,
        Type: 'credit',
      },
    });
    if (answer.status !== 200 || !Array.isArray(answer.body.transactions))
      throw new ProviderUnavailableError(this.id, `SRS transactions report answered HTTP ${answer.status}: ${errorText(answer)}`);
    return (answer.body.transactions as SrsTransaction[]).filter((t) => t.type === 'credit' && t.relatedTranId === sale.tranId);
  }

  /**
   * One SRS call, credentials in the query string (never logged: error messages carry no URL).
   * 5xx, 429, rejected credentials and connections that never opened are ProviderUnavailableError
   * (nothing happened). A money call that was sent and got no answer (timeout, dropped connection) is
   * ProviderUnknownOutcomeError; a read that got no answer is unavailable (it changed nothing).
   */
  private async srs(
    method: 'GET' | 'POST',
    path: string,
    options: { params?: Record<string, string>; money?: boolean } = {},
  ): Promise<SrsAnswer> {
    if (!this.merchantId || !this.userId || !this.accessKey)
      throw new ProviderUnavailableError(
        this.id,
        'SRS credentials are not configured (SEGPAY_MERCHANT_ID, SEGPAY_USER_ID, SEGPAY_API_KEY)',
      );
    const url = new URL(`${this.apiBase}${path}`);
    const query = { MerchantID: this.merchantId, UserID: this.userId, UserAccessKey: this.accessKey, ...options.params };
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method, headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (!options.money || (code && NOT_SENT.has(code)))
        throw new ProviderUnavailableError(this.id, `SRS unreachable (${describe(err)})`, { cause: err });
      throw new ProviderUnknownOutcomeError(this.id, `SRS sent no answer (${describe(err)})`, { cause: err });
    }
    let body: Record<string, unknown>;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      if (res.status >= 500 || res.status === 429 || !options.money)
        throw new ProviderUnavailableError(this.id, `SRS answered HTTP ${res.status} with a body that is not JSON`);
      throw new ProviderUnknownOutcomeError(this.id, `SRS answered HTTP ${res.status} with a body that is not JSON`);
    }
    if (res.status >= 500 || res.status === 429)
      throw new ProviderUnavailableError(this.id, `SRS answered HTTP ${res.status}: ${errorText({ status: res.status, body })}`);
    if (res.status === 401 || res.status === 403)
      throw new ProviderUnavailableError(this.id, `SRS refused our credentials (HTTP ${res.status})`);
    return { status: res.status, body };
  }
}
