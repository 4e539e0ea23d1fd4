import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox'

/**
 * The config file's schema. Defaults live here, so a minimal file (just the
 * upstreams) is a complete config once `load` has applied them.
 */

/** A bearer token is sent in a header: visible ASCII, no spaces (a token of blanks is no secret). */
export const TOKEN_PATTERN = /^[!-~]{16,}$/
export const TOKEN_DESCRIPTION = 'at least 16 visible ASCII characters, without spaces'

const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const Host = Type.String({ minLength: 1 })
const TargetUrl = Type.String({ pattern: '^https?://[^/\\s]+/?$', description: 'a base URL like http://host:port' })
const ColorName = Type.Union([Type.Literal('blue'), Type.Literal('green')])

const Listener = (host: string, port: number) =>
  Type.Object(
    { host: Type.String({ minLength: 1, default: host }), port: { ...Port, default: port } },
    {
      additionalProperties: false,
      default: {},
    },
  )

const Upstream = Type.Object({ targets: Type.Array(TargetUrl, { minItems: 1 }) }, { additionalProperties: false })

const SmokeCheck = Type.Object(
  {
    path: Type.String({ pattern: '^/', default: '/health', description: 'a path starting with /' }),
    method: Type.Union([Type.Literal('GET'), Type.Literal('HEAD')], { default: 'GET' }),
    expectStatus: Type.Integer({ minimum: 100, maximum: 599, default: 200 }),
    bodyIncludes: Type.Optional(Type.String()),
    timeoutMs: Type.Integer({ minimum: 1, maximum: 120_000, default: 2000 }),
  },
  { additionalProperties: false },
)

export const FileStore = Type.Object(
  { type: Type.Literal('file'), path: Type.String({ minLength: 1, default: './data/state.json' }) },
  { additionalProperties: false },
)
export const RedisStore = Type.Object(
  {
    type: Type.Literal('redis'),
    url: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379', description: 'a redis:// or rediss:// URL' }),
    prefix: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9:_.-]+$', default: 'switchyard', description: 'letters, digits and : _ . -' }),
    /** Sentinel: list of sentinels and the master name, instead of `url` */
    /**
     * A local file with the last state this router applied, so a router that
     * (re)starts while Redis is down routes by it instead of refusing to start.
     */
    cachePath: Type.Optional(Type.String({ minLength: 1 })),
    sentinels: Type.Optional(Type.Array(Type.Object({ host: Host, port: Port }, { additionalProperties: false }), { minItems: 1 })),
    name: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
)

const Upstreams = Type.Object({ blue: Upstream, green: Upstream }, { additionalProperties: false })

/*
 * The sections an app may set for itself; the top-level value is the default
 * of every app. Each is a constant so the app schema and the top level share
 * one definition.
 */
const Initial = Type.Object({ live: { ...ColorName, default: 'blue' } }, { additionalProperties: false, default: {} })
const Stickiness = Type.Object(
  {
    header: Type.Optional(Type.String({ minLength: 1, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description: 'a header name' })),
    cookie: Type.Optional(Type.String({ minLength: 1, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description: 'a cookie name' })),
  },
  { additionalProperties: false, default: {} },
)
const Overrides = Type.Object(
  { enabled: Type.Boolean({ default: false }), secret: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false, default: {} },
)
const Headers = Type.Object(
  {
    exposeColor: Type.Boolean({ default: true }),
    /**
     * Keep x-forwarded-proto/-host and the x-forwarded-for chain a client
     * sends (right behind a load balancer that sets them); false when
     * clients reach the router directly, so they cannot forge them.
     */
    trustForwarded: Type.Boolean({ default: true }),
  },
  { additionalProperties: false, default: {} },
)
const Smoke = Type.Object({ checks: Type.Array(SmokeCheck, { default: [] }) }, { additionalProperties: false, default: {} })
const AutoRevert = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    maxErrorRate: Type.Number({ minimum: 0, maximum: 1, default: 0.05 }),
    minRequests: Type.Integer({ minimum: 1, default: 20 }),
    windowSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
    watchSecondsAfterFlip: Type.Integer({ minimum: 0, default: 300 }),
  },
  { additionalProperties: false, default: {} },
)
const Timeouts = Type.Object(
  {
    connectMs: Type.Integer({ minimum: 1, default: 2000 }),
    headersMs: Type.Integer({ minimum: 1, default: 30_000 }),
    bodyMs: Type.Integer({ minimum: 1, default: 30_000 }),
    /** a request body that sends no byte for this long is cut (slow uploads hold upstream connections) */
    bodyIdleMs: Type.Integer({ minimum: 1, default: 30_000 }),
    /** an upgraded connection (WebSocket) with no byte either way for this long is closed */
    tunnelIdleMs: Type.Integer({ minimum: 1, default: 300_000 }),
  },
  { additionalProperties: false, default: {} },
)

const HttpMethod = Type.String({ pattern: '^[A-Za-z]+$', description: 'an HTTP method such as GET' })
const MirrorCompare = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** response headers that must match, besides content-type */
    headers: Type.Array(Type.String({ minLength: 1, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description: 'a header name' }), {
      default: [],
    }),
    /** JSON bodies: fields of these names, at any depth, are ignored */
    ignoreJsonFields: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** a flip to the idle color is refused above this mismatch rate */
    maxMismatchRate: Type.Number({ minimum: 0, maximum: 1, default: 0.01 }),
    /** fewer comparisons: no verdict, no refusal */
    minSamples: Type.Integer({ minimum: 1, default: 50 }),
  },
  { additionalProperties: false, default: {} },
)
/** Dark launch: copies of live traffic to the idle color, and the shadow diff of its answers. */
const Mirror = Type.Object(
  {
    /** share of live-routed requests copied to idle, until PUT /v1/mirror stores one */
    percent: Type.Number({ minimum: 0, maximum: 100, default: 0 }),
    methods: Type.Array(HttpMethod, { minItems: 1, default: ['GET', 'HEAD'] }),
    /** larger requests are not mirrored, larger answers not compared */
    maxBodyBytes: Type.Integer({ minimum: 0, maximum: 67_108_864, default: 1_048_576 }),
    /** mirrored requests in flight at most (per app); beyond it a copy is dropped, never queued */
    concurrency: Type.Integer({ minimum: 1, maximum: 4096, default: 64 }),
    timeoutMs: Type.Integer({ minimum: 1, maximum: 600_000, default: 5000 }),
    compare: MirrorCompare,
  },
  { additionalProperties: false, default: {} },
)

/**
 * Active health checks: a GET of `path` on every target of both colors,
 * every `intervalMs`. Off unless `path` is set.
 */
const HealthCheck = Type.Object(
  {
    path: Type.Optional(Type.String({ pattern: '^/', description: 'a path starting with /' })),
    intervalMs: Type.Integer({ minimum: 50, maximum: 3_600_000, default: 5000 }),
    timeoutMs: Type.Integer({ minimum: 1, maximum: 120_000, default: 2000 }),
    /** consecutive failed checks that mark a target down */
    unhealthyAfter: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
    /** consecutive passed checks that mark a down target up again */
    healthyAfter: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
  },
  { additionalProperties: false, default: {} },
)

/** The keys of the per-app sections (an app's own value, else the top-level one). */
export const APP_SECTIONS = [
  'initial',
  'stickiness',
  'overrides',
  'headers',
  'smoke',
  'autoRevert',
  'timeouts',
  'mirror',
  'healthCheck',
] as const
export type AppSection = (typeof APP_SECTIONS)[number]

/** App names: what URLs, Redis keys, file names and metric labels can all carry. */
export const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/
/** The app of the single-app shape (top-level `upstreams`). */
export const DEFAULT_APP = 'default'

/**
 * A section as an app may write it: every key optional and without its
 * default (a default filled in on the app would hide the top-level value).
 * Deeper defaults, such as a smoke check's, stay.
 */
function appSection(section: TObject): TObject {
  const props: Record<string, TSchema> = {}
  for (const [k, v] of Object.entries(section.properties)) {
    const rest: TSchema = { ...v }
    delete rest.default
    props[k] = Type.Optional(rest)
  }
  return Type.Object(props, { additionalProperties: false })
}

/**
 * One app as written in the file: hosts, upstreams and optional sections.
 * Sections carry no defaults here: what an app leaves out comes from the
 * top level (see load.ts), so defaults must not be filled in on the app.
 */
export const AppInputSchema = Type.Object(
  {
    hosts: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: [] }),
    upstreams: Upstreams,
    initial: Type.Optional(appSection(Initial)),
    stickiness: Type.Optional(appSection(Stickiness)),
    overrides: Type.Optional(appSection(Overrides)),
    headers: Type.Optional(appSection(Headers)),
    smoke: Type.Optional(appSection(Smoke)),
    autoRevert: Type.Optional(appSection(AutoRevert)),
    timeouts: Type.Optional(appSection(Timeouts)),
    healthCheck: Type.Optional(appSection(HealthCheck)),
    // compare is merged key by key too, so it is stripped of defaults as well
    mirror: Type.Optional(appSection(Type.Object({ ...Mirror.properties, compare: appSection(MirrorCompare) }))),
  },
  { additionalProperties: false },
)

export const ConfigSchema = Type.Object(
  {
    listen: Listener('0.0.0.0', 8080),
    preview: Type.Optional(
      Type.Object({ host: Type.String({ minLength: 1, default: '127.0.0.1' }), port: Port }, { additionalProperties: false }),
    ),
    admin: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: { ...Port, default: 9901 },
        token: Type.Optional(Type.String({ minLength: 16, pattern: TOKEN_PATTERN.source, description: TOKEN_DESCRIPTION })),
        metricsPublic: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** the single-app shape: one app named `default` that serves every host */
    upstreams: Type.Optional(Upstreams),
    /** the many-apps shape: app name → hosts, upstreams, own sections */
    apps: Type.Optional(Type.Record(Type.String(), AppInputSchema)),
    /** the app that serves hosts no app names; else such hosts get 404 UNKNOWN_HOST */
    defaultApp: Type.Optional(Type.String({ minLength: 1 })),
    initial: Initial,
    store: Type.Union([FileStore, RedisStore], { default: { type: 'file', path: './data/state.json' } }),
    stickiness: Stickiness,
    overrides: Overrides,
    headers: Headers,
    smoke: Smoke,
    autoRevert: AutoRevert,
    notify: Type.Object(
      {
        webhooks: Type.Array(Type.String({ pattern: '^https?://', description: 'an http:// or https:// URL' }), { default: [] }),
        timeoutMs: Type.Integer({ minimum: 1, default: 5000 }),
        retries: Type.Integer({ minimum: 0, maximum: 10, default: 3 }),
      },
      { additionalProperties: false, default: {} },
    ),
    timeouts: Timeouts,
    healthCheck: HealthCheck,
    mirror: Mirror,
    limits: Type.Object(
      {
        /** largest request head (request line + headers) accepted, bytes */
        maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 16_384 }),
        /** largest request body accepted, bytes; 0 = unlimited (streamed) */
        maxBodyBytes: Type.Integer({ minimum: 0, default: 0 }),
        /** keep-alive idle timeout towards clients */
        keepAliveTimeoutMs: Type.Integer({ minimum: 1, default: 65_000 }),
        /** upstream connections per target */
        connectionsPerTarget: Type.Integer({ minimum: 1, maximum: 4096, default: 128 }),
        /** longest wait for a free upstream connection (connecting included) before 503 UPSTREAM_BUSY */
        queueTimeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
        /** requests in flight from one client address at most (429 CLIENT_LIMIT beyond); 0 = no limit */
        maxInFlightPerClient: Type.Integer({ minimum: 0, default: 0 }),
        /** upgraded connections (WebSocket tunnels, pending ones included) at most; 503 TOO_MANY_TUNNELS beyond */
        maxTunnels: Type.Integer({ minimum: 1, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info' },
        ),
        /** one info line per proxied request (method, url, status, color, cohort, ms, ip) */
        access: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    shutdownGraceSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 10 }),
    /** data-plane processes: 1 = this process routes; N > 1 or "auto" (one per core) = node:cluster workers */
    workers: Type.Union([Type.Integer({ minimum: 1, maximum: 1024 }), Type.Literal('auto')], { default: 1 }),
  },
  { additionalProperties: false },
)

/** The config file as validated, before the apps are resolved. */
export type RawConfig = Static<typeof ConfigSchema>

/** One app with every section resolved (its own value, else the top level's). */
export interface AppConfig {
  readonly name: string
  /** lower-case exact names and `*.` wildcards; empty for the single-app shape */
  readonly hosts: readonly string[]
  readonly upstreams: RawConfig['upstreams'] & {}
  readonly initial: RawConfig['initial']
  readonly stickiness: RawConfig['stickiness']
  readonly overrides: RawConfig['overrides']
  readonly headers: RawConfig['headers']
  readonly smoke: RawConfig['smoke']
  readonly autoRevert: RawConfig['autoRevert']
  readonly timeouts: RawConfig['timeouts']
  readonly mirror: RawConfig['mirror']
  readonly healthCheck: RawConfig['healthCheck']
}

/**
 * The validated config. `apps` always holds every app (the single-app shape
 * is the app `default`), in the file's order; `defaultApp` is the app that
 * serves unknown hosts, or null.
 */
export type Config = Omit<RawConfig, 'apps' | 'defaultApp'> & {
  readonly apps: readonly AppConfig[]
  readonly defaultApp: string | null
}
export type SmokeCheckConfig = RawConfig['smoke']['checks'][number]
export type StoreConfig = RawConfig['store']
export type MirrorConfig = RawConfig['mirror']
export type HealthCheckConfig = RawConfig['healthCheck']
