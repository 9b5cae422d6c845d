import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { EVENT_TYPES, type EventType } from '../../events.types';

export class CreateWebhookEndpointDto {
  /** Where events are POSTed: http or https, on a public address. */
  @IsString()
  @MaxLength(2048)
  url: string;

  /** The event types it receives; absent: every type, including types added later. */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVENT_TYPES.length)
  @IsIn(EVENT_TYPES, { each: true })
  events?: EventType[];

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class UpdateWebhookEndpointDto {
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVENT_TYPES.length)
  @IsIn(EVENT_TYPES, { each: true })
  events?: EventType[];

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  /** `disabled` stops deliveries (open ones are closed); `enabled` resumes with new events. */
  @IsOptional()
  @IsIn(['enabled', 'disabled'])
  status?: 'enabled' | 'disabled';
}

export class ResendEventDto {
  @IsString()
  @MaxLength(64)
  eventId: string;
}
