/**
 * The DCI test peer in a worker thread, for the registry-pull bench: a registry is another machine,
 * so its work (generating, serialising and signing pages) should not share the engine's thread.
 * It also writes the same households as a registry CSV for the import the pull is compared with.
 */
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { stringify } from 'csv-stringify';
import { CSV_HEADER, startDciPeer } from '../../test/peers/dci-registry.ts';

export interface PeerWorkerData {
  households: number;
  seed: number;
  pcodes: string[];
  csvFile: string;
  engineJwks: { keys: Record<string, string>[] };
}

const data = workerData as PeerWorkerData;
const peer = await startDciPeer({ households: data.households, seed: data.seed, pcodes: data.pcodes, engineJwks: () => data.engineJwks });
const out = createWriteStream(data.csvFile);
const csv = stringify({ header: true, columns: CSV_HEADER });
csv.pipe(out);
for (let i = 0; i < data.households; i++) {
  if (!csv.write(peer.csvRow(i))) await new Promise((resolve) => csv.once('drain', resolve));
}
csv.end();
await finished(out);
parentPort!.postMessage({ url: peer.url, senderId: peer.senderId });
parentPort!.on('message', async (message) => {
  if (message === 'close') {
    await peer.close();
    process.exit(0);
  }
});
