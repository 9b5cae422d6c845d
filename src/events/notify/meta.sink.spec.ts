import { createHash } from 'node:crypto';
import { normalizeEmail, normalizeName, purchaseEvent, splitName } from './meta.sink';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('Meta Conversions API normalization', () => {
  it("follows Meta's rules: email trimmed and lower-cased; names lower-cased without punctuation, UTF-8", () => {
    expect(normalizeEmail('  Test@Example.COM ')).toBe('test@example.com');
    expect(normalizeName("O'Brien-Smith")).toBe('obriensmith');
    expect(normalizeName('  JOÃO ')).toBe('joão');
    expect(splitName('  Mary  Ann Jones ')).toEqual({ first: 'Mary', last: 'Jones' });
    expect(splitName('Prince')).toEqual({ first: 'Prince', last: null });
  });

  it('builds a Purchase with hashed user data and the value in major units', () => {
    const event = purchaseEvent({
      deliveryId: 'dlv_1',
      event: {
        id: 'evt_1',
        type: 'payment.succeeded',
        createdAt: '2026-01-01T00:00:00.000Z',
        data: { paymentId: 'pay_1', amount: 1999, currency: 'BRL' },
      },
      email: 'Test@Example.com',
      name: 'Zoë Ü',
    });
    expect(event).toEqual({
      event_name: 'Purchase',
      event_time: 1767225600,
      event_id: 'pay_1',
      action_source: 'website',
      user_data: {
        em: ['973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b'],
        fn: [sha('zoë')],
        ln: [sha('ü')],
      },
      custom_data: { value: 19.99, currency: 'BRL' },
    });
  });
});
