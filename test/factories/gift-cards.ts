import { createCheckout, eventually, newKey, uniqueEmail } from './payments';
import type { TestApp } from './test-app';

/** POST /gift-cards/purchase with a valid body; override any field. */
export function purchaseGiftCard(api: TestApp, publishableKey: string, body: Record<string, unknown>) {
  return api
    .http()
    .post('/gift-cards/purchase')
    .set('X-Api-Key', publishableKey)
    .set('Idempotency-Key', newKey())
    .send({
      recipientEmail: 'friend@example.com',
      giftMessage: 'Happy birthday!',
      customer: { email: uniqueEmail() },
      successUrl: 'https://shop.example.com/thanks',
      cancelUrl: 'https://shop.example.com/cancel',
      ...body,
    });
}

/** A card bought and paid on the simulator's hosted page, active once the webhook is processed. */
export async function activeGiftCard(api: TestApp, publishableKey: string, amount: number, currency = 'USD'): Promise<string> {
  const bought = await purchaseGiftCard(api, publishableKey, { amount, currency });
  if (bought.status !== 201) throw new Error(`gift card purchase failed: ${bought.status} ${JSON.stringify(bought.body)}`);
  const paid = await fetch(`${bought.body.checkoutSession.url}/pay`, { method: 'POST', redirect: 'manual' });
  if (paid.status !== 303) throw new Error(`hosted payment failed: ${paid.status}`);
  const code = bought.body.giftCard.code as string;
  await eventually(
    async () => (await api.http().get(`/gift-cards/${code}/balance`).set('X-Api-Key', publishableKey)).body.status === 'active',
  );
  return code;
}

/** POST /payments/checkout paid partly with a gift card. */
export function checkoutWithGiftCard(api: TestApp, publishableKey: string, productId: string, code: string) {
  return createCheckout(api, publishableKey, {
    items: [{ productId, quantity: 1 }],
    currency: 'USD',
    customer: { email: uniqueEmail() },
    giftCardCode: code,
    successUrl: 'https://shop.example.com/s',
    cancelUrl: 'https://shop.example.com/c',
  });
}
