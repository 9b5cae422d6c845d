import { Global, Module } from '@nestjs/common';
import { LedgerController } from './ledger.controller';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';

@Global()
@Module({ controllers: [LedgerController], providers: [LedgerRepository, LedgerService], exports: [LedgerService, LedgerRepository] })
export class LedgerModule {}
