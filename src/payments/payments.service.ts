import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../common/errors/domain-errors';
import { Page, PageRequest, paginate } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { PaymentsRepository } from './payments.repository';
import { DisputesRepository } from '../disputes/disputes.repository';
import { disputeView } from '../disputes/disputes.types';
import { PaymentFilter, PaymentsSearchRepository } from './payments-search.repository';
import type { Payment, TimelineEntry } from './payments.types';
import { TransactionsSearchRepository, type TransactionFilter } from './transactions-search.repository';

/** An item of GET /transactions: a payment or a dispute, told apart by `kind`. */
export type Transaction = Payment | ReturnType<typeof disputeView>;

/** The read side of payments: one payment, lists and timelines, for the API and other services. */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly db: DatabaseService,
    private readonly payments: PaymentsRepository,
    private readonly search: PaymentsSearchRepository,
    private readonly transactions: TransactionsSearchRepository,
    private readonly disputes: DisputesRepository,
  ) {}

  async getById(merchantId: string, id: string): Promise<Payment> {
    const payment = await this.payments.findById(merchantId, id);
    if (!payment) throw new NotFoundError('payment', id);
    return payment;
  }

  async list(merchantId: string, filter: PaymentFilter, page: PageRequest, executor: Executor = this.db): Promise<Page<Payment>> {
    return paginate(
      page,
      () => this.search.list(merchantId, filter, page, executor),
      () => this.search.count(merchantId, filter, executor),
    );
  }

  /** GET /transactions: payments and disputes, newest first, each read in full after the page is chosen. */
  async listTransactions(
    merchantId: string,
    filter: TransactionFilter,
    page: PageRequest,
    executor: Executor = this.db,
  ): Promise<Page<Transaction>> {
    return paginate(
      page,
      async () => {
        const keys = await this.transactions.list(merchantId, filter, page, executor);
        const ids = (kind: string) => keys.filter((k) => k.kind === kind).map((k) => k.id);
        const [payments, disputes] = await Promise.all([
          this.payments.findByIds(merchantId, ids('payment'), executor),
          this.disputes.findByIds(merchantId, ids('dispute'), executor),
        ]);
        const byId = new Map<string, Transaction>([
          ...payments.map((p) => [p.id, p] as const),
          ...disputes.map((d) => [d.id, disputeView(d)] as const),
        ]);
        return keys.map((k) => byId.get(k.id)).filter((t): t is Transaction => t !== undefined);
      },
      () => this.transactions.count(merchantId, filter, executor),
    );
  }

  async timeline(merchantId: string, id: string): Promise<TimelineEntry[]> {
    await this.getById(merchantId, id);
    return this.payments.timeline(merchantId, id);
  }
}
