import { IsEmail, IsIn, IsString, MaxLength, MinLength } from 'class-validator';
import { PROVIDER_IDS } from '../../payments/providers/payment-provider';

export class FindCustomersDto {
  @IsEmail()
  @MaxLength(254)
  email: string;
}

export class SavePaymentMethodDto {
  @IsIn(PROVIDER_IDS)
  provider: string;

  /** The provider's one-time token (simulator `tok_visa`, Stripe `pm_…`, Mercado Pago `<method>:<card token>`). */
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  token: string;
}
