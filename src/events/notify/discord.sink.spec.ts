import { DISCORD_LIMITS, embedLength, fitEmbed } from './discord.sink';

describe('fitEmbed (Discord embed limits)', () => {
  it('cuts title, field texts, field count and the total to what Discord accepts, saying how many fields were left out', () => {
    const fields = Array.from({ length: 40 }, (_, i) => ({ name: `Item ${i} ${'n'.repeat(300)}`, value: 'v'.repeat(1500) }));
    const embed = fitEmbed({
      title: 't'.repeat(400),
      description: 'd'.repeat(5000),
      color: 0,
      timestamp: new Date(0).toISOString(),
      fields,
    });
    expect(embed.title).toHaveLength(DISCORD_LIMITS.title);
    expect(embed.title.endsWith('…')).toBe(true);
    expect(embed.fields.length).toBeLessThanOrEqual(DISCORD_LIMITS.fields);
    for (const f of embed.fields) {
      expect(f.name.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldName);
      expect(f.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue);
    }
    expect(embedLength(embed)).toBeLessThanOrEqual(DISCORD_LIMITS.total);
    const last = embed.fields[embed.fields.length - 1];
    expect(last.name).toBe('…');
    expect(last.value).toBe(`${40 - (embed.fields.length - 1)} more`);
  });

  it('leaves an embed within the limits as it is', () => {
    const input = { title: 'Payment succeeded', color: 1, timestamp: 'x', fields: [{ name: 'Amount', value: '10.00 USD' }] };
    expect(fitEmbed(input)).toEqual(input);
  });
});
