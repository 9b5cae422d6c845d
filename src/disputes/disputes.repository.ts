import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { PageRequest } from '../common/pagination';
import type { DisputeStatus, ProviderDispute, ProviderId } from '../payments/providers/payment-provider';
import type { Dispute } from './disputes.types';

const COLUMNS = `id, merchant_id AS "merchantId", payment_id AS "paymentId", provider, provider_ref AS "providerRef",
                 charge_ref AS "chargeRef", amount, currency, reason, status, provider_status AS "providerStatus",
                 evidence_due_by AS "evidenceDueBy", evidence_submitted_at AS "evidenceSubmittedAt",
                 created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface DisputeFilter {
  status?: DisputeStatus;
  paymentId?: string;
}

@Injectable()
export class DisputesRepository {
  constructor(private readonly db: DatabaseService) {}

  /** The dispute a provider reports, whoever's it is (the provider's dispute ids are unique there). */
  async findByProviderRef(provider: ProviderId, providerRef: string, executor: Executor = this.db): Promise<Dispute | null> {
    const { rows } = await executor.query<Dispute>(`SELECT ${COLUMNS} FROM disputes WHERE provider = $1 AND provider_ref = $2`, [
      provider,
      providerRef,
    ]);
    return rows[0] ?? null;
  }

  async findById(merchantId: string, id: string, executor: Executor = this.db): Promise<Dispute | null> {
    const { rows } = await executor.query<Dispute>(`SELECT ${COLUMNS} FROM disputes WHERE merchant_id = $1 AND id = $2`, [merchantId, id]);
    return rows[0] ?? null;
  }

  async findByIds(merchantId: string, ids: string[], executor: Executor = this.db): Promise<Dispute[]> {
    if (ids.length === 0) return [];
    const { rows } = await executor.query<Dispute>(`SELECT ${COLUMNS} FROM disputes WHERE merchant_id = $1 AND id = ANY($2)`, [
      merchantId,
      ids,
    ]);
    return rows;
  }

  async insert(
    dispute: { id: string; merchantId: string; paymentId: string; provider: ProviderId },
    shown: ProviderDispute,
    executor: Executor,
  ): Promise<Dispute> {
    const { rows } = await executor.query<Dispute>(
      `INSERT INTO disputes (merchant_id, id, payment_id, provider, provider_ref, charge_ref, amount, currency, reason, status,
                             provider_status, evidence_due_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       RETURNING ${COLUMNS}`,
      [
        dispute.merchantId,
        dispute.id,
        dispute.paymentId,
        dispute.provider,
        shown.providerDisputeId,
        shown.chargeRef,
        shown.amount,
        shown.currency.toUpperCase(),
        shown.reason,
        shown.status,
        shown.providerStatus,
        shown.evidenceDueBy,
      ],
    );
    return rows[0];
  }

  /** The provider's current view of a dispute; a closed one (won, lost) keeps its outcome. */
  async update(merchantId: string, id: string, shown: ProviderDispute, executor: Executor): Promise<Dispute> {
    const { rows } = await executor.query<Dispute>(
      `UPDATE disputes
          SET status = CASE WHEN status IN ('won', 'lost') THEN status ELSE $3 END,
              provider_status = $4,
              reason = coalesce($5, reason),
              evidence_due_by = coalesce($6, evidence_due_by),
              updated_at = now()
        WHERE merchant_id = $1 AND id = $2
        RETURNING ${COLUMNS}`,
      [merchantId, id, shown.status, shown.providerStatus, shown.reason, shown.evidenceDueBy],
    );
    return rows[0];
  }

  async recordEvidence(merchantId: string, id: string, text: string, executor: Executor = this.db): Promise<Dispute | null> {
    const { rows } = await executor.query<Dispute>(
      `UPDATE disputes SET evidence_text = $3, evidence_submitted_at = now(), updated_at = now()
        WHERE merchant_id = $1 AND id = $2
        RETURNING ${COLUMNS}`,
      [merchantId, id, text],
    );
    return rows[0] ?? null;
  }

  async list(merchantId: string, filter: DisputeFilter, page: PageRequest, executor: Executor = this.db): Promise<Dispute[]> {
    const { rows } = await executor.query<Dispute>(
      `SELECT ${COLUMNS}
         FROM disputes d
        WHERE d.merchant_id = $1
          AND ($2::text IS NULL OR d.status = $2)
          AND ($3::text IS NULL OR d.payment_id = $3)
          AND ($6::text IS NULL OR (d.created_at, d.id) < (SELECT c.created_at, c.id FROM disputes c WHERE c.merchant_id = $1 AND c.id = $6))
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT $4 OFFSET $5`,
      [merchantId, filter.status ?? null, filter.paymentId ?? null, page.limit + 1, page.offset, page.startingAfter ?? null],
    );
    return rows;
  }

  async count(merchantId: string, filter: DisputeFilter, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM disputes
        WHERE merchant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR payment_id = $3)`,
      [merchantId, filter.status ?? null, filter.paymentId ?? null],
    );
    return rows[0].n;
  }
}
