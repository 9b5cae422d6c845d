import type Stripe from 'stripe';
import { paymentIntentParams } from './stripe.mapper';
import { customerParams, toSavedMethod } from './stripe-saved-methods.mapper';

const charge = {
  merchantId: 'mer_a',
  reference: 'pay_1',
  amount: 1999,
  currency: 'USD',
  token: 'pm_saved',
  customer: { email: 'a@example.com' },
  idempotencyKey: 'pay_1_1',
};

describe('Stripe saved methods mapper', () => {
  it('a charge with `saved` is an off-session PaymentIntent on the Customer, without return_url, carrying our metadata', () => {
    const params = paymentIntentParams({ ...charge, saved: { providerCustomerRef: 'cus_1', providerMethodRef: 'pm_saved' } }, 'https://r');
    expect(params).toEqual({
      amount: 1999,
      currency: 'usd',
      customer: 'cus_1',
      payment_method: 'pm_saved',
      off_session: true,
      confirm: true,
      metadata: { merchant_id: 'mer_a', reference: 'pay_1', paybridge_key: 'pay_1_1' },
    });
    expect(paymentIntentParams(charge, 'https://r')).toMatchObject({ return_url: 'https://r', confirm: true });
    expect(paymentIntentParams(charge, 'https://r')).not.toHaveProperty('off_session');
  });

  it('the Customer carries our customer and merchant; a saved card keeps brand, last four and expiry', () => {
    expect(
      customerParams({
        merchantId: 'mer_a',
        customer: { id: 'cus_ours', email: 'a@example.com' },
        providerCustomerRef: null,
        token: 'pm',
        idempotencyKey: 'k',
      }),
    ).toEqual({ email: 'a@example.com', metadata: { paybridge_customer: 'cus_ours', merchant_id: 'mer_a' } });
    const pm = { id: 'pm_1', card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 } } as Stripe.PaymentMethod;
    expect(toSavedMethod('cus_1', pm)).toEqual({
      providerCustomerRef: 'cus_1',
      providerMethodRef: 'pm_1',
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      expYear: 2030,
    });
    expect(toSavedMethod('cus_1', { id: 'pm_2', card: null } as unknown as Stripe.PaymentMethod)).toBeNull();
  });
});
