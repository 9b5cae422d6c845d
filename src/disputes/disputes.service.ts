import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../common/errors/domain-errors';
import { paginate, type Page, type PageRequest } from '../common/pagination';
import { ProviderError } from '../payments/providers/payment-provider';
import { ProviderRegistry } from '../payments/providers/provider-registry';
import { DisputesRepository, type DisputeFilter } from './disputes.repository';
import { disputeView, isClosed } from './disputes.types';

const view = disputeView;

@Injectable()
export class DisputesService {
  constructor(
    private readonly disputes: DisputesRepository,
    private readonly registry: ProviderRegistry,
  ) {}

  async list(merchantId: string, filter: DisputeFilter, page: PageRequest): Promise<Page<ReturnType<typeof view>>> {
    const found = await paginate(
      page,
      () => this.disputes.list(merchantId, filter, page),
      () => this.disputes.count(merchantId, filter),
    );
    return { ...found, data: found.data.map(view) };
  }

  async get(merchantId: string, id: string) {
    const dispute = await this.disputes.findById(merchantId, id);
    if (!dispute) throw new NotFoundError('dispute', id);
    return view(dispute);
  }

  /**
   * Sends the evidence to a provider that takes it (Stripe), then records it; for the others it is only
   * recorded. A closed dispute takes none (422).
   */
  async submitEvidence(merchantId: string, id: string, text: string) {
    const dispute = await this.disputes.findById(merchantId, id);
    if (!dispute) throw new NotFoundError('dispute', id);
    if (isClosed(dispute.status))
      throw new DomainError('unprocessable', 'dispute_closed', `Dispute ${id} is ${dispute.status}: it takes no more evidence`);
    const adapter = this.registry.has(dispute.provider) ? this.registry.get(dispute.provider) : null;
    if (adapter?.submitDisputeEvidence) {
      try {
        await adapter.submitDisputeEvidence(dispute.providerRef, text);
      } catch (err) {
        if (err instanceof ProviderError)
          throw new DomainError(
            'provider_unavailable',
            'provider_unavailable',
            `${dispute.provider} did not take the evidence: try again`,
            {
              cause: err,
            },
          );
        throw err;
      }
    }
    const recorded = await this.disputes.recordEvidence(merchantId, id, text);
    if (!recorded) throw new NotFoundError('dispute', id);
    return view(recorded);
  }
}
