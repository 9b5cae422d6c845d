import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { PROVIDER_IDS } from '../../../payments/providers/payment-provider';

export class ApplyDiscountsDto {
  /** A coupon code for the whole cart (checked by the coupon rules; guessing is rate limited). */
  @IsOptional()
  @IsString()
  @Length(1, 64)
  couponCode?: string;

  /** A gift card that pays first; the provider charges the rest (nothing, when it covers it all). */
  @IsOptional()
  @IsString()
  @Length(1, 64)
  giftCardCode?: string;
}

export class ContinueToProviderDto {
  /** One of the providers that serve the session's currency (the page lists them). */
  @IsIn(PROVIDER_IDS)
  provider!: string;
}
