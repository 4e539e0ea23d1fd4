export * from './types.js'
export { BUCKETS, CANARY_SEED, bucketOf, murmur3, seedFor, toBasisPoints } from './bucket.js'
export { DEFAULT_MIRROR_METHODS, compile, mirrorPercent, other, resolveTarget } from './compile.js'
export {
  decide,
  explain,
  stickinessKey,
  ID_COOKIE,
  OVERRIDE_COOKIE,
  OVERRIDE_HEADER,
  OVERRIDE_SECRET_HEADER,
  type Explanation,
} from './decide.js'
export * from './transitions.js'
export { MAX_SEEN_HOSTS, MAX_SEEN_HOST_LENGTH, MAX_WILDCARD_PROBES, compileHosts, hostName, matchHost, type HostTable } from './hosts.js'
export { parseCookies } from './cookies.js'
export { fillFacts } from './facts.js'
export { mirrorChance, mirrored, mirrorDraw } from './mirror.js'
