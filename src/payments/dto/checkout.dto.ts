import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { IsCurrencyCode, MAX_AMOUNT } from '../../common/money';
import { PROVIDER_IDS, type ProviderId } from '../providers/payment-provider';
import { IsOptionalNotNull } from '../../common/validation';

export class CheckoutItemDto {
  /** A catalog product: its price comes from the catalog. */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  productId?: string;

  /** Ad hoc line (secret keys only): name and unit amount instead of productId. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name?: string;

  /** Ad hoc line: unit amount in minor units. */
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(MAX_AMOUNT)
  amount?: number;

  @IsInt()
  @Min(1)
  @Max(1000)
  quantity: number;

  @IsOptional()
  @IsUrl({ require_tld: false })
  @MaxLength(2000)
  image?: string;
}

export class CustomerDto {
  @IsEmail()
  @MaxLength(254)
  email: string;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  /** ISO 3166-1 alpha-2, upper case. */
  @IsOptional()
  @Matches(/^[A-Z]{2}$/, { message: 'country must be an upper-case ISO 3166-1 alpha-2 code' })
  country?: string;
}

/** What every purchase carries: the cart, the customer, the discounts and where to route it. */
export class CartDto {
  @ValidateNested({ each: true })
  @Type(() => CheckoutItemDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  items: CheckoutItemDto[];

  @IsCurrencyCode()
  currency: string;

  @ValidateNested()
  @Type(() => CustomerDto)
  customer: CustomerDto;

  /** A coupon code (case-insensitive): its discount is reserved with the session. */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  couponCode?: string;

  /** A gift card pays first (its part is held at once); the provider is charged the rest. */
  @IsOptional()
  @IsString()
  @MaxLength(20)
  giftCardCode?: string;

  /** Force a provider instead of the currency's routing. */
  @IsOptional()
  @IsIn(PROVIDER_IDS)
  provider?: string;

  /** Up to 50 string pairs kept with the session and payment. */
  @IsOptionalNotNull()
  @IsObject()
  metadata?: Record<string, string>;
}

export class CreateCheckoutDto extends CartDto {
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  successUrl: string;

  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  cancelUrl: string;

  /**
   * The hosted page saves the method for later charges (a cart with subscriptions saves it by itself);
   * only at providers whose page can (the simulator), else 422.
   */
  @IsOptionalNotNull()
  @IsBoolean()
  savePaymentMethod?: boolean;
}

export class PaymentMethodDto {
  @IsIn(PROVIDER_IDS)
  provider: string;

  /**
   * The provider's payment-method token, never card numbers: simulator `tok_visa`, …; Stripe `pm_…`;
   * Mercado Pago `<payment_method_id>:<card token>` (e.g. `master:9f1c…`).
   */
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  token: string;
}

export class ProcessPaymentDto extends CartDto {
  /** One token … */
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => PaymentMethodDto)
  paymentMethod?: PaymentMethodDto;

  /** … or one per provider, which lets a failover reach the next provider. */
  @IsOptionalNotNull()
  @ValidateNested({ each: true })
  @Type(() => PaymentMethodDto)
  @ArrayMaxSize(4)
  paymentMethods?: PaymentMethodDto[];

  /** The customer's saved method (`pm_…`, POST /customers/:id/payment-methods) instead of a token. */
  @IsOptionalNotNull()
  @IsString()
  @Matches(/^pm_[A-Za-z0-9]{1,40}$/)
  paymentMethodId?: string;

  /** Saves the method at its provider for later charges (a cart with subscriptions saves it by itself). */
  @IsOptionalNotNull()
  @IsBoolean()
  savePaymentMethod?: boolean;

  /** Where the customer returns after a 3-D Secure challenge. */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  returnUrl?: string;
}

export class VerifyPriceItemDto {
  @IsString()
  @MaxLength(64)
  productId: string;

  /** The unit price the client shows, in minor units. */
  @IsInt()
  @Min(0)
  @Max(MAX_AMOUNT)
  price: number;

  @IsInt()
  @Min(1)
  @Max(1000)
  quantity: number;

  @IsCurrencyCode()
  currency: string;
}

export class VerifyPricesDto {
  @ValidateNested({ each: true })
  @Type(() => VerifyPriceItemDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  products: VerifyPriceItemDto[];
}

/** A charge of the payment that it does not account for (booked to suspense), named as its provider knows it. */
export class UnmatchedChargeDto {
  @IsIn(PROVIDER_IDS)
  provider!: ProviderId;

  @IsString()
  @MinLength(1)
  @MaxLength(255)
  providerRef!: string;
}

export class RefundDto {
  /** Minor units; the whole remaining amount when absent. */
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  amount?: number;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}
