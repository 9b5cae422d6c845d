import { IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { ListQueryDto } from '../../common/pagination';
import type { DisputeStatus } from '../../payments/providers/payment-provider';
import { DISPUTE_STATUSES } from '../disputes.types';

export class ListDisputesDto extends ListQueryDto {
  @IsOptional()
  @IsIn(DISPUTE_STATUSES)
  status?: DisputeStatus;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  paymentId?: string;
}

export class DisputeEvidenceDto {
  /** The merchant's case, sent to providers that take it (Stripe: evidence.uncategorized_text). */
  @IsString()
  @IsNotEmpty()
  @MaxLength(20000)
  text!: string;
}
