import { Module } from '@nestjs/common';
import { CustomersRepository } from './customers.repository';
import { PaymentMethodsRepository } from './payment-methods.repository';

/** The customers store, below payments: customers and their saved methods' records. */
@Module({ providers: [CustomersRepository, PaymentMethodsRepository], exports: [CustomersRepository, PaymentMethodsRepository] })
export class CustomersModule {}
