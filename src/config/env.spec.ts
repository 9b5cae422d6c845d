import { trustProxySetting, validateEnv } from './env';

describe('validateEnv', () => {
  it('applies defaults and converts types', () => {
    const env = validateEnv({ PORT: '4000', MIGRATE_ON_START: 'false', SIMULATOR_OUTAGE: 'false', TRUST_PROXY: 'true' });
    expect(env.PORT).toBe(4000);
    expect(env.DATABASE_POOL_MAX).toBe(20);
    expect(env.MIGRATE_ON_START).toBe(false);
    expect(env.SIMULATOR_OUTAGE).toBe(false);
    expect(trustProxySetting(env.TRUST_PROXY)).toBe(true);
    expect(trustProxySetting('1')).toBe(1);
    expect(trustProxySetting('10.0.0.0/8, 192.168.1.1')).toEqual(['10.0.0.0/8', '192.168.1.1']);
    expect(() => validateEnv({ TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
  });

  it('names every bad variable', () => {
    expect(() => validateEnv({ PORT: 'x', DATABASE_POOL_MAX: '0', SIMULATOR_OUTAGE: 'maybe' })).toThrow(
      /PORT=.*\n.*DATABASE_POOL_MAX=.*\n.*SIMULATOR_OUTAGE=/,
    );
  });
});
