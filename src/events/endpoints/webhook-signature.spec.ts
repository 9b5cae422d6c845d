import { Webhook } from 'standardwebhooks';
import { newEndpointSecret, signWebhook, webhookHeaders } from './webhook-signature';

describe('Standard Webhooks signatures', () => {
  it('matches the specification’s published example', () => {
    // The example of the Standard Webhooks specification (and Svix's documentation).
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('keys the HMAC with the bytes the secret encodes, so the reference library verifies our headers', () => {
    const secret = newEndpointSecret();
    const body = JSON.stringify({ id: 'evt_1', type: 'payment.succeeded' });
    const headers = webhookHeaders(secret, 'evt_1', body);
    expect(headers['webhook-id']).toBe('evt_1');
    expect(new Webhook(secret).verify(body, headers)).toEqual({ id: 'evt_1', type: 'payment.succeeded' });
    expect(() => new Webhook(newEndpointSecret()).verify(body, headers)).toThrow();
  });
});
