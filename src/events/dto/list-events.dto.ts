import { Type } from 'class-transformer';
import { IsDate, IsIn, IsOptional } from 'class-validator';
import { ListQueryDto } from '../../common/pagination';
import { EVENT_TYPES, type EventType } from '../events.types';

export class ListEventsDto extends ListQueryDto {
  @IsOptional()
  @IsIn(EVENT_TYPES)
  type?: EventType;

  /** Created at or after (ISO 8601). */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  from?: Date;

  /** Created before (ISO 8601). */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  to?: Date;
}
