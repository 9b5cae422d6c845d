import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import type { Env } from '../config/env';

/** The base URL customers reach this API at: PUBLIC_URL, or the address the server listens on. */
@Injectable()
export class PublicUrl {
  private readonly configured?: string;

  constructor(
    config: ConfigService<Env, true>,
    private readonly adapter: HttpAdapterHost,
  ) {
    this.configured = config.get('PUBLIC_URL', { infer: true })?.replace(/\/$/, '');
  }

  base(): string {
    if (this.configured) return this.configured;
    const address = this.adapter.httpAdapter?.getHttpServer()?.address() as AddressInfo | null;
    const host = !address || address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
    return `http://${host}:${address?.port ?? 3000}`;
  }
}
