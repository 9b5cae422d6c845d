import { Module, OnModuleInit } from '@nestjs/common';
import { CouponsModule } from '../coupons/coupons.module';
import { CustomersModule } from '../customers/customers.module';
import { EventsModule } from '../events/events.module';
import { FraudModule } from '../fraud/fraud.module';
import { FxModule } from '../fx/fx.module';
import { GiftCardsStoreModule } from '../gift-cards/gift-cards-store.module';
import { LedgerModule } from '../ledger/ledger.module';
import { ProductsModule } from '../products/products.module';
import { AdminPaymentsController } from './admin-payments.controller';
import { CheckoutSessionsRepository } from './checkout/checkout-sessions.repository';
import { CircuitBreakerController } from './circuit-breaker/circuit-breaker.controller';
import { CircuitBreakerRepository } from './circuit-breaker/circuit-breaker.repository';
import { CircuitBreakerService } from './circuit-breaker/circuit-breaker.service';
import { CheckoutEvents } from './checkout/checkout-events';
import { CheckoutService } from './checkout/checkout.service';
import { PaymentJobs } from './payment-jobs';
import { SettlementJob } from './settlement/settlement.job';
import { SettlementsRepository } from './settlement/settlements.repository';
import { PaymentOutcomes } from './outcomes/payment-outcomes';
import { PaymentsController } from './payments.controller';
import { PaymentsRepository } from './payments.repository';
import { PaymentsSearchRepository } from './payments-search.repository';
import { TransactionsSearchRepository } from './transactions-search.repository';
import { ChargeEvents } from './charges/charge-events';
import { ChargeSettlement } from './charges/charge-settlement';
import { ChargesService } from './charges/charges.service';
import { SavedCharges } from './charges/saved-charges';
import { PaymentHooks } from './payment-hooks';
import { SavedMethods } from './saved-methods';
import { SimulatorVault } from './providers/simulator/simulator-vault';
import { SimulatorVaultRepository } from './providers/simulator/simulator-vault.repository';
import { PaymentsService } from './payments.service';
import { PricingService } from './pricing.service';
import { ProviderEventMatcher } from './provider-event-matcher';
import { ProviderEventsHandler } from './provider-events.handler';
import { ProviderRegistry } from './providers/provider-registry';
import { MercadoPagoProvider } from './providers/mercadopago/mercadopago.provider';
import { SegpayRefundClaimsRepository } from './providers/segpay/segpay-refund-claims.repository';
import { SegpayProvider } from './providers/segpay/segpay.provider';
import { SimulatorController } from './providers/simulator/simulator.controller';
import { StripeReturnController } from './providers/stripe/stripe-return.controller';
import { StripeProvider } from './providers/stripe/stripe.provider';
import { SimulatorProvider } from './providers/simulator/simulator.provider';
import { SimulatorRepository } from './providers/simulator/simulator.repository';
import { RefundsRepository } from './refunds/refunds.repository';
import { ProviderRefundBook } from './refunds/provider-refund-book';
import { ProviderRefunds } from './refunds/provider-refunds';
import { RefundsService } from './refunds/refunds.service';
import { ProviderRouter } from './routing/provider-router';
import { TransactionsController } from './transactions.controller';
import { PublicUrl } from '../common/public-url';
import { SimulatorDisputesRepository } from './providers/simulator/simulator-disputes.repository';
import { DisputeEvents } from '../disputes/dispute-events';
import { DisputesRepository } from '../disputes/disputes.repository';

@Module({
  imports: [ProductsModule, CouponsModule, CustomersModule, FraudModule, FxModule, LedgerModule, EventsModule, GiftCardsStoreModule],
  controllers: [
    PaymentsController,
    TransactionsController,
    AdminPaymentsController,
    SimulatorController,
    CircuitBreakerController,
    StripeReturnController,
  ],
  providers: [
    PublicUrl,
    ProviderRegistry,
    ProviderRouter,
    CircuitBreakerRepository,
    CircuitBreakerService,
    SimulatorRepository,
    SimulatorVaultRepository,
    SimulatorVault,
    SimulatorDisputesRepository,
    PaymentHooks,
    SavedMethods,
    SavedCharges,
    SimulatorProvider,
    StripeProvider,
    MercadoPagoProvider,
    SegpayProvider,
    SegpayRefundClaimsRepository,
    PaymentsRepository,
    PaymentsSearchRepository,
    TransactionsSearchRepository,
    CheckoutSessionsRepository,
    RefundsRepository,
    PricingService,
    PaymentOutcomes,
    PaymentsService,
    ChargesService,
    ChargeSettlement,
    ChargeEvents,
    CheckoutService,
    CheckoutEvents,
    RefundsService,
    ProviderRefunds,
    ProviderRefundBook,
    ProviderEventsHandler,
    ProviderEventMatcher,
    PaymentJobs,
    SettlementsRepository,
    SettlementJob,
    DisputesRepository,
    DisputeEvents,
  ],
  exports: [
    PaymentHooks,
    SavedMethods,
    SavedCharges,
    PricingService,
    ProviderRouter,
    DisputesRepository,
    ProviderRegistry,
    ProviderEventsHandler,
    PaymentsService,
    CheckoutService,
    CheckoutEvents,
    PaymentJobs,
    PaymentsRepository,
    PaymentOutcomes,
    ProviderRefunds,
    ChargesService,
  ],
})
export class PaymentsModule implements OnModuleInit {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly simulator: SimulatorProvider,
    private readonly stripe: StripeProvider,
    private readonly mercadopago: MercadoPagoProvider,
    private readonly segpay: SegpayProvider,
  ) {}

  /** The simulator is always available; real providers register when their credentials are set. */
  onModuleInit(): void {
    for (const provider of [this.simulator, this.stripe, this.mercadopago, this.segpay]) {
      if (provider.configured) this.registry.register(provider);
    }
  }
}
