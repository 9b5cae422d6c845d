import { FinishedKeys } from './finished-keys';

describe('FinishedKeys', () => {
  const response = (body: string) => ({ status: 201, body });
  const inHours = (h: number) => new Date(Date.now() + h * 3_600_000);

  it('remembers an answer per merchant and key', () => {
    const keys = new FinishedKeys(1_000);
    keys.remember('mer_a', 'k1', 'hash', response('{"id":1}'), inHours(24));
    expect(keys.get('mer_a', 'k1')).toMatchObject({ hash: 'hash', response: response('{"id":1}') });
    expect(keys.get('mer_b', 'k1')).toBeUndefined();
  });

  it('stops a minute before the key expires, so a reused expired key is never answered from memory', () => {
    const keys = new FinishedKeys(1_000);
    keys.remember('mer_a', 'soon', 'hash', response('{}'), new Date(Date.now() + 30_000));
    expect(keys.get('mer_a', 'soon')).toBeUndefined();
    jest.useFakeTimers({ now: Date.now() });
    try {
      keys.remember('mer_a', 'later', 'hash', response('{}'), new Date(Date.now() + 5 * 60_000));
      expect(keys.get('mer_a', 'later')).toBeDefined();
      jest.setSystemTime(Date.now() + 4 * 60_000 + 1);
      expect(keys.get('mer_a', 'later')).toBeUndefined();
      keys.remember('mer_a', 'day', 'hash', response('{}'), inHours(24));
      jest.setSystemTime(Date.now() + 10 * 60_000 + 1); // ten minutes at most
      expect(keys.get('mer_a', 'day')).toBeUndefined();
    } finally {
      jest.useRealTimers();
    }
  });

  it('keeps within its byte budget by forgetting the oldest answers first', () => {
    const keys = new FinishedKeys(100);
    for (let i = 0; i < 5; i++) keys.remember('mer_a', `k${i}`, 'hash', response('x'.repeat(30)), inHours(24));
    expect(['k0', 'k1', 'k2', 'k3', 'k4'].map((k) => keys.get('mer_a', k) !== undefined)).toEqual([false, false, true, true, true]); // 32 bytes each
    keys.remember('mer_a', 'huge', 'hash', response('x'.repeat(200)), inHours(24));
    expect(keys.get('mer_a', 'huge')).toBeUndefined();
    expect(keys.get('mer_a', 'k4')).toBeDefined();
  });
});
