import { PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { IsCurrencyCode, MAX_AMOUNT } from '../../common/money';
import {
  BILLING_INTERVALS,
  BILLING_TYPES,
  PRODUCT_TYPES,
  type BillingInterval,
  type BillingType,
  type ProductType,
} from '../products.types';
import { IsOptionalNotNull } from '../../common/validation';

export class PriceDto {
  /** ISO 4217, upper case. */
  @IsCurrencyCode()
  currency: string;

  /** Integer minor units (2999 = USD 29.99). */
  @IsInt()
  @Min(0)
  @Max(MAX_AMOUNT)
  amount: number;

  /** The Stripe Price this price maps to, for subscriptions through Stripe. */
  @IsOptional()
  @IsString()
  @MaxLength(255)
  stripePriceId?: string;
}

export class CreateProductDto {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(5000)
  description?: string;

  /** One price per currency. */
  @ValidateNested({ each: true })
  @Type(() => PriceDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  prices: PriceDto[];

  @IsOptional()
  @IsIn(BILLING_TYPES)
  billingType?: BillingType;

  /** Required for SUBSCRIPTION products, absent otherwise. */
  @IsOptional()
  @IsIn(BILLING_INTERVALS)
  interval?: BillingInterval;

  @IsOptional()
  @IsIn(PRODUCT_TYPES)
  type?: ProductType;

  @IsOptional()
  @IsBoolean()
  active?: boolean;

  @IsOptional()
  @IsString()
  @MaxLength(255)
  stripeProductId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  segpayPackageId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  segpayPricePointId?: string;

  /**
   * Allow selling it in a currency it has no price in, converted from one of its prices through the
   * merchant's stored rate (PUT /admin/fx-rates/:pair). Default false.
   */
  @IsOptional()
  @IsBoolean()
  allowConversion?: boolean;

  /** Free-form string pairs kept with the product. */
  @IsOptionalNotNull()
  @IsObject()
  metadata?: Record<string, string>;
}

export class UpdateProductDto extends PartialType(CreateProductDto) {}
