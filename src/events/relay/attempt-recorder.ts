import type { DeliveriesRepository, RecordedAttempt } from './deliveries.repository';

const MAX_BATCH = 500;

interface Pending {
  entry: { deliveryId: string } & RecordedAttempt;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Writes attempt outcomes in batches: an outcome waits for the statement already in flight (if any) and
 * leaves with every outcome that arrived meanwhile. Alone it costs what one statement costs; under load,
 * one statement records hundreds of deliveries instead of one each.
 */
export class AttemptRecorder {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly deliveries: DeliveriesRepository) {}

  record(entry: Pending['entry']): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          await this.deliveries.recordAttempts(batch.map((p) => p.entry));
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
