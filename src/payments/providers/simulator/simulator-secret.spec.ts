import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { PublicUrl } from '../../../common/public-url';
import type { Env } from '../../../config/env';
import { SimulatorInsecureSecretError, simulatorSecretRefused } from './simulator-secret';
import { SimulatorProvider } from './simulator.provider';
import type { SimulatorRepository } from './simulator.repository';
import type { SimulatorDisputesRepository } from './simulator-disputes.repository';
import type { SimulatorVault } from './simulator-vault';

/** The simulator as configured by these variables (its books and URL are not used by what is tested here). */
function simulator(env: Partial<Env>): SimulatorProvider {
  const values: Partial<Env> = {
    SIMULATOR_LATENCY_MS: 0,
    SIMULATOR_OUTAGE: false,
    SIMULATOR_REFUND_SETTLE_SECONDS: 30,
    SIMULATOR_FEE_PERCENT: '0',
    SIMULATOR_FEE_FIXED: 0,
    SIMULATOR_AVAILABILITY_DAYS: 0,
    ...env,
  };
  const config = { get: (name: keyof Env) => values[name] } as unknown as ConfigService<Env, true>;
  return new SimulatorProvider({} as SimulatorRepository, {} as SimulatorDisputesRepository, {} as PublicUrl, {} as SimulatorVault, config);
}

describe('the simulator and its built-in development secret', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is refused outside development and tests', () => {
    expect(simulatorSecretRefused('production', 'whsec_simulator_dev')).toBe(true);
    expect(simulatorSecretRefused('development', 'whsec_simulator_dev')).toBe(false);
    expect(simulatorSecretRefused('test', 'whsec_simulator_dev')).toBe(false);
    expect(simulatorSecretRefused('production', 'whsec_our_own')).toBe(false);
  });

  it('in production the start-up log warns, naming the variable, and the simulator refuses to serve', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const prod = simulator({ NODE_ENV: 'production', SIMULATOR_WEBHOOK_SECRET: 'whsec_simulator_dev' });
    prod.onModuleInit();
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/SIMULATOR_WEBHOOK_SECRET.*refuse to serve/));
    expect(() => prod.assertServing()).toThrow(SimulatorInsecureSecretError);
  });

  it('with a secret of its own it serves and says nothing', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const own = simulator({ NODE_ENV: 'production', SIMULATOR_WEBHOOK_SECRET: 'whsec_our_own' });
    own.onModuleInit();
    expect(warn).not.toHaveBeenCalled();
    expect(() => own.assertServing()).not.toThrow();
  });
});
