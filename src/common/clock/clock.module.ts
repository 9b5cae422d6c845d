import { Global, Module } from '@nestjs/common';
import { BillingClock } from './billing-clock';
import { BillingClockRepository } from './billing-clock.repository';

/** The billing clock, for every domain that reads billing time. */
@Global()
@Module({ providers: [BillingClockRepository, BillingClock], exports: [BillingClock] })
export class ClockModule {}
