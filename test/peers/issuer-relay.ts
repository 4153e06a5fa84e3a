/**
 * An HTTP relay in front of a real issuer that the test can turn into a hanging issuer: in
 * `hang` mode it accepts every request and answers none (as an overloaded or black-holed
 * issuer does), until `release()` cuts the held connections.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldRequest {
  path: string;
  /** False once the client gave up on it (its own timeout) or `release()` cut it. */
  open: boolean;
}

export interface IssuerRelay {
  url: string;
  mode: 'pass' | 'hang';
  /** Requests held in `hang` mode, oldest first. */
  held: HeldRequest[];
  /** Every request seen, as `METHOD /path`, oldest first. */
  seen: string[];
  /** Cuts every held connection (the client sees a reset and may retry). */
  release(): void;
  close(): Promise<void>;
}

export async function startIssuerRelay(target: string): Promise<IssuerRelay> {
  const sockets = new Set<ServerResponse>();
  const relay: IssuerRelay = {
    url: '',
    mode: 'pass',
    held: [],
    seen: [],
    release() {
      for (const response of sockets) response.socket?.destroy();
      sockets.clear();
    },
    async close() {
      relay.release();
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    relay.seen.push(`${request.method} ${request.url}`);
    if (relay.mode === 'hang') {
      const held: HeldRequest = { path: request.url ?? '', open: true };
      relay.held.push(held);
      sockets.add(response);
      request.resume();
      response.on('close', () => {
        held.open = false;
        sockets.delete(response);
      });
      return;
    }
    void forward(target, request, response);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}

async function forward(target: string, request: IncomingMessage, response: ServerResponse) {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await fetch(target + (request.url ?? '/'), {
      method: request.method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    response.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
    });
    response.end(Buffer.from(await answer.arrayBuffer()));
  } catch {
    response.socket?.destroy();
  }
}
