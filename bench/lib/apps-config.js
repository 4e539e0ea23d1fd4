/**
 * The many-apps config the benches share (`apps:` shape, see
 * docs/configuration.md#many-apps-one-router): app i is `app-NN`, its host
 * `app-NN.bench.test`; with `wildcardEvery` = k, every k-th app (i % k = k-1)
 * is named only by a wildcard, `*.app-NN.bench.test`, and its requests carry
 * `www.app-NN.bench.test`, which the router finds after the exact lookup
 * misses (the harder lookup).
 */

/** `app-07` for 7. */
export function appName(i) {
  return `app-${String(i).padStart(2, '0')}`
}

/**
 * `count` apps; `upstreamsOf(i)` gives app i's `{ blue, green }`. Returns the
 * `apps` section, the name of app i, and the Host a request for app i carries.
 */
export function manyApps({ count, upstreamsOf, wildcardEvery = 0 }) {
  const isWildcard = (i) => wildcardEvery > 0 && i % wildcardEvery === wildcardEvery - 1
  const apps = {}
  for (let i = 0; i < count; i++) {
    const host = `${appName(i)}.bench.test`
    apps[appName(i)] = { hosts: [isWildcard(i) ? `*.${host}` : host], upstreams: upstreamsOf(i) }
  }
  return {
    apps,
    isWildcard,
    requestHost: (i) => (isWildcard(i) ? `www.${appName(i)}.bench.test` : `${appName(i)}.bench.test`),
  }
}
