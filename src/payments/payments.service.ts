import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../common/errors/domain-errors';
import { Page, PageRequest, paginate } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { PaymentsRepository } from './payments.repository';
import { PaymentFilter, PaymentsSearchRepository } from './payments-search.repository';
import type { Payment, TimelineEntry } from './payments.types';

/** The read side of payments: one payment, lists and timelines, for the API and other services. */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly db: DatabaseService,
    private readonly payments: PaymentsRepository,
    private readonly search: PaymentsSearchRepository,
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

  async timeline(merchantId: string, id: string): Promise<TimelineEntry[]> {
    await this.getById(merchantId, id);
    return this.payments.timeline(merchantId, id);
  }
}
