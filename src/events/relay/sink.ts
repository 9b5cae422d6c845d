import type { Executor } from '../../database/database.types';
import type { ClaimedDelivery, DeadDelivery, FannedOutDelivery } from './deliveries.types';

/** What a sink made of one attempt. */
export interface SinkResult {
  delivered: boolean;
  statusCode?: number;
  error?: string;
  /** The recipient asked to wait this long before the next attempt (Retry-After). */
  retryAfterMs?: number;
  /** No further attempt can succeed (410 Gone, endpoint disabled): the delivery is dead at once. */
  final?: boolean;
}

/**
 * One destination of the outbox. The relay claims, records and retries; a sink only sends, and says how
 * long to wait after a failure. Registered under EVENT_SINKS (events.module.ts).
 */
export interface Sink {
  /** Stored as event_deliveries.sink. */
  readonly name: string;
  /** Configured here (a sink without its settings, AMQP_URL unset, gets no deliveries and claims none). */
  readonly enabled: boolean;
  /** Every event gets one delivery to this sink (target = its name); false: targets are found at fan-out. */
  readonly global: boolean;
  /** For a global sink: the event types it gets a delivery for (unset: every type). */
  readonly eventTypes?: readonly string[];
  /** Deliveries in flight at once to one target from one instance. */
  readonly perTarget: number;
  /** The longest one attempt can take: a claimed delivery is leased for longer than this. */
  readonly attemptTimeoutMs: number;
  /** Sends one delivery. Never throws: a failure is a result. */
  deliver(delivery: ClaimedDelivery): Promise<SinkResult>;
  /** How long to wait after failed attempt number `attempt`, or null: the delivery is dead. */
  retryDelayMs(attempt: number, result: SinkResult): number | null;
  /**
   * Runs in the fan-out transaction for this sink's new deliveries: stores what will be sent
   * (prepared_payload), so that it is fixed when the delivery is created (Meta hashes customer data here).
   */
  prepare?(deliveries: FannedOutDelivery[], tx: Executor): Promise<void>;
  /** Another sink's delivery became dead (Slack tells the operators). */
  onDeadDelivery?(dead: DeadDelivery): Promise<void>;
  /** Runs after the attempt is recorded (endpoint health: disable after 410 or days of failure). */
  afterAttempt?(delivery: ClaimedDelivery, result: SinkResult): Promise<void>;
}

export const EVENT_SINKS = Symbol('EVENT_SINKS');
