import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';

export interface WsProxy {
  /** host:port/path for NEON_WS_PROXY */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A WebSocket-to-TCP proxy like the one Neon runs in front of Postgres, for testing the Neon driver
 * against a local server: the client names the target in `?address=host:port`. Loopback targets only.
 */
export async function startWsProxy(): Promise<WsProxy> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (socket, request) => {
    const target = new URL(request.url ?? '/', 'http://localhost').searchParams.get('address') ?? '';
    const match = /^(localhost|127\.0\.0\.1):(\d+)$/.exec(target);
    if (!match) {
      socket.close(1008, 'address must be a loopback host:port');
      return;
    }
    const tcp = net.connect(Number(match[2]), match[1]);
    const stream = createWebSocketStream(socket);
    stream.on('error', () => tcp.destroy());
    tcp.on('error', () => socket.terminate());
    stream.pipe(tcp).pipe(stream);
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const { port } = wss.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}/v2`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
