import { Injectable } from '@nestjs/common';
import { randomBase62 } from '../../../common/ids';
import { ProviderDeclineError, ProviderSavedMethod, SavedMethodRef, SaveMethodInput } from '../payment-provider';
import { cardOf, outcomeOf, saveable } from './simulator.mapper';
import { SimulatorSavedMethod, SimulatorVaultRepository } from './simulator-vault.repository';

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

  save(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    return this.store(input.merchantId, input.token, input.providerCustomerRef, input.idempotencyKey);
  }

  /**
   * A hosted page whose session asks for it saves the card it charged, once per session (`hosted:<session>`),
   * as Stripe's setup_future_usage does; null when the session does not ask.
   */
  async saveOnPage(session: { id: string; merchantId: string; saveMethod: boolean; customerRef: string | null }, token: string) {
    if (!session.saveMethod) return null;
    return this.store(session.merchantId, token, session.customerRef, hostedKey(session.id));
  }

  /** The card a hosted session's page saved, as the vault shows it (null: none). */
  async savedOnPage(sessionId: string): Promise<ProviderSavedMethod | null> {
    const method = await this.records.findByKey(hostedKey(sessionId));
    return method && toSaved(method);
  }

  private async store(merchantId: string, token: string, customerRef: string | null, idempotencyKey: string): Promise<ProviderSavedMethod> {
    const outcome = outcomeOf(token);
    if (!saveable(outcome)) {
      throw new ProviderDeclineError('simulator', outcome.status === 'declined' ? outcome.declineCode : 'card_not_saveable');
    }
    const card = cardOf(token);
    const saved = await this.records.save({
      id: `sim_pm_${randomBase62(20)}`,
      customerRef: customerRef ?? `sim_cus_${randomBase62(20)}`,
      merchantId,
      idempotencyKey,
      token,
      ...card,
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 3,
    });
    return toSaved(saved);
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

const hostedKey = (sessionId: string) => `hosted:${sessionId}`;

function toSaved(method: SimulatorSavedMethod): ProviderSavedMethod {
  const { id, customerRef, brand, last4, expMonth, expYear } = method;
  return { providerCustomerRef: customerRef, providerMethodRef: id, brand, last4, expMonth, expYear };
}
