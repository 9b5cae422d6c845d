import type { AuthContext } from '../auth/auth.types';

declare module 'http' {
  interface IncomingMessage {
    /** Set by pino-http's genReqId from X-Request-Id (or generated). */
    id: string | number | object;
  }
}

declare global {
  namespace Express {
    interface Request {
      auth?: AuthContext;
      rawBody?: Buffer;
    }
  }
}
export {};
