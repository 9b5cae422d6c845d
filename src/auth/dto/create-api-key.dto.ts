import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { KEY_KINDS, type KeyKind } from '../auth.types';

export class CreateApiKeyDto {
  /** publishable (pk_), secret (sk_) or admin (ak_) */
  @IsIn(KEY_KINDS)
  kind: KeyKind;

  /** A note to recognise the key by. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  label?: string;
}
