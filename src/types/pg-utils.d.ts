declare module 'pg/lib/utils' {
  /** How pg turns a JavaScript value into a statement parameter (text), as it does while sending. */
  export function prepareValue(value: unknown): string | Buffer | null;
}
