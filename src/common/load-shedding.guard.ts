import { applyDecorators, CanActivate, Injectable, UseGuards } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';

/** Refuses non-critical work with 503 while the main pool runs above its shed threshold (80%). */
@Injectable()
export class LoadSheddingGuard implements CanActivate {
  constructor(private readonly db: DatabaseService) {}

  canActivate(): boolean {
    this.db.assertCapacityForNonCriticalWork();
    return true;
  }
}

/** Marks a route (reports, admin lists) as the first to be shed under database pressure. */
export const NonCritical = () => applyDecorators(UseGuards(LoadSheddingGuard));
