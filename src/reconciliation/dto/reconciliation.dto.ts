import { Type } from 'class-transformer';
import { IsDate, IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { ListQueryDto } from '../../common/pagination';
import { PROVIDER_IDS, type ProviderId } from '../../payments/providers/payment-provider';
import { DISCREPANCY_KINDS, DISCREPANCY_STATUSES, type DiscrepancyKind, type DiscrepancyStatus } from '../reconciliation.types';

export class RunReconciliationDto {
  /** One provider; default: every configured provider that can list its records. */
  @IsOptional()
  @IsIn(PROVIDER_IDS)
  provider?: ProviderId;

  /** Start of the window (inclusive, ISO 8601); default: the start of the previous UTC day. */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  from?: Date;

  /** End of the window (exclusive); default: the start of today (UTC). */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  to?: Date;
}

export class ListDiscrepanciesDto extends ListQueryDto {
  @IsOptional()
  @IsString()
  @MaxLength(64)
  runId?: string;

  @IsOptional()
  @IsIn(DISCREPANCY_KINDS)
  kind?: DiscrepancyKind;

  @IsOptional()
  @IsIn(DISCREPANCY_STATUSES)
  status?: DiscrepancyStatus;
}

export class ResolveDiscrepancyDto {
  /** What was done about it (refunded by hand, booked, written off…). */
  @IsString()
  @IsNotEmpty()
  @MaxLength(2000)
  note!: string;
}
