import { parseProductMessage } from './product-messages';

describe('parseProductMessage', () => {
  const body = (v: unknown) => Buffer.from(JSON.stringify(v));

  it('reads the merchant and product of a known routing key', () => {
    expect(parseProductMessage('merchant.product.published', body({ merchantId: 'mer_a', productId: 'prod_1' }))).toEqual({
      action: 'merchant.product.published',
      merchantId: 'mer_a',
      productId: 'prod_1',
    });
  });

  it('says why a message is refused', () => {
    expect(parseProductMessage('merchant.product.deleted', body({ merchantId: 'mer_a', productId: 'p' }))).toMatch(/routing key/);
    expect(parseProductMessage('merchant.product.published', Buffer.from('{nope'))).toBe('body is not JSON');
    expect(parseProductMessage('merchant.product.published', body([1]))).toBe('body is not a JSON object');
    expect(parseProductMessage('merchant.product.published', body({ productId: 'p' }))).toMatch(/merchantId/);
    expect(parseProductMessage('merchant.product.out_of_stock', body({ merchantId: 'mer_a', productId: 'a\u0000b' }))).toMatch(/productId/);
  });
});
