import { Transform } from 'node:stream';

/**
 * Passes CSV bytes through unchanged while noting where each record starts, so that a record
 * number (as COPY counts them) can be reported as the line a user sees in an editor, even when
 * quoted fields hold line breaks. Memory grows only with the number of such multi-line records.
 *
 * ```ts
 * const lines = new RecordLines()
 * await raw.copyFrom(sql, createReadStream(file).pipe(lines))
 * lines.lineOf(7) // the physical line of data record 7
 * ```
 */
export class RecordLines extends Transform {
  private inQuotes = false;
  private line = 1;
  private record = 0; // 0 is the header
  /** [record, extra lines before it], appended whenever the offset changes. */
  private readonly shifts: [number, number][] = [];
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void) {
    this.bytes += chunk.length;
    let shift = this.shifts.length ? this.shifts[this.shifts.length - 1][1] : 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === 0x22) this.inQuotes = !this.inQuotes;
      else if (byte === 0x0a) {
        this.line++;
        if (!this.inQuotes) {
          this.record++;
          const newShift = this.line - (this.record + 1);
          if (newShift !== shift) {
            this.shifts.push([this.record, newShift]);
            shift = newShift;
          }
        }
      }
    }
    done(null, chunk);
  }

  /** The 1-based line on which data record `record` (1-based, header not counted) starts. */
  lineOf(record: number): number {
    // The last shift at or before `record` (shifts are in record order).
    let low = 0;
    let high = this.shifts.length - 1;
    let shift = 0;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (this.shifts[mid][0] <= record) {
        shift = this.shifts[mid][1];
        low = mid + 1;
      } else high = mid - 1;
    }
    return record + 1 + shift;
  }
}
