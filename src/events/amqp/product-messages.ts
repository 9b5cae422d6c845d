/**
 * What the merchant's services publish to AMQP_CONSUME_EXCHANGE (routing key = the message's type):
 * `{"merchantId": "mer_…", "productId": "prod_…"}`, JSON. Anything else is malformed.
 */
export const PRODUCT_ROUTING_KEYS = ['merchant.product.published', 'merchant.product.out_of_stock'] as const;
export type ProductRoutingKey = (typeof PRODUCT_ROUTING_KEYS)[number];

export interface ProductMessage {
  action: ProductRoutingKey;
  merchantId: string;
  productId: string;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The message, or why it is refused (the reason is logged: it never goes back to the queue). */
export function parseProductMessage(routingKey: string, content: Buffer): ProductMessage | string {
  if (!(PRODUCT_ROUTING_KEYS as readonly string[]).includes(routingKey)) return `unexpected routing key ${routingKey}`;
  let body: unknown;
  try {
    body = JSON.parse(content.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body is not a JSON object';
  const { merchantId, productId } = body as Record<string, unknown>;
  if (typeof merchantId !== 'string' || !ID.test(merchantId)) return 'merchantId missing or malformed';
  if (typeof productId !== 'string' || !ID.test(productId)) return 'productId missing or malformed';
  return { action: routingKey as ProductRoutingKey, merchantId, productId };
}
