import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

class ApiErrorDetail {
  @ApiProperty({
    enum: [
      'invalid_request_error',
      'authentication_error',
      'idempotency_error',
      'card_error',
      'rate_limit_error',
      'provider_error',
      'api_error',
    ],
  })
  type: string;
  @ApiProperty({ example: 'parameter_invalid' })
  code: string;
  @ApiProperty()
  message: string;
  @ApiPropertyOptional({ example: 'items[0].quantity' })
  param?: string;
  @ApiPropertyOptional({ example: 'insufficient_funds' })
  declineCode?: string;
  @ApiProperty()
  requestId: string;
}

export class ApiErrorResponse {
  @ApiProperty({ type: ApiErrorDetail })
  error: ApiErrorDetail;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (the field is named in error.param), missing Idempotency-Key, or malformed JSON',
  401: 'Missing, unknown or revoked API key',
  402: 'Card declined',
  403: 'API key of the wrong kind',
  404: 'No such resource',
  409: 'Conflict, or the same Idempotency-Key is still being processed',
  413: 'Body larger than the limit',
  422: 'Unprocessable, or Idempotency-Key reused with a different request',
  429: 'Rate limited',
  502: 'Provider error',
  503: 'Database or providers unavailable',
};

/** Documents the error responses of a route, all in the API error shape. */
export function ApiErrors(...statuses: number[]) {
  return applyDecorators(
    ...[...statuses, ...(statuses.includes(401) && !statuses.includes(429) ? [429] : []), 500].map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Internal error', type: ApiErrorResponse }),
    ),
  );
}
