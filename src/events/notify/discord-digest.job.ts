import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { toMajorString } from '../../common/money';
import type { Env } from '../../config/env';
import { DatabaseService } from '../../database/database.service';
import { fitEmbed, type DiscordEmbed } from './discord.sink';
import { NotificationsRepository, type RevenueRow } from './notifications.repository';
import { postJson } from './notify-http';

const KIND = 'discord:revenue';
// Hourly: the day is sent by the first run after midnight UTC, and a failed send is tried again an hour later.
const EVERY_MS = 3_600_000;

export type DigestOutcome =
  | { sent: true; day: string; rows: RevenueRow[] }
  | { sent: false; reason: 'disabled' | 'locked' | 'already_sent' | 'failed'; day: string };

/**
 * Discord's daily revenue digest: yesterday's (UTC) revenue per currency from the ledger, one embed.
 * One runner across instances (advisory lock), and each day once (notification_digests); tests call
 * run() directly.
 */
@Injectable()
export class DiscordDigestJob implements OnModuleInit {
  private readonly logger = new Logger(DiscordDigestJob.name);
  private readonly url?: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly notifications: NotificationsRepository,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: ConfigService<Env, true>,
  ) {
    this.url = config.get('DISCORD_WEBHOOK_URL', { infer: true });
    this.timeoutMs = config.get('NOTIFY_TIMEOUT_MS', { infer: true });
  }

  onModuleInit(): void {
    if (!this.url || !this.config.get('JOBS_ENABLED', { infer: true })) return;
    this.scheduler.addInterval(
      'discord-revenue-digest',
      setInterval(() => void this.run().catch((err) => this.logger.error({ err }, 'discord revenue digest failed')), EVERY_MS),
    );
  }

  /** Sends the digest of the UTC day before `now`, unless it was sent already. */
  async run(now: Date = new Date()): Promise<DigestOutcome> {
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const from = new Date(to.getTime() - 86_400_000);
    const day = from.toISOString().slice(0, 10);
    if (!this.url) return { sent: false, reason: 'disabled', day };
    const outcome = await this.db.withAdvisoryLock(`paybridge:${KIND}`, async (): Promise<DigestOutcome> => {
      if (await this.notifications.digestSent(KIND, day)) return { sent: false, reason: 'already_sent', day };
      const rows = await this.notifications.revenueByCurrency(from, to);
      const result = await postJson(
        this.url as string,
        { username: 'Paybridge', embeds: [revenueEmbed(day, rows)], allowed_mentions: { parse: [] } },
        this.timeoutMs,
      );
      if (!result.delivered) {
        this.logger.warn({ day, error: result.error }, 'discord revenue digest not sent: tried again next run');
        return { sent: false, reason: 'failed', day };
      }
      await this.notifications.markDigestSent(KIND, day);
      return { sent: true, day, rows };
    });
    return outcome ?? { sent: false, reason: 'locked', day };
  }
}

export function revenueEmbed(day: string, rows: RevenueRow[]): DiscordEmbed {
  const money = (minor: number, currency: string) => `${toMajorString(minor, currency)} ${currency}`;
  return fitEmbed({
    title: `Revenue ${day} (UTC)`,
    description: rows.length === 0 ? 'No charges or refunds.' : undefined,
    color: 0x3498db,
    timestamp: new Date().toISOString(),
    fields: rows.map((r) => ({
      name: r.currency,
      value: `Sales ${money(r.sales, r.currency)} · Refunds ${money(r.refunds, r.currency)} · Net ${money(r.sales - r.refunds, r.currency)} · ${r.charges} charge(s)`,
    })),
    footer: { text: 'Paybridge' },
  });
}
