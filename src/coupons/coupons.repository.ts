import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../config/env';
import type { PageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import {
  Coupon,
  CouponFields,
  CouponRedemption,
  CouponRedemptionRow,
  CouponRow,
  RedemptionReference,
  RedemptionStatus,
  toCoupon,
  toCouponRedemption,
} from './coupons.types';

/**
 * A reservation holds a use only for COUPON_RESERVATION_MINUTES after it was taken: the statements that
 * count uses (and the one that claims a use) count only the reservations younger than that, so an expired
 * one frees its use by itself, with no job. `$minutes` is the validated integer from the configuration.
 */
function liveReservation(alias: string, minutes: number): string {
  return `${alias}.status = 'reserved' AND ${alias}.reserved_at > now() - make_interval(mins => ${minutes})`;
}

/** Reservations of coupon `c` that still hold a use. */
function liveReservedCount(minutes: number): string {
  return `(SELECT count(*)::int
             FROM coupon_redemptions lr
            WHERE lr.merchant_id = c.merchant_id
              AND lr.coupon_code = c.code
              AND ${liveReservation('lr', minutes)})`;
}

// reserved_count (the column) counts every reservation not yet redeemed or released, expired or not;
// what a coupon reports and what maxRedemptions counts is the live count.
function couponColumns(minutes: number): string {
  return `
  c.merchant_id, c.code, c.type, c.amount_off, c.currency, c.percent_off, c.product_ids, c.max_redemptions,
  c.per_customer_limit, c.starts_at, c.expires_at, c.active, ${liveReservedCount(minutes)} AS reserved_count,
  c.redeemed_count, c.metadata, c.duration, c.duration_in_months, c.created_at, c.updated_at`;
}

const REDEMPTION_COLUMNS = `
  r.merchant_id, r.id, r.coupon_code, r.checkout_session_id, r.payment_id, r.customer_email, r.customer_id,
  r.status, r.discount, r.currency, r.reserved_at, r.redeemed_at, r.released_at`;

// A reservation is found by its checkout session when it has one, by its payment otherwise.
const BY_REFERENCE = `
  r.merchant_id = $1
  AND r.coupon_code = $2
  AND (($3::text IS NOT NULL AND r.checkout_session_id = $3) OR ($3::text IS NULL AND r.payment_id = $4))`;

export interface CouponListFilter {
  active?: boolean;
}

export interface NewRedemption {
  id: string;
  code: string;
  sessionId: string | null;
  paymentId: string | null;
  /** The redemption records the customer with this email. */
  customerEmail: string;
  discount: number | null;
  currency: string | null;
}

@Injectable()
export class CouponsRepository {
  private readonly minutes: number;
  private readonly columns: string;

  constructor(
    private readonly db: DatabaseService,
    config: ConfigService<Env, true>,
  ) {
    this.minutes = config.get('COUPON_RESERVATION_MINUTES', { infer: true });
    if (!Number.isSafeInteger(this.minutes) || this.minutes < 1) throw new Error('COUPON_RESERVATION_MINUTES must be a positive integer');
    this.columns = couponColumns(this.minutes);
  }

  async findByCode(merchantId: string, code: string, executor: Executor = this.db): Promise<Coupon | null> {
    const { rows } = await executor.query<CouponRow>(
      `SELECT ${this.columns}
         FROM coupons c
        WHERE c.merchant_id = $1
          AND c.code = $2`,
      [merchantId, code],
    );
    return rows[0] ? toCoupon(rows[0]) : null;
  }

  /** Locks the coupon row for the rest of the transaction (admin read-modify-write). */
  async findByCodeForUpdate(merchantId: string, code: string, executor: Executor): Promise<Coupon | null> {
    const { rows } = await executor.query<CouponRow>(
      `SELECT ${this.columns}
         FROM coupons c
        WHERE c.merchant_id = $1
          AND c.code = $2
          FOR UPDATE`,
      [merchantId, code],
    );
    return rows[0] ? toCoupon(rows[0]) : null;
  }

  /** Newest first; fetches limit + 1 rows so the caller can tell whether there is more. */
  async list(merchantId: string, filter: CouponListFilter, page: PageRequest, executor: Executor = this.db): Promise<Coupon[]> {
    const { rows } = await executor.query<CouponRow>(
      `SELECT ${this.columns}
         FROM coupons c
        WHERE c.merchant_id = $1
          AND ($2::boolean IS NULL OR c.active = $2)
          AND ($3::text IS NULL
               OR (c.created_at, c.code) < (SELECT after.created_at, after.code
                                              FROM coupons after
                                             WHERE after.merchant_id = $1
                                               AND after.code = $3))
        ORDER BY c.created_at DESC, c.code DESC
        LIMIT $4 OFFSET $5`,
      [merchantId, filter.active ?? null, page.startingAfter ?? null, page.limit + 1, page.offset],
    );
    return rows.map(toCoupon);
  }

  async count(merchantId: string, filter: CouponListFilter, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ count: number }>(
      `SELECT count(*)::int AS count
         FROM coupons c
        WHERE c.merchant_id = $1
          AND ($2::boolean IS NULL OR c.active = $2)`,
      [merchantId, filter.active ?? null],
    );
    return rows[0].count;
  }

  /** False when the merchant already has a coupon with this code. */
  async insert(merchantId: string, code: string, fields: CouponFields, executor: Executor): Promise<boolean> {
    const { rowCount } = await executor.query(
      `INSERT INTO coupons
              (merchant_id, code, type, amount_off, currency, percent_off, product_ids, max_redemptions,
               per_customer_limit, starts_at, expires_at, active, metadata, duration, duration_in_months)
       VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (merchant_id, code) DO NOTHING`,
      [
        merchantId,
        code,
        fields.type,
        fields.amountOff,
        fields.currency,
        fields.percentOff,
        fields.productIds,
        fields.maxRedemptions,
        fields.perCustomerLimit,
        fields.startsAt,
        fields.expiresAt,
        fields.active,
        fields.metadata,
        fields.duration,
        fields.durationInMonths,
      ],
    );
    return rowCount === 1;
  }

  async update(merchantId: string, code: string, fields: CouponFields, executor: Executor): Promise<void> {
    await executor.query(
      `UPDATE coupons
          SET type = $3,
              amount_off = $4,
              currency = $5,
              percent_off = $6,
              product_ids = $7::text[],
              max_redemptions = $8,
              per_customer_limit = $9,
              starts_at = $10,
              expires_at = $11,
              active = $12,
              metadata = $13,
              duration = $14,
              duration_in_months = $15,
              updated_at = now()
        WHERE merchant_id = $1
          AND code = $2`,
      [
        merchantId,
        code,
        fields.type,
        fields.amountOff,
        fields.currency,
        fields.percentOff,
        fields.productIds,
        fields.maxRedemptions,
        fields.perCustomerLimit,
        fields.startsAt,
        fields.expiresAt,
        fields.active,
        fields.metadata,
        fields.duration,
        fields.durationInMonths,
      ],
    );
  }

  async deactivate(merchantId: string, code: string, executor: Executor = this.db): Promise<boolean> {
    const { rowCount } = await executor.query(
      `UPDATE coupons
          SET active = false,
              updated_at = now()
        WHERE merchant_id = $1
          AND code = $2`,
      [merchantId, code],
    );
    return rowCount === 1;
  }

  /**
   * Takes one use of the coupon if it is usable right now and live reservations + redeemed stays below
   * max_redemptions (expired reservations do not count). Concurrent callers queue on the row lock, so
   * the maximum holds on any number of instances. The lock is held to the end of the caller's
   * transaction. Null: nothing taken (missing, not usable now, or exhausted).
   */
  async takeReservedUse(merchantId: string, code: string, executor: Executor): Promise<Coupon | null> {
    // Lock first, in its own statement: the UPDATE below then takes its snapshot after every earlier
    // reserver committed, so its count of live reservations sees them all. (Within one statement,
    // PostgreSQL re-checks a waited-for row but evaluates the subquery against the older snapshot.)
    await executor.query(
      `SELECT 1
         FROM coupons c
        WHERE c.merchant_id = $1
          AND c.code = $2
          FOR UPDATE`,
      [merchantId, code],
    );
    const { rows } = await executor.query<CouponRow>(
      `UPDATE coupons c
          SET reserved_count = c.reserved_count + 1
        WHERE c.merchant_id = $1
          AND c.code = $2
          AND c.active
          AND (c.starts_at IS NULL OR c.starts_at <= statement_timestamp())
          AND (c.expires_at IS NULL OR c.expires_at > statement_timestamp())
          AND (c.max_redemptions IS NULL OR ${liveReservedCount(this.minutes)} + c.redeemed_count < c.max_redemptions)
        RETURNING ${this.columns}`,
      [merchantId, code],
    );
    return rows[0] ? toCoupon(rows[0]) : null;
  }

  /**
   * Moves the coupon's counters: reserved by reservedDelta, redeemed by redeemedDelta. Returns the
   * coupon's max_redemptions (undefined: no such coupon).
   */
  async adjustCounters(
    merchantId: string,
    code: string,
    reservedDelta: number,
    redeemedDelta: number,
    executor: Executor,
  ): Promise<{ maxRedemptions: number | null } | undefined> {
    const { rows } = await executor.query<{ max_redemptions: number | null }>(
      `UPDATE coupons
          SET reserved_count = reserved_count + $3,
              redeemed_count = redeemed_count + $4
        WHERE merchant_id = $1
          AND code = $2
        RETURNING max_redemptions`,
      [merchantId, code, reservedDelta, redeemedDelta],
    );
    return rows[0] ? { maxRedemptions: rows[0].max_redemptions } : undefined;
  }

  async findRedemption(
    merchantId: string,
    code: string,
    ref: RedemptionReference,
    executor: Executor = this.db,
  ): Promise<CouponRedemption | null> {
    const { rows } = await executor.query<CouponRedemptionRow>(
      `SELECT ${REDEMPTION_COLUMNS}
         FROM coupon_redemptions r
        WHERE ${BY_REFERENCE}`,
      [merchantId, code, ref.sessionId ?? null, ref.paymentId ?? null],
    );
    return rows[0] ? toCouponRedemption(rows[0]) : null;
  }

  /** Locks the reservation for the rest of the transaction (status transitions). */
  async findRedemptionForUpdate(
    merchantId: string,
    code: string,
    ref: RedemptionReference,
    executor: Executor,
  ): Promise<CouponRedemption | null> {
    const { rows } = await executor.query<CouponRedemptionRow>(
      `SELECT ${REDEMPTION_COLUMNS}
         FROM coupon_redemptions r
        WHERE ${BY_REFERENCE}
          FOR UPDATE`,
      [merchantId, code, ref.sessionId ?? null, ref.paymentId ?? null],
    );
    return rows[0] ? toCouponRedemption(rows[0]) : null;
  }

  /** Null when the session or payment already holds a reservation of this coupon. */
  async insertRedemption(merchantId: string, redemption: NewRedemption, executor: Executor): Promise<CouponRedemption | null> {
    const { rows } = await executor.query<CouponRedemptionRow>(
      `INSERT INTO coupon_redemptions AS r
              (merchant_id, id, coupon_code, checkout_session_id, payment_id, customer_email, customer_id, status,
               discount, currency)
       VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM customers WHERE merchant_id = $1 AND email = $6), 'reserved', $7, $8)
       ON CONFLICT DO NOTHING
       RETURNING ${REDEMPTION_COLUMNS}`,
      [
        merchantId,
        redemption.id,
        redemption.code,
        redemption.sessionId,
        redemption.paymentId,
        redemption.customerEmail,
        redemption.discount,
        redemption.currency,
      ],
    );
    return rows[0] ? toCouponRedemption(rows[0]) : null;
  }

  async deleteRedemption(merchantId: string, id: string, executor: Executor): Promise<void> {
    await executor.query(
      `DELETE FROM coupon_redemptions
        WHERE merchant_id = $1
          AND id = $2`,
      [merchantId, id],
    );
  }

  /** Sets the status (and its timestamp); a payment id, when given, is recorded if none was. */
  async setRedemptionStatus(
    merchantId: string,
    id: string,
    status: Exclude<RedemptionStatus, 'reserved'>,
    paymentId: string | null,
    executor: Executor,
  ): Promise<CouponRedemption> {
    const { rows } = await executor.query<CouponRedemptionRow>(
      `UPDATE coupon_redemptions AS r
          SET status = $3,
              redeemed_at = CASE WHEN $3 = 'redeemed' THEN now() ELSE r.redeemed_at END,
              released_at = CASE WHEN $3 = 'released' THEN now() ELSE r.released_at END,
              payment_id = coalesce(r.payment_id, $4),
              updated_at = now()
        WHERE r.merchant_id = $1
          AND r.id = $2
        RETURNING ${REDEMPTION_COLUMNS}`,
      [merchantId, id, status, paymentId],
    );
    return toCouponRedemption(rows[0]);
  }

  /** A customer's live (reserved and not expired, or redeemed) uses of a coupon: what perCustomerLimit counts. */
  async countLiveForCustomer(merchantId: string, code: string, customerEmail: string, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ count: number }>(
      `SELECT count(*)::int AS count
         FROM coupon_redemptions r
        WHERE r.merchant_id = $1
          AND r.coupon_code = $2
          AND r.customer_email = $3
          AND (r.status = 'redeemed' OR (${liveReservation('r', this.minutes)}))`,
      [merchantId, code, customerEmail],
    );
    return rows[0].count;
  }
}
