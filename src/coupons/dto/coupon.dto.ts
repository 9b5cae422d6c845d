import { ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { IsCurrencyCode, MAX_AMOUNT } from '../../common/money';
import { ListQueryDto } from '../../common/pagination';
import { COUPON_DURATIONS, COUPON_TYPES, type CouponDuration, type CouponType } from '../coupons.types';
import { IsOptionalNotNull } from '../../common/validation';

export class CreateCouponDto {
  /** The slug customers type (`SUMMER20`): 3 to 64 letters, digits, '-' or '_'. Case-insensitive; stored upper case. */
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/, {
    message: "code must be 3 to 64 letters, digits, '-' or '_', starting with a letter or digit",
  })
  code: string;

  @IsIn(COUPON_TYPES)
  type: CouponType;

  /** FLAT only: minor units of `currency` (500 = USD 5.00). */
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  amountOff?: number;

  /** FLAT only: the one currency the coupon applies in. */
  @IsOptional()
  @IsCurrencyCode()
  currency?: string;

  /** PERCENTAGE only: whole percent, 1 to 100. */
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(100)
  percentOff?: number;

  /** Products the coupon discounts; empty or absent: the whole cart (gift cards never). */
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  @ArrayMaxSize(100)
  productIds?: string[];

  /** Uses across all customers (reserved by open checkouts plus redeemed); absent: unlimited. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  maxRedemptions?: number | null;

  /** Uses per customer email (reserved plus redeemed); absent: unlimited. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  perCustomerLimit?: number | null;

  /** ISO 8601; absent: valid at once. */
  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  startsAt?: string | null;

  /** ISO 8601, after startsAt; absent: never expires. */
  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string | null;

  @IsOptional()
  @IsBoolean()
  active?: boolean;

  /** Free-form string pairs kept with the coupon. */
  @IsOptionalNotNull()
  @IsObject()
  metadata?: Record<string, string>;

  /** On subscriptions: `once` (the first invoice; default), `repeating` (durationInMonths), `forever`. */
  @IsOptionalNotNull()
  @IsIn(COUPON_DURATIONS)
  duration?: CouponDuration;

  /** With duration `repeating`: the months whose invoices are discounted (1..120). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(120)
  durationInMonths?: number | null;
}

/**
 * Any subset of the fields except the code (the coupon's identity). `null` clears maxRedemptions,
 * perCustomerLimit, startsAt and expiresAt. Changing `type` drops the other type's amount fields.
 */
export class UpdateCouponDto extends PartialType(OmitType(CreateCouponDto, ['code'] as const)) {}

export class AdminListCouponsDto extends ListQueryDto {
  /** Only active (true) or only deactivated (false) coupons. */
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  active?: boolean;
}
