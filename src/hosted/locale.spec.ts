import { pickLocale } from './locale';

describe('pickLocale', () => {
  it('takes ?locale= first, then Accept-Language by quality, else English', () => {
    expect(pickLocale('es', 'pt-BR')).toBe('es');
    expect(pickLocale('xx', 'fr;q=1, pt-BR;q=0.8, es;q=0.9')).toBe('es');
    expect(pickLocale(undefined, 'pt')).toBe('pt-BR');
    expect(pickLocale(undefined, 'de-DE, en-GB;q=0.5')).toBe('en');
    expect(pickLocale(undefined, 'de, fr')).toBe('en');
    expect(pickLocale(undefined, undefined)).toBe('en');
    expect(pickLocale(undefined, 'es;q=0, pt-BR;q=0.1')).toBe('pt-BR');
  });
});
