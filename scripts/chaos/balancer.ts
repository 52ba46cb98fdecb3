import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A round-robin TCP balancer in front of a service's replicas, as a Kubernetes Service is: each
 * new connection goes to the next backend; one that refuses the connection (down, restarting) is
 * skipped for that connection. A paused backend still accepts, so its connections hang, as they
 * would in production until a probe failed.
 */
export class RoundRobinBalancer {
  private next = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly backends: () => number[]) {}

  async listen(port = 0): Promise<number> {
    this.server = createServer((client) => this.route(client));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  private route(client: Socket, tried = 0): void {
    const ports = this.backends();
    if (tried >= ports.length) {
      client.destroy();
      return;
    }
    const port = ports[this.next++ % ports.length];
    client.pause();
    const upstream = createConnection({ host: '127.0.0.1', port });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      this.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      if (!connected) this.route(client, tried + 1);
      else client.destroy();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => { this.sockets.delete(upstream); if (connected) client.destroy(); });
    client.on('close', () => { this.sockets.delete(client); upstream.destroy(); });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
