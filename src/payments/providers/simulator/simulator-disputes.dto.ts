import { IsIn, IsInt, IsOptional, IsString, MaxLength, Min } from 'class-validator';

export class OpenSimulatorDisputeDto {
  @IsOptional()
  @IsString()
  @MaxLength(64)
  reason?: string;

  /** Part of the charge (minor units); the whole charge when left out. */
  @IsOptional()
  @IsInt()
  @Min(1)
  amount?: number;
}

export class CloseSimulatorDisputeDto {
  @IsIn(['won', 'lost'])
  outcome!: 'won' | 'lost';
}
