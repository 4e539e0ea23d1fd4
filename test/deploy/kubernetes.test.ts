import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, parseAllDocuments } from 'yaml'
import { applyEnv, validateConfig, type Config } from '../../src/config/index.js'
import { Registry } from 'prom-client'
import { metricsRoutes } from '../../src/control/admin/routes/metrics.js'
import { adminFixture } from '../control/helpers.js'

// The Kubernetes examples are checked against the code: each ConfigMap's
// config passes the router's own validation, the container ports are the
// config's ports, the probes hit admin routes that answer without a token,
// and the Services, the PodDisruptionBudget and the ServiceMonitor select
// what exists.

const base = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url))
const TOKEN = 'k8s-example-token-0123456789'

type Obj = Record<string, any>

/** Every document of every .yaml file in `dir` (not recursive). */
function load(dir: string): Obj[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
        if (d.errors.length > 0) throw new Error(`${f}: ${d.errors[0]?.message}`)
        return d.toJS() as Obj
      }),
    )
    .filter((o) => o !== null)
}

const only = (objs: Obj[], kind: string): Obj => {
  const found = objs.filter((o) => o.kind === kind)
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`)
  return found[0]
}
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v)

const sets = [
  { name: 'deploy/kubernetes (one router, file store)', dir: base, store: 'file', replicas: 1 },
  { name: 'deploy/kubernetes/redis-fleet', dir: join(base, 'redis-fleet'), store: 'redis', replicas: 3 },
]

for (const set of sets) {
  t.test(set.name, async (t) => {
    const objs = load(set.dir)
    const cm = only(objs, 'ConfigMap')
    const deployments = objs.filter((o) => o.kind === 'Deployment' && o.metadata.name === 'switchyard')
    t.equal(deployments.length, 1, 'one switchyard Deployment')
    const dep = deployments[0]
    const pod = dep.spec.template.spec
    const container = pod.containers.find((c: Obj) => c.name === 'switchyard')
    t.ok(container, 'a switchyard container')

    // The config the pod reads, validated as the router would (the token comes from the Secret)
    const mount = container.volumeMounts.find(
      (m: Obj) => pod.volumes.find((v: Obj) => v.name === m.name)?.configMap?.name === cm.metadata.name,
    )
    t.ok(mount, 'the ConfigMap is mounted')
    const configPath = container.args[container.args.indexOf('--config') + 1]
    t.equal(configPath, `${mount.mountPath}/config.yaml`, 'the --config path is the mounted ConfigMap key')
    t.ok(cm.data['config.yaml'], 'the ConfigMap has config.yaml')
    const tokenEnv = container.env.find((e: Obj) => e.name === 'SWITCHYARD_ADMIN_TOKEN')
    t.ok(tokenEnv?.valueFrom?.secretKeyRef, 'the admin token comes from a Secret')
    const raw = parse(cm.data['config.yaml']) as Record<string, unknown>
    applyEnv(raw, { SWITCHYARD_ADMIN_TOKEN: TOKEN })
    let config: Config | undefined
    t.doesNotThrow(() => (config = validateConfig(raw, mount.mountPath)), 'validateConfig accepts the ConfigMap')
    if (config === undefined) return
    t.equal(config.store.type, set.store, `store.type ${set.store}`)
    t.equal(dep.spec.replicas, set.replicas, `replicas: ${set.replicas}`)

    // Ports: the container's named ports are the config's listen/admin ports
    const port = (name: string) => container.ports.find((p: Obj) => p.name === name)?.containerPort
    t.equal(port('http'), config.listen.port, 'containerPort http = listen.port')
    t.equal(port('admin'), config.admin.port, 'containerPort admin = admin.port')
    if (config.preview) t.equal(port('preview'), config.preview.port, 'containerPort preview = preview.port')

    // Probes: liveness AND readiness, on /healthz (never /readyz), on the admin port
    const admin = await adminFixture(t, { token: TOKEN, app: { plugins: [metricsRoutes({ registry: new Registry() })] } })
    for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const probe = container[kind]
      if (kind !== 'startupProbe') t.ok(probe, `has a ${kind}`)
      if (probe === undefined) continue
      t.equal(probe.httpGet?.path, '/healthz', `${kind} on /healthz, not /readyz (README, "When Redis is down")`)
      t.equal(probe.httpGet?.port, 'admin', `${kind} on the admin port`)
      const res = await admin.app.inject({ method: 'GET', url: probe.httpGet.path })
      t.equal(res.statusCode, 200, `${kind}: GET ${probe.httpGet.path} is an admin route that answers without the token`)
    }

    // Shutdown: the grace period covers the preStop pause and the router's drain
    const preStop = Number(container.lifecycle?.preStop?.exec?.command?.at(-1) ?? 0)
    t.ok(
      pod.terminationGracePeriodSeconds > preStop + config.shutdownGraceSeconds,
      `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) > preStop (${preStop}) + shutdownGraceSeconds (${config.shutdownGraceSeconds})`,
    )

    // Read-only root: everything the router writes is on a mounted volume
    t.equal(container.securityContext.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem')
    t.equal(pod.securityContext.runAsNonRoot, true, 'runAsNonRoot')
    const written = [config.store.type === 'file' ? config.store.path : config.store.cachePath].filter(
      (p): p is string => typeof p === 'string',
    )
    for (const p of written) {
      t.ok(
        container.volumeMounts.some((m: Obj) => !m.readOnly && p.startsWith(`${m.mountPath}/`)),
        `${p} is on a writable volume`,
      )
    }
    for (const m of container.volumeMounts)
      t.ok(
        pod.volumes.some((v: Obj) => v.name === m.name),
        `volume ${m.name} exists`,
      )

    // Service → container ports by name; PDB and Service select the pods
    const labels = dep.spec.template.metadata.labels
    t.ok(matches(dep.spec.selector.matchLabels, labels), 'the Deployment selects its pods')
    const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'switchyard')!
    t.ok(matches(svc.spec.selector, labels), 'the Service selects the pods')
    for (const p of svc.spec.ports) t.ok(port(p.targetPort), `Service port ${p.name} targets container port ${p.targetPort}`)
    const pdb = only(objs, 'PodDisruptionBudget')
    t.ok(matches(pdb.spec.selector.matchLabels, labels), 'the PodDisruptionBudget selects the pods')
    if (pdb.spec.minAvailable !== undefined) t.ok(pdb.spec.minAvailable < set.replicas, 'minAvailable leaves room for one eviction')

    // The ServiceMonitor (one, at the top) scrapes an admin route through a Service port
    const sm = only(load(base), 'ServiceMonitor')
    t.equal(sm.apiVersion, 'monitoring.coreos.com/v1')
    t.ok(matches(sm.spec.selector.matchLabels, svc.metadata.labels), 'the ServiceMonitor selects the Service')
    for (const ep of sm.spec.endpoints) {
      const sp = svc.spec.ports.find((p: Obj) => p.name === ep.port)
      t.equal(sp?.targetPort, 'admin', `ServiceMonitor port ${ep.port} is the admin port`)
      const res = await admin.app.inject({ method: 'GET', url: ep.path, headers: { authorization: `Bearer ${TOKEN}` } })
      t.equal(res.statusCode, 200, `GET ${ep.path} is an admin route`)
      if (!config.admin.metricsPublic) t.ok(ep.authorization?.credentials?.name, 'the scrape carries the admin token')
    }

    if (config.store.type === 'redis') {
      const url = new URL(config.store.url)
      const redis = objs.find((o) => o.kind === 'Service' && o.metadata.name === url.hostname)
      t.ok(redis, `a Service named ${url.hostname} (store.url)`)
      t.ok(
        redis?.spec.ports.some((p: Obj) => p.port === Number(url.port || 6379)),
        `it serves port ${url.port || 6379}`,
      )
    }
  })
}
