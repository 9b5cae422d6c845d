import { Injectable } from '@nestjs/common';
import { randomBase62 } from '../../../common/ids';
import { ProviderDeclineError, ProviderSavedMethod, SavedMethodRef, SaveMethodInput } from '../payment-provider';
import { cardOf, outcomeOf, saveable } from './simulator.mapper';
import { SimulatorVaultRepository } from './simulator-vault.repository';

/** Stands for a saved method the simulator does not have (detached, or never saved): its charges decline. */
const NO_SUCH_METHOD = 'tok_detachedMethod';

/**
 * The simulator's vault: cards saved for charges without the customer. A token that would decline is
 * refused (402), except those that only fail later (tok_chargeCustomerFail…). Its customers are
 * references of its own (`sim_cus_…`), created on the first save.
 */
@Injectable()
export class SimulatorVault {
  constructor(private readonly records: SimulatorVaultRepository) {}

  async save(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    const outcome = outcomeOf(input.token);
    if (!saveable(outcome)) {
      throw new ProviderDeclineError('simulator', outcome.status === 'declined' ? outcome.declineCode : 'card_not_saveable');
    }
    const customerRef = input.providerCustomerRef ?? `sim_cus_${randomBase62(20)}`;
    const card = cardOf(input.token);
    const saved = await this.records.save({
      id: `sim_pm_${randomBase62(20)}`,
      customerRef,
      merchantId: input.merchantId,
      idempotencyKey: input.idempotencyKey,
      token: input.token,
      ...card,
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 3,
    });
    return {
      providerCustomerRef: saved.customerRef,
      providerMethodRef: saved.id,
      brand: saved.brand,
      last4: saved.last4,
      expMonth: saved.expMonth,
      expYear: saved.expYear,
    };
  }

  async detach(ref: SavedMethodRef): Promise<void> {
    await this.records.detach(ref.providerMethodRef, ref.providerCustomerRef);
  }

  /** The token a charge on a saved method runs with (a detached method's declines). */
  async tokenOf(ref: SavedMethodRef): Promise<string> {
    const method = await this.records.find(ref.providerMethodRef, ref.providerCustomerRef);
    return method && !method.detached ? method.token : NO_SUCH_METHOD;
  }
}
