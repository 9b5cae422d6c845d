import { Module } from '@nestjs/common';
import { FraudRepository } from './fraud.repository';
import { FraudService } from './fraud.service';

@Module({ providers: [FraudRepository, FraudService], exports: [FraudService] })
export class FraudModule {}
