import { IsDateString, IsString, MaxLength, MinLength } from 'class-validator';
import { IsOptionalNotNull } from '../../common/validation';
import { IsRate } from '../fx-conversion';

/** PUT /admin/fx-rates/:pair: the rate of one unit of the pair's base currency in its quote currency. */
export class PutFxRateDto {
  /**
   * Quote units per one base unit, in major units, as a decimal string ("5.4321" for USD-BRL): above
   * zero, at most 12 digits before and 12 after the point. A string, never a JSON number: no float ever
   * holds it.
   */
  @IsRate()
  rate: string;

  /** Where the rate comes from ("ecb", "bank", "manual"…). */
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  source: string;

  /** When the source published it (ISO 8601); default now. Its age is checked against FX_MAX_AGE_HOURS at use. */
  @IsOptionalNotNull()
  @IsDateString({ strict: true })
  asOf?: string;
}
