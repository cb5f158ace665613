import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsFixtures } from '../helpers/tls-fixtures.js';
import { runGatewayCli } from './pool-replicas.js';

/*
 * `vcs-gateway serve` refuses a bad peer configuration before it listens or reaches Redis:
 * one line naming the flag or variable, exit 2, the token never echoed.
 */
describe('vcs-gateway serve: peer flags and variables (--peer-listen, --peer-url, --peer-token)', function () {
  this.timeout(60_000);
  const REDIS = 'redis://127.0.0.1:1';
  const TOKEN = 'peer-token-for-the-cli-spec-0042';
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peer-cli-'));
  });

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function refused(args: readonly string[], env: Record<string, string> = {}): Promise<string> {
    const result = await runGatewayCli(['serve', '--listen', '127.0.0.1:0', ...args], env);
    expect(result.code, result.stderr).to.equal(2);
    expect(result.stdout).to.equal('');
    const first = result.stderr.split('\n')[0] as string;
    expect(first).to.match(/^vcs-gateway: /);
    expect(result.stderr).to.not.match(/\bat \S+:\d+:\d+/); // no stack trace
    return first;
  }

  it('names --peer-listen or VCS_GATEWAY_PEER_LISTEN when it is not HOST:PORT', async () => {
    expect(await refused(['--redis', REDIS, '--peer-listen', 'nowhere', '--peer-token', TOKEN])).to.include('--peer-listen "nowhere"');
    expect(await refused(['--redis', REDIS, '--peer-token', TOKEN], { VCS_GATEWAY_PEER_LISTEN: '10.0.0.1' })).to.include('VCS_GATEWAY_PEER_LISTEN "10.0.0.1"');
  });

  it('names --peer-url or VCS_GATEWAY_PEER_URL when it is not http://HOST:PORT', async () => {
    const base = ['--redis', REDIS, '--peer-listen', '127.0.0.1:0', '--peer-token', TOKEN];
    expect(await refused([...base, '--peer-url', 'https://10.0.0.1:8445'])).to.include('Invalid --peer-url');
    const withCredentials = await refused([...base, '--peer-url', 'http://user:secret-pw@10.0.0.1:8445']);
    expect(withCredentials).to.include('--peer-url');
    expect(withCredentials).to.not.include('secret-pw');
    expect(await refused(base, { VCS_GATEWAY_PEER_URL: 'http://10.0.0.1' })).to.include('Invalid VCS_GATEWAY_PEER_URL');
    expect(await refused(['--redis', REDIS, '--peer-listen', '0.0.0.0:8445', '--peer-token', TOKEN])).to.include('give --peer-url (VCS_GATEWAY_PEER_URL)');
  });

  it('needs a peer token of at least 16 characters with --peer-listen, and never prints it', async () => {
    expect(await refused(['--redis', REDIS, '--peer-listen', '127.0.0.1:0'])).to.include('Missing peer token');
    const short = join(dir, 'short');
    await writeFile(short, 'fifteen-chars!!\n');
    const line = await refused(['--redis', REDIS, '--peer-listen', '127.0.0.1:0', '--peer-token-file', short]);
    expect(line).to.include('--peer-token-file');
    expect(line).to.not.include('fifteen');
    expect(await refused(['--redis', REDIS, '--peer-listen', '127.0.0.1:0'], { VCS_GATEWAY_PEER_TOKEN: 'short-secret' })).to.include('VCS_GATEWAY_PEER_TOKEN');
    expect(await refused(['--redis', REDIS, '--peer-listen', '127.0.0.1:0', '--peer-token', TOKEN, '--peer-token-file', short])).to.include('--peer-token and --peer-token-file go alone');
  });

  it('wants --peer-tls-cert, --peer-tls-key and --peer-tls-ca together, names what is missing or unreadable, and wants https:// peer URLs with them', async () => {
    const { cert, key, ca } = tlsFixtures();
    const files = { cert: join(dir, 'peer.crt'), key: join(dir, 'peer.key'), ca: join(dir, 'ca.crt') };
    await Promise.all([writeFile(files.cert, cert), writeFile(files.key, key), writeFile(files.ca, ca)]);
    const base = ['--redis', REDIS, '--peer-listen', '127.0.0.1:0', '--peer-token', TOKEN];
    expect(await refused([...base, '--peer-tls-cert', files.cert, '--peer-tls-key', files.key])).to.include('missing --peer-tls-ca');
    expect(await refused(base, { VCS_GATEWAY_PEER_TLS_CA: files.ca })).to.include('missing --peer-tls-cert, --peer-tls-key');
    expect(await refused([...base, '--peer-tls-servername', 'peer.test'])).to.include('--peer-tls-servername needs peer TLS');
    const tls = ['--peer-tls-cert', files.cert, '--peer-tls-key', files.key, '--peer-tls-ca', files.ca];
    expect(await refused([...base, ...tls.slice(0, 4), '--peer-tls-ca', join(dir, 'absent.crt')])).to.include('Cannot read --peer-tls-ca');
    expect(await refused([...base, ...tls, '--peer-tls-servername', 'not a name'])).to.include('Invalid --peer-tls-servername');
    expect(await refused([...base, ...tls, '--peer-url', 'http://10.0.0.1:8445'])).to.match(/Invalid --peer-url: expected https:\/\/HOST:PORT/);
    expect(await refused(['--redis', REDIS, ...tls])).to.include('--peer-tls-cert needs --peer-listen');
    expect(await refused([...base, ...tls, '--peer-tls-reload-interval', '-1'])).to.include('Invalid --peer-tls-reload-interval: expected 0 (off) or a number of seconds from 0.1');
    expect(await refused(base, { VCS_GATEWAY_PEER_TLS_RELOAD_INTERVAL: '30' })).to.include('VCS_GATEWAY_PEER_TLS_RELOAD_INTERVAL needs peer TLS');
    // Swapped files: refused before anything listens, and the key's text never printed.
    const swapped = await refused([...base, '--peer-tls-cert', files.key, '--peer-tls-key', files.cert, '--peer-tls-ca', files.ca]);
    expect(swapped).to.include('Invalid peer TLS (--peer-tls-cert, --peer-tls-key, --peer-tls-ca): they do not load together');
    expect(swapped).to.not.include('PRIVATE KEY');
  });

  it('refuses --peer-listen without --redis, and peer settings without --peer-listen', async () => {
    expect(await refused(['--peer-listen', '127.0.0.1:0', '--peer-token', TOKEN])).to.include('--peer-listen needs --redis');
    expect(await refused(['--redis', REDIS, '--peer-url', 'http://10.0.0.1:8445'])).to.include('--peer-url needs --peer-listen');
    expect(await refused(['--redis', REDIS], { VCS_GATEWAY_PEER_TOKEN: TOKEN })).to.include('VCS_GATEWAY_PEER_TOKEN needs --peer-listen');
  });
});
