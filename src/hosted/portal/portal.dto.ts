import { IsString, IsUrl, Length } from 'class-validator';

export class CreatePortalSessionDto {
  @IsString()
  @Length(1, 64)
  customerId!: string;

  /** Where the portal's "back" link leads (the merchant's site). */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  returnUrl!: string;
}

export class GiftCardBalanceDto {
  @IsString()
  @Length(1, 64)
  code!: string;
}
