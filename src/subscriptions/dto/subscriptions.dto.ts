import { IsBoolean, IsEmail, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { ListQueryDto } from '../../common/pagination';
import { IsOptionalNotNull } from '../../common/validation';
import { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from '../subscriptions.types';

export class ListSubscriptionsDto extends ListQueryDto {
  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  customerEmail?: string;

  @IsOptional()
  @IsIn(SUBSCRIPTION_STATUSES)
  status?: SubscriptionStatus;
}

export class CancelSubscriptionDto {
  /** True (default): at the end of the current period; false: now. */
  @IsOptionalNotNull()
  @IsBoolean()
  atPeriodEnd?: boolean;
}

export class ChangeSubscriptionDto {
  @IsString()
  @MaxLength(64)
  productId: string;
}

export class SubscriptionPaymentMethodDto {
  @IsString()
  @Matches(/^pm_[A-Za-z0-9]{1,40}$/)
  paymentMethodId: string;
}

export class AdvanceTestClockDto {
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(3660)
  days?: number;

  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(316_224_000)
  seconds?: number;
}
