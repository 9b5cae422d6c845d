import { Module } from '@nestjs/common';

// SKELETON: being implemented (issue 5: general rate limiting shared by every instance).
@Module({})
export class RateLimitModule {}
