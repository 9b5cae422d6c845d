import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

/** `?page=1&limit=20` or `?startingAfter=<id>&limit=20` (API.md, pagination). */
export class ListQueryDto {
  /** 1-based page number (offset pagination; the answer then carries `page` and `total`). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  page?: number;

  /** Items per page, at most 100. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_LIMIT)
  limit?: number;

  /** Cursor pagination: the id of the last item of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  startingAfter?: string;
}

export interface Page<T> {
  data: T[];
  hasMore: boolean;
  page?: number;
  total?: number;
}

export interface PageRequest {
  limit: number;
  offset: number;
  startingAfter?: string;
  page?: number;
}

export function toPageRequest(query: ListQueryDto): PageRequest {
  const limit = query.limit ?? DEFAULT_LIMIT;
  const page = query.startingAfter ? undefined : (query.page ?? 1);
  return { limit, offset: page ? (page - 1) * limit : 0, startingAfter: query.startingAfter, page };
}

/** Builds the answer from rows fetched with LIMIT limit + 1. */
export function toPage<T>(rows: T[], request: PageRequest, total?: number): Page<T> {
  const page: Page<T> = { data: rows.slice(0, request.limit), hasMore: rows.length > request.limit };
  if (request.page !== undefined) {
    page.page = request.page;
    if (total !== undefined) page.total = total;
  }
  return page;
}

/** A list answer: the rows (LIMIT limit + 1) and, in page mode only, the total, read side by side. */
export async function paginate<T>(request: PageRequest, list: () => Promise<T[]>, count: () => Promise<number>): Promise<Page<T>> {
  const [rows, total] = await Promise.all([list(), request.page === undefined ? undefined : count()]);
  return toPage(rows, request, total);
}
