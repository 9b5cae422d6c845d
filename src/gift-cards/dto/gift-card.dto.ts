import { Type } from 'class-transformer';
import { IsEmail, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { IsCurrencyCode, MAX_AMOUNT } from '../../common/money';
import { CustomerDto } from '../../payments/dto/checkout.dto';
import { PROVIDER_IDS } from '../../payments/providers/payment-provider';
import { IsOptionalNotNull } from '../../common/validation';

export class PurchaseGiftCardDto {
  /** A GIFT_CARD product of the catalog … */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  productId?: string;

  /** … or a free amount (minor units) with its currency. */
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  amount?: number;

  /** Required with `amount`; with `productId`, picks the product's price (optional when it has one). */
  @IsOptional()
  @IsCurrencyCode()
  currency?: string;

  @IsEmail()
  @MaxLength(254)
  recipientEmail: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  giftMessage?: string;

  @ValidateNested()
  @Type(() => CustomerDto)
  customer: CustomerDto;

  @IsOptional()
  @IsIn(PROVIDER_IDS)
  provider?: string;

  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  successUrl: string;

  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  cancelUrl: string;
}

export class RedeemGiftCardDto {
  /** XXXX-XXXX-XXXX (case and dashes are forgiven). */
  @IsString()
  @MaxLength(20)
  code: string;

  /** The user of the merchant's platform who now owns the card. */
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  userId: string;
}

export class UseGiftCardDto {
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  amount: number;

  @IsCurrencyCode()
  currency: string;

  /** The merchant's reference for this spend (an order id). */
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  reference: string;
}
