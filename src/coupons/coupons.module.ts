import { Module } from '@nestjs/common';

// SKELETON: being implemented (issue 5: coupons).
@Module({})
export class CouponsModule {}
