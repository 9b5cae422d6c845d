import { IsIn, IsOptional } from 'class-validator';
import { ListQueryDto } from '../../common/pagination';

export const DEAD_LETTER_DIRECTIONS = ['inbound', 'outbound'] as const;
export type DeadLetterDirection = (typeof DEAD_LETTER_DIRECTIONS)[number];

export class DeadLettersQueryDto extends ListQueryDto {
  /** `inbound` (default): provider webhook events; `outbound`: deliveries of our events that died. */
  @IsOptional()
  @IsIn(DEAD_LETTER_DIRECTIONS)
  direction?: DeadLetterDirection;
}
