import { canTransition, sourcesOf } from './payment-state';

describe('payment state machine', () => {
  it('allows the forward path and refunds', () => {
    expect(canTransition('pending', 'processing')).toBe(true);
    expect(canTransition('processing', 'requires_action')).toBe(true);
    expect(canTransition('requires_action', 'succeeded')).toBe(true);
    expect(canTransition('succeeded', 'partially_refunded')).toBe(true);
    expect(canTransition('partially_refunded', 'refunded')).toBe(true);
  });

  it('never moves backwards or out of a final state', () => {
    expect(canTransition('succeeded', 'processing')).toBe(false);
    expect(canTransition('requires_action', 'processing')).toBe(false);
    expect(canTransition('failed', 'succeeded')).toBe(false);
    expect(canTransition('refunded', 'partially_refunded')).toBe(false);
    expect(canTransition('canceled', 'succeeded')).toBe(false);
    expect(canTransition('succeeded', 'failed')).toBe(false);
  });

  it('lists the sources of a status', () => {
    expect(sourcesOf('succeeded').sort()).toEqual(['pending', 'processing', 'requires_action']);
    expect(sourcesOf('refunded').sort()).toEqual(['partially_refunded', 'succeeded']);
  });
});
