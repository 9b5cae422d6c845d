import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DomainError, NotFoundError, ValidationFailedError } from '../../common/errors/domain-errors';
import { newId } from '../../common/ids';
import { paginate, type Page, type PageRequest } from '../../common/pagination';
import type { Env } from '../../config/env';
import { DatabaseService } from '../../database/database.service';
import { EVENT_TYPES } from '../events.types';
import { OutboxRepository } from '../outbox.repository';
import { DeliveriesRepository } from '../relay/deliveries.repository';
import { ENDPOINT_SINK, type Delivery } from '../relay/deliveries.types';
import { isPrivateAddress, resolveAll } from './target-address';
import { newEndpointSecret } from './webhook-signature';
import {
  type DisableReason,
  toWebhookEndpoint,
  type WebhookEndpoint,
  type WebhookEndpointChanges,
  type WebhookEndpointRow,
} from './webhook-endpoints.types';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository';

export interface EndpointInput {
  url: string;
  events?: string[];
  description?: string | null;
}

/** Merchants' webhook endpoints: registration, changes, health (disable after 410 or days of failure), resend. */
@Injectable()
export class WebhookEndpointsService {
  private readonly allowPrivateTargets: boolean;
  private readonly disableAfterDays: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly deliveries: DeliveriesRepository,
    private readonly outbox: OutboxRepository,
    config: ConfigService<Env, true>,
  ) {
    this.allowPrivateTargets = config.get('WEBHOOK_ALLOW_PRIVATE_TARGETS', { infer: true });
    this.disableAfterDays = config.get('WEBHOOK_ENDPOINT_DISABLE_AFTER_DAYS', { infer: true });
  }

  /** The new endpoint with its secret: the only answer that ever shows it. */
  async create(merchantId: string, input: EndpointInput): Promise<WebhookEndpoint & { secret: string }> {
    await this.assertDeliverableUrl(input.url);
    const secret = newEndpointSecret();
    const row = await this.endpoints.insert(merchantId, {
      id: newId('we'),
      url: input.url,
      description: input.description ?? null,
      eventTypes: input.events ? [...new Set(input.events)] : null,
      secret,
    });
    return { ...this.toApi(row), secret };
  }

  async get(merchantId: string, id: string): Promise<WebhookEndpoint> {
    return this.toApi(await this.getRow(merchantId, id));
  }

  list(merchantId: string, page: PageRequest): Promise<Page<WebhookEndpoint>> {
    return paginate(
      page,
      async () => (await this.endpoints.list(merchantId, page)).map((row) => this.toApi(row)),
      () => this.endpoints.count(merchantId),
    );
  }

  /** Disabling by hand closes its open deliveries as automatic disabling does; enabling clears its failure record. */
  async update(
    merchantId: string,
    id: string,
    input: Partial<EndpointInput> & { status?: 'enabled' | 'disabled' },
  ): Promise<WebhookEndpoint> {
    if (input.url !== undefined) await this.assertDeliverableUrl(input.url);
    const changes: WebhookEndpointChanges = {
      url: input.url,
      description: input.description,
      eventTypes: input.events === undefined ? undefined : [...new Set(input.events)],
      status: input.status,
    };
    const row = await this.db.transaction(async (tx) => {
      const updated = await this.endpoints.update(merchantId, id, changes, tx);
      if (updated && input.status === 'disabled') await this.deliveries.closeOpenForTarget(id, 'endpoint disabled', tx);
      return updated;
    });
    if (!row) throw new NotFoundError('webhook endpoint', id);
    return this.toApi(row);
  }

  /** Deleted endpoints receive nothing more; their deliveries stay on record. */
  async remove(merchantId: string, id: string): Promise<{ id: string; deleted: true }> {
    const deleted = await this.db.transaction(async (tx) => {
      const found = await this.endpoints.softDelete(merchantId, id, tx);
      if (found) await this.deliveries.closeOpenForTarget(id, 'endpoint deleted', tx);
      return found;
    });
    if (!deleted) throw new NotFoundError('webhook endpoint', id);
    return { id, deleted: true };
  }

  async listDeliveries(merchantId: string, id: string, page: PageRequest): Promise<Page<Delivery>> {
    await this.getRow(merchantId, id);
    return paginate(
      page,
      () => this.deliveries.listForTarget(merchantId, id, page),
      () => this.deliveries.countForTarget(merchantId, id),
    );
  }

  /** Sends one event to this endpoint again, now, with a fresh retry schedule. */
  async resend(merchantId: string, id: string, eventId: string): Promise<Delivery> {
    const endpoint = await this.getRow(merchantId, id);
    if (endpoint.status !== 'enabled') {
      throw new DomainError('unprocessable', 'endpoint_disabled', 'The endpoint is disabled: enable it before resending events to it.', {
        param: 'id',
      });
    }
    const delivery = await this.deliveries.resend(merchantId, eventId, ENDPOINT_SINK, id);
    if (!delivery) throw new NotFoundError('event', eventId);
    return delivery;
  }

  /** After a delivery: a success clears the endpoint's failure record. */
  recordSuccess(merchantId: string, id: string): Promise<void> {
    return this.endpoints.recordSuccess(merchantId, id);
  }

  /** After a failed delivery: an endpoint failing without a success for too many days is disabled. */
  async recordFailure(merchantId: string, id: string): Promise<void> {
    if (await this.endpoints.recordFailure(merchantId, id, this.disableAfterDays)) await this.disable(merchantId, id, 'failing');
  }

  /**
   * Disables an endpoint on our side (410 Gone, days of failure): its open deliveries are closed, and a
   * `webhook_endpoint.disabled` event tells the merchant's other sinks.
   */
  async disable(merchantId: string, id: string, reason: Exclude<DisableReason, 'merchant'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      const row = await this.endpoints.disable(merchantId, id, reason, tx);
      if (!row) return;
      await this.deliveries.closeOpenForTarget(id, `endpoint disabled (${reason})`, tx);
      await this.outbox.insert(
        [
          {
            merchantId,
            type: 'webhook_endpoint.disabled',
            aggregateType: 'webhook_endpoint',
            aggregateId: id,
            data: { endpointId: id, url: row.url, reason },
          },
        ],
        tx,
      );
    });
  }

  private async getRow(merchantId: string, id: string): Promise<WebhookEndpointRow> {
    const row = await this.endpoints.findById(merchantId, id);
    if (!row) throw new NotFoundError('webhook endpoint', id);
    return row;
  }

  private toApi(row: WebhookEndpointRow): WebhookEndpoint {
    return toWebhookEndpoint(row, EVENT_TYPES);
  }

  /**
   * http(s) only, no credentials in the URL, and (unless WEBHOOK_ALLOW_PRIVATE_TARGETS) a host that
   * resolves to public addresses only: our deliveries must not become a way into this host or its network.
   * Delivery checks the address again when it connects (the name may resolve elsewhere by then).
   */
  private async assertDeliverableUrl(raw: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ValidationFailedError('url must be an absolute http or https URL', 'url');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationFailedError('url must use http or https', 'url');
    if (url.username || url.password) throw new ValidationFailedError('url must not carry credentials', 'url');
    if (this.allowPrivateTargets) return;
    const addresses = await resolveAll(url.hostname).catch(() => {
      throw new ValidationFailedError(`url's host ${url.hostname} could not be resolved`, 'url', 'url_unresolvable');
    });
    if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
      throw new ValidationFailedError('url must not point to a loopback, private or reserved address', 'url', 'url_not_allowed');
    }
  }
}
