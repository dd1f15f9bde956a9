// The Node peer of bench_gateway: @jupyterlab/services, JupyterLab's own client library.
// Usage: node peer.mjs BASE_URL TOKEN; commands on stdin as in ../peer_gateway.py.
import { KernelManager, ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';
import readline from 'node:readline';

// The library logs (e.g. "Starting WebSocket") to the console; stdout carries only answers.
const answer = (value) => process.stdout.write(JSON.stringify(value) + '\n');
for (const level of ['log', 'debug', 'info', 'warn']) console[level] = (...args) => process.stderr.write(args.join(' ') + '\n');

const [base, token] = process.argv.slice(2);
const serverSettings = ServerConnection.makeSettings({
  baseUrl: base + '/',
  wsUrl: base.replace(/^http/, 'ws') + '/',
  token,
  appendToken: true,
  WebSocket,
  fetch,
  Request,
  Headers,
});
const manager = new KernelManager({ serverSettings });
await manager.ready;
const kernel = await manager.startNew({ name: 'python3' });
await kernel.info;

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  const [cmd, ...rest] = line.trim().split(' ');
  if (cmd === 'quit' || cmd === '') break;
  if (cmd === 'rt') {
    const times = [];
    for (let i = 0; i < Number(rest[0]); ++i) {
      const t0 = performance.now();
      await kernel.requestExecute({ code: 'pass', stop_on_error: false }).done;
      times.push(performance.now() - t0);
    }
    answer(times);
  } else if (cmd === 'stream') {
    let bytes = 0;
    const t0 = performance.now();
    const future = kernel.requestExecute({ code: JSON.parse(rest.join(' ')), stop_on_error: false });
    future.onIOPub = (msg) => {
      if (msg.header.msg_type === 'stream' && msg.content.name === 'stdout') bytes += Buffer.byteLength(msg.content.text);
    };
    await future.done;
    answer({ seconds: (performance.now() - t0) / 1000, bytes });
  }
}
await kernel.shutdown();
manager.dispose();
process.exit(0);
