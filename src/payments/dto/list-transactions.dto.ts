import { Type } from 'class-transformer';
import { IsDate, IsEmail, IsIn, IsOptional } from 'class-validator';
import { ListQueryDto } from '../../common/pagination';
import { DISPUTE_STATUSES } from '../../disputes/disputes.types';
import { PAYMENT_STATUSES, type PaymentStatus } from '../payments.types';
import { PROVIDER_IDS, type DisputeStatus } from '../providers/payment-provider';
import { TRANSACTION_KINDS, type TransactionKind } from '../transactions-search.repository';

export class ListTransactionsDto extends ListQueryDto {
  /** `payment` or `dispute`; both when absent. */
  @IsOptional()
  @IsIn(TRANSACTION_KINDS)
  kind?: TransactionKind;

  /** A payment status (payments only) or a dispute status (disputes only). */
  @IsOptional()
  @IsIn([...PAYMENT_STATUSES, ...DISPUTE_STATUSES])
  status?: PaymentStatus | DisputeStatus;

  @IsOptional()
  @IsIn(PROVIDER_IDS)
  provider?: string;

  @IsOptional()
  @IsEmail()
  customerEmail?: string;

  /** Created at or after (ISO 8601). */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  from?: Date;

  /** Created before (ISO 8601). */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  to?: Date;
}
