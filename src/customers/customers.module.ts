import { Global, Module } from '@nestjs/common';
import { CustomersRepository } from './customers.repository';

@Global()
@Module({ providers: [CustomersRepository], exports: [CustomersRepository] })
export class CustomersModule {}
