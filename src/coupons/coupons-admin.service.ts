import { Injectable } from '@nestjs/common';
import { CacheBus } from '../common/cache/cache-bus';
import { DomainError, NotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import { Page, PageRequest, paginate } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { ProductsService } from '../products/products.service';
import { toDate } from './coupon-rules';
import { CouponListFilter, CouponsRepository } from './coupons.repository';
import { Coupon, CouponFields, normalizeCouponCode } from './coupons.types';
import type { CreateCouponDto, UpdateCouponDto } from './dto/coupon.dto';

/**
 * The admin side of coupons (/admin/coupons): list, read, create, update, deactivate. Every write
 * publishes 'coupons' on the cache bus, which drops CouponsService's cached definitions on every instance.
 */
@Injectable()
export class CouponsAdminService {
  constructor(
    private readonly coupons: CouponsRepository,
    private readonly products: ProductsService,
    private readonly db: DatabaseService,
    private readonly bus: CacheBus,
  ) {}

  /** Admin listing: a report query, on the report pool. */
  async list(merchantId: string, filter: CouponListFilter, page: PageRequest): Promise<Page<Coupon>> {
    const after = page.startingAfter === undefined ? undefined : (normalizeCouponCode(page.startingAfter) ?? page.startingAfter);
    const request = { ...page, startingAfter: after };
    return paginate(
      request,
      () => this.coupons.list(merchantId, filter, request, this.db.reports),
      () => this.coupons.count(merchantId, filter, this.db.reports),
    );
  }

  async getByCode(merchantId: string, rawCode: string): Promise<Coupon> {
    const code = normalizeCouponCode(rawCode);
    const coupon = code ? await this.coupons.findByCode(merchantId, code) : null;
    if (!coupon) throw new NotFoundError('coupon', rawCode);
    return coupon;
  }

  async create(merchantId: string, dto: CreateCouponDto): Promise<Coupon> {
    const code = dto.code.toUpperCase();
    const fields = await this.checkFields(merchantId, {
      type: dto.type,
      amountOff: dto.amountOff ?? null,
      currency: dto.currency ?? null,
      percentOff: dto.percentOff ?? null,
      productIds: dto.productIds ?? [],
      maxRedemptions: dto.maxRedemptions ?? null,
      perCustomerLimit: dto.perCustomerLimit ?? null,
      startsAt: toDate(dto.startsAt),
      expiresAt: toDate(dto.expiresAt),
      active: dto.active ?? true,
      metadata: dto.metadata ?? {},
      duration: dto.duration ?? 'once',
      durationInMonths: dto.durationInMonths ?? null,
    });
    return this.db.transaction(async (tx) => {
      if (!(await this.coupons.insert(merchantId, code, fields, tx))) {
        throw new DomainError('conflict', 'resource_already_exists', `A coupon with code '${code}' already exists.`, { param: 'code' });
      }
      await this.bus.publish('coupons', tx);
      return (await this.coupons.findByCode(merchantId, code, tx)) as Coupon;
    });
  }

  async update(merchantId: string, rawCode: string, dto: UpdateCouponDto): Promise<Coupon> {
    const code = normalizeCouponCode(rawCode);
    if (!code) throw new NotFoundError('coupon', rawCode);
    return this.db.transaction(async (tx) => {
      const current = await this.coupons.findByCodeForUpdate(merchantId, code, tx);
      if (!current) throw new NotFoundError('coupon', rawCode);
      const type = dto.type ?? current.type;
      // A change of type drops the amount fields of the old type unless the request sets them.
      const sameType = type === current.type;
      const fields = await this.checkFields(
        merchantId,
        {
          type,
          amountOff: dto.amountOff !== undefined ? dto.amountOff : sameType ? current.amountOff : null,
          currency: dto.currency !== undefined ? dto.currency : sameType ? current.currency : null,
          percentOff: dto.percentOff !== undefined ? dto.percentOff : sameType ? current.percentOff : null,
          productIds: dto.productIds !== undefined ? (dto.productIds ?? []) : current.productIds,
          maxRedemptions: dto.maxRedemptions !== undefined ? dto.maxRedemptions : current.maxRedemptions,
          perCustomerLimit: dto.perCustomerLimit !== undefined ? dto.perCustomerLimit : current.perCustomerLimit,
          startsAt: dto.startsAt !== undefined ? toDate(dto.startsAt) : current.startsAt,
          expiresAt: dto.expiresAt !== undefined ? toDate(dto.expiresAt) : current.expiresAt,
          active: dto.active ?? current.active,
          metadata: dto.metadata ?? current.metadata,
          duration: dto.duration ?? current.duration,
          durationInMonths:
            dto.durationInMonths !== undefined
              ? dto.durationInMonths
              : (dto.duration ?? current.duration) === 'repeating'
                ? current.durationInMonths
                : null,
        },
        tx,
      );
      const used = current.timesReserved + current.timesRedeemed;
      if (fields.maxRedemptions !== null && fields.maxRedemptions < used) {
        throw new ValidationFailedError(
          `maxRedemptions cannot be below the ${used} uses already reserved or redeemed (deactivate the coupon to stop it).`,
          'maxRedemptions',
        );
      }
      await this.coupons.update(merchantId, code, fields, tx);
      await this.bus.publish('coupons', tx);
      return (await this.coupons.findByCode(merchantId, code, tx)) as Coupon;
    });
  }

  /** DELETE deactivates: the code stays taken and its redemptions keep their history; PATCH active=true revives it. */
  async deactivate(merchantId: string, rawCode: string): Promise<Coupon> {
    const code = normalizeCouponCode(rawCode);
    if (!code) throw new NotFoundError('coupon', rawCode);
    return this.db.transaction(async (tx) => {
      if (!(await this.coupons.deactivate(merchantId, code, tx))) throw new NotFoundError('coupon', rawCode);
      await this.bus.publish('coupons', tx);
      return (await this.coupons.findByCode(merchantId, code, tx)) as Coupon;
    });
  }

  /** Rules that span fields, which the DTO cannot express. */
  private async checkFields(merchantId: string, fields: CouponFields, executor: Executor = this.db): Promise<CouponFields> {
    if (fields.type === 'FLAT') {
      if (fields.amountOff === null)
        throw new ValidationFailedError('amountOff is required for FLAT coupons', 'amountOff', 'parameter_missing');
      if (fields.currency === null)
        throw new ValidationFailedError('currency is required for FLAT coupons', 'currency', 'parameter_missing');
      if (fields.percentOff !== null) throw new ValidationFailedError('percentOff is only for PERCENTAGE coupons', 'percentOff');
    } else {
      if (fields.percentOff === null) {
        throw new ValidationFailedError('percentOff is required for PERCENTAGE coupons', 'percentOff', 'parameter_missing');
      }
      if (fields.amountOff !== null) throw new ValidationFailedError('amountOff is only for FLAT coupons', 'amountOff');
      if (fields.currency !== null) throw new ValidationFailedError('currency is only for FLAT coupons', 'currency');
    }
    if ((fields.duration === 'repeating') !== (fields.durationInMonths !== null)) {
      throw new ValidationFailedError('durationInMonths is required with duration repeating, and only with it', 'durationInMonths');
    }
    if (fields.startsAt && fields.expiresAt && fields.expiresAt <= fields.startsAt) {
      throw new ValidationFailedError('expiresAt must be after startsAt', 'expiresAt');
    }
    const productIds = [...new Set(fields.productIds)];
    if (productIds.length > 0) {
      const known = new Set((await this.products.findManyFresh(merchantId, productIds, executor)).map((p) => p.id));
      const missing = fields.productIds.findIndex((id) => !known.has(id));
      if (missing >= 0) throw new ValidationFailedError(`No such product: '${fields.productIds[missing]}'`, `productIds[${missing}]`);
    }
    return { ...fields, productIds };
  }
}
