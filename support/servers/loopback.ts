/**
 * Loopback traffic must never go through a proxy a machine's environment
 * sets (HTTP(S)_PROXY): the test servers and the dev stores listen on
 * 127.0.0.1, and clients that honour the proxy variables (the GCS client
 * through gaxios) would otherwise send their requests to the proxy.
 */
export function bypassProxyForLoopback(env: NodeJS.ProcessEnv = process.env): void {
  for (const k of ['NO_PROXY', 'no_proxy']) {
    const cur = env[k];
    env[k] = cur ? `${cur},127.0.0.1,localhost` : '127.0.0.1,localhost';
  }
}
