import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain-errors';
import { Public } from './auth.decorators';
import { CONSOLE_COOKIE, ConsoleSessionsService } from './console-sessions.service';

function cookie(req: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${CONSOLE_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

/**
 * Signing in to the admin console: a plain HTML form posts the admin key once (never in a URL, never in
 * the page's scripts or storage); the answer sets the session cookie and sends the browser back to
 * /console. The console then calls the API's own routes with that cookie and the CSRF token.
 */
@ApiTags('console')
@Public()
@Controller('console/session')
export class ConsoleSessionController {
  constructor(private readonly sessions: ConsoleSessionsService) {}

  /** Form `apiKey=ak_…` → 303 to /console (signed in), or to /console?signin=failed. */
  @Post()
  async signIn(@Req() req: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply) {
    const apiKey = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).apiKey : undefined;
    const session = typeof apiKey === 'string' ? await this.sessions.signIn(apiKey.trim()) : null;
    if (!session) return reply.redirect('/console?signin=failed', 303);
    void reply.header('Set-Cookie', cookie(req, session.token, session.maxAgeSeconds));
    return reply.redirect('/console', 303);
  }

  /** Who is signed in, and the session's CSRF token for the console's scripts (same origin only). */
  @Get()
  async current(@Req() req: FastifyRequest) {
    const session = await this.sessions.find(req);
    if (!session) throw new DomainError('unauthenticated', 'console_signed_out', 'Sign in to the console with an admin key.');
    return { merchantId: session.key.merchantId, keyId: session.key.id, keyLast4: session.key.last4, csrfToken: session.csrfToken };
  }

  /** Ends the session (needs its CSRF token) and clears the cookie. */
  @Post('sign-out')
  @HttpCode(200)
  async signOut(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    await this.sessions.signOut(req);
    void reply.header('Set-Cookie', cookie(req, '', 0));
    return { signedOut: true };
  }
}
