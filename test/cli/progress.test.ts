import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mebibytes, progress, progressMode, type ProgressStream } from '../../src/cli/progress.ts';

/** A stderr stand-in that keeps what is written and says whether it is a terminal. */
function fakeStream(isTTY: boolean): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  return { isTTY, columns: 100, write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

// Anything but a newline below 0x20, or DEL: what a piped log must not contain.
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;

describe('progressMode', () => {
  it('a bar on a terminal, nothing when piped or with --json; ASP_PROGRESS decides when set', () => {
    expect(progressMode({ write: () => true, isTTY: true }, false, undefined)).toBe('bar');
    expect(progressMode({ write: () => true, isTTY: true }, true, undefined)).toBe('off');
    expect(progressMode({ write: () => true }, false, undefined)).toBe('off');
    expect(progressMode({ write: () => true }, false, 'plain')).toBe('plain');
    expect(progressMode({ write: () => true }, true, 'bar')).toBe('bar');
    expect(progressMode({ write: () => true, isTTY: true }, false, 'off')).toBe('off');
    // An unknown setting is ignored rather than failing a long command.
    expect(progressMode({ write: () => true, isTTY: true }, false, 'fancy')).toBe('bar');
  });
});

describe('progress on a terminal', () => {
  it('draws a bar in place (cursor control) with the label, the count and the unit, and ends it', () => {
    const terminal = fakeStream(true);
    const meter = progress({ stream: terminal }).meter('importing', 'MiB', mebibytes);
    meter.update(0, 4 * 1048576);
    meter.update(4 * 1048576, 4 * 1048576);
    meter.stop();
    expect(terminal.text()).toMatch(CONTROL);
    expect(terminal.text()).toContain('importing |');
    expect(terminal.text()).toContain('100% 4/4 MiB');
  });

  it('a task shows its name and elapsed time, returns what the work returns and passes its error on', async () => {
    const terminal = fakeStream(true);
    const shown = progress({ stream: terminal });
    await expect(shown.task('generating lists', async () => 42)).resolves.toBe(42);
    expect(terminal.text()).toMatch(/generating lists … 0s/);
    await expect(shown.task('generating lists', async () => { throw new Error('refused'); })).rejects.toThrow('refused');
  });
});

describe('progress when piped', () => {
  it('writes nothing at all by default', async () => {
    const piped = fakeStream(false);
    const shown = progress({ stream: piped });
    const meter = shown.meter('pulling', 'households');
    for (let i = 0; i <= 100; i++) meter.update(i, 100);
    meter.stop();
    await shown.task('generating lists', async () => 1);
    expect(piped.text()).toBe('');
  });

  it('plain: whole lines without control characters, a tenth at a time, then the end', async () => {
    const piped = fakeStream(false);
    const shown = progress({ stream: piped, mode: 'plain' });
    const meter = shown.meter('exporting csv', 'rows');
    for (let i = 0; i <= 1000; i++) meter.update(i, 1000);
    meter.stop();
    await shown.task('rules: approving the demo rules', async () => 1);
    const lines = piped.text().split('\n').slice(0, -1);
    expect(piped.text()).not.toMatch(CONTROL);
    expect(lines.slice(0, 2)).toEqual(['exporting csv: 0/1000 rows (0%)', 'exporting csv: 100/1000 rows (10%)']);
    expect(lines.filter((l) => l.startsWith('exporting csv'))).toHaveLength(11);
    expect(lines.at(-3)).toBe('exporting csv: 1000/1000 rows (100%)');
    expect(lines.at(-2)).toBe('rules: approving the demo rules …');
    expect(lines.at(-1)).toMatch(/^rules: approving the demo rules: done in \d+\.\d s$/);
  });

  it('plain: at most a line per tenth and one at the end, whatever the counts (a total may grow)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(10_000), fc.nat(10_000)), { maxLength: 300 }), (updates) => {
        const piped = fakeStream(false);
        const meter = progress({ stream: piped, mode: 'plain' }).meter('pulling', 'households');
        // Progress only moves forward: counts are made cumulative.
        let done = 0;
        let total = 0;
        for (const [more, announced] of updates) {
          done += more;
          total = Math.max(total, announced);
          meter.update(done, total);
        }
        meter.stop();
        const lines = piped.text().split('\n').slice(0, -1);
        expect(piped.text()).not.toMatch(CONTROL);
        expect(lines.length).toBeLessThanOrEqual(updates.length === 0 ? 0 : 11);
        if (updates.length > 0) expect(lines.at(-1)).toBe(`pulling: ${done}/${Math.max(done, total)} households (${Math.max(done, total) > 0 ? Math.floor((done / Math.max(done, total)) * 100) : 100}%)`);
      }),
    );
  });
});
