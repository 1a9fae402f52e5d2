// A real DNS server for browser tests: Debian's dnsmasq (package dnsmasq-base) on a free
// loopback port, answering for `*.test` from the records given (NXDOMAIN for other names
// under .test). `publish()` restarts it with new records on the same port ("the record is
// published now"); `stop()` leaves the port silent ("the resolver is down").
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import net from 'node:net';

const binary = existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : 'dnsmasq';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port free on 127.0.0.1 for both UDP and TCP a moment ago. */
async function freeUdpTcpPort() {
  for (let i = 0; i < 50; i += 1) {
    const port = await new Promise((resolve, reject) => {
      const sock = dgram.createSocket('udp4');
      sock.on('error', reject);
      sock.bind(0, '127.0.0.1', () => {
        const p = sock.address().port;
        sock.close(() => resolve(p));
      });
    });
    const tcpFree = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (tcpFree) return port;
  }
  throw new Error('no free port for the DNS server');
}

/** A DNS query (type A) for `name`. */
function query(name) {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  return Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

/** Whether something answers DNS on the port within `ms`. */
function answers(port, ms) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const done = (ok) => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    sock.on('message', () => done(true));
    sock.on('error', () => done(false));
    sock.send(query('probe.test'), port, '127.0.0.1');
  });
}

export class DnsServer {
  constructor(port) {
    this.port = port;
    this.proc = null;
  }

  /** `127.0.0.1:port`, as the gateway's `dns.nameservers` wants it. */
  get address() {
    return `127.0.0.1:${this.port}`;
  }

  /** Serve `records`: { txt: [[name, value], ...], hosts: [name, ...] }. */
  async publish({ txt = [], hosts = [] } = {}) {
    await this.stop();
    const args = [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll',
      '--listen-address=127.0.0.1', '--bind-interfaces', '--pid-file=', '--local=/test/',
      '--cache-size=0', `--port=${this.port}`,
      ...txt.map(([name, value]) => `--txt-record=${name},${value}`),
      ...hosts.map((name) => `--host-record=${name},127.0.0.9`),
    ];
    // Started as root, dnsmasq drops to "nobody" otherwise; its socket is bound before that.
    if (process.getuid?.() === 0) args.push('--user=root', '--group=root');
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const errors = [];
    proc.stderr.on('data', (d) => errors.push(d.toString()));
    this.proc = proc;
    for (let i = 0; i < 100; i += 1) {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited: ${errors.join('')}`);
      if (await answers(this.port, 50)) return;
      await sleep(20);
    }
    throw new Error(`dnsmasq on port ${this.port} never answered: ${errors.join('')}`);
  }

  async stop() {
    const { proc } = this;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
}

/** A dnsmasq on a free port, serving `records` (none by default). */
export async function startDns(records) {
  const dns = new DnsServer(await freeUdpTcpPort());
  await dns.publish(records);
  return dns;
}
