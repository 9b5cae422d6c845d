import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsInt, IsString, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { IsCurrencyCode } from '../../common/money';

export class ValidateCouponItemDto {
  /** A catalog product: its price comes from the catalog. */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  productId: string;

  @IsInt()
  @Min(1)
  @Max(1000)
  quantity: number;
}

export class ValidateCouponDto {
  /** The code as the customer typed it (case-insensitive). */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  code: string;

  @ValidateNested({ each: true })
  @Type(() => ValidateCouponItemDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  items: ValidateCouponItemDto[];

  @IsCurrencyCode()
  currency: string;
}
