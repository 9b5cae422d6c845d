/**
 * Thrown by the idempotency interceptor to send a stored response verbatim (its status may differ from
 * the route's default, e.g. a stored 402). The exception filter writes it with Idempotent-Replayed.
 */
export class ReplayedResponse {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {}
}
