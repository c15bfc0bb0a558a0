/** Prints a command's result: JSON with --json, else the human lines. */
export function report(json: boolean | undefined, value: unknown, human: () => string[]): void {
  if (json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else process.stdout.write(human().join('\n') + '\n');
}
