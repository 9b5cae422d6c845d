import { parseRouting } from './provider-router';

describe('parseRouting', () => {
  it('reads ordered providers per currency with a wildcard', () => {
    const table = parseRouting('USD=stripe,simulator; BRL=mercadopago,stripe;*=simulator');
    expect(table.get('USD')).toEqual(['stripe', 'simulator']);
    expect(table.get('BRL')).toEqual(['mercadopago', 'stripe']);
    expect(table.get('*')).toEqual(['simulator']);
  });

  it('refuses a malformed rule', () => {
    expect(() => parseRouting('USD')).toThrow(/PROVIDER_ROUTING/);
  });
});
