import { Type } from 'class-transformer';
import { IsDate, IsEmail, IsIn, IsOptional } from 'class-validator';
import { ListQueryDto } from '../../common/pagination';
import { PAYMENT_STATUSES, type PaymentStatus } from '../payments.types';
import { PROVIDER_IDS } from '../providers/payment-provider';

export class ListTransactionsDto extends ListQueryDto {
  @IsOptional()
  @IsIn(PAYMENT_STATUSES)
  status?: PaymentStatus;

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
