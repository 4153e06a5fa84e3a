/**
 * Does PKCS#11 signing stall the event loop? A tiny HTTP server in this process answers
 * /healthz while a signing load runs against SoftHSM2, and the p99 of /healthz round trips is
 * compared with no load, and with the same load done by synchronous C_Sign (what the backend
 * avoids by signing through C_SignAsync on libuv's thread pool).
 * RS256 makes the load: RSA-2048 is SoftHSM2's slowest signature, so a stall shows most.
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createBackend, type Pkcs11Backend } from '../backends/pkcs11/index.js';
import { acquireModule, releaseModule } from '../backends/pkcs11/library.js';
import { findObjects } from '../backends/pkcs11/objects.js';
import { loadConfig } from '../src/config/load.js';
import { startSoftHsm } from '../test/peers/softhsm.js';
import { percentile, round } from './stats.js';

const PHASE_MS = 3_000;
/** Signatures in flight at once, like concurrent token requests. */
const CONCURRENCY = 8;

export async function benchPkcs11(): Promise<Record<string, number>> {
  // Must precede the module's C_Initialize in this process (SoftHSM2 reads it there).
  const hsm = await startSoftHsm(['bench']);
  const config = loadConfig({ env: { WFID_PKCS11_PIN: hsm.token('bench').pin } });
  const uri = hsm.uri('bench', 'bench-signing');
  const backend = (await createBackend({
    uri,
    alg: 'RS256',
    section: config.pkcs11,
    create: config.keys.create,
    logger: pino({ level: 'silent' }),
  })) as Pkcs11Backend;
  // Opening makes no key (the issuer's key lifecycle does): the bench makes its one key pair.
  const [key] = (await backend.listKeys()).length
    ? await backend.listKeys()
    : [await backend.createKey()];
  const { sdk, module } = await acquireModule(hsm.module);
  const server = createServer((_request, response) => response.end('ok')).listen(0, '127.0.0.1');
  await new Promise((done) => server.once('listening', done));
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const input = randomBytes(300);

  try {
    const idle = await probe(port, agent, PHASE_MS);

    let signed = 0;
    const asyncLoad = load(async () => {
      await backend.sign(key!, input);
      signed++;
    });
    const underAsync = await probe(port, agent, PHASE_MS);
    await asyncLoad.stop();
    const signsPerSecond = (signed / PHASE_MS) * 1000;

    // The same signatures through the synchronous call, on a session of the bench's own.
    const slot = module
      .C_GetSlotList(true)
      .find((s) => module.C_GetTokenInfo(s).label.trimEnd() === 'bench')!;
    const session = module.C_OpenSession(slot, sdk.CKF_SERIAL_SESSION);
    const [handle] = findObjects(module, session, [
      { type: sdk.CKA_CLASS, value: sdk.CKO_PRIVATE_KEY },
      { type: sdk.CKA_ID, value: Buffer.from(key!.ref, 'hex') },
    ]);
    const syncLoad = load(async () => {
      module.C_SignInit(session, { mechanism: sdk.CKM_SHA256_RSA_PKCS }, handle!);
      module.C_Sign(session, input, Buffer.alloc(256));
    });
    const underSync = await probe(port, agent, PHASE_MS);
    await syncLoad.stop();
    module.C_CloseSession(session);

    return {
      pkcs11_healthz_p99_idle_ms: round(percentile(idle, 99)),
      pkcs11_healthz_p99_async_sign_ms: round(percentile(underAsync, 99)),
      pkcs11_healthz_p99_sync_sign_ms: round(percentile(underSync, 99)),
      pkcs11_rs256_signs_per_s: round(signsPerSecond, 0),
    };
  } finally {
    agent.destroy();
    server.close();
    await releaseModule(hsm.module);
    await backend.close();
    await hsm.stop();
  }
}

/** Sequential GET /healthz for `ms`; round-trip times in milliseconds. */
async function probe(port: number, agent: Agent, ms: number): Promise<number[]> {
  const times: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const started = performance.now();
    await new Promise<void>((done, fail) =>
      get({ host: '127.0.0.1', port, path: '/healthz', agent }, (response) => {
        response.resume().once('end', done);
      }).once('error', fail),
    );
    times.push(performance.now() - started);
  }
  return times;
}

/** CONCURRENCY loops calling `operation` until stopped, yielding to the event loop between calls. */
function load(operation: () => Promise<void>): { stop: () => Promise<void> } {
  let running = true;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (running) {
      await operation();
      await new Promise((done) => setImmediate(done));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}
