import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRouterProcess, writeConfig, type RouterProcess } from '../e2e/router-process.js'
import { startColorServer, type ColorServer } from '../e2e/upstreams.js'

/** A real router process with two apps (shop, blog), a token and smoke checks on /health. */
export interface TwoApps {
  router: RouterProcess
  token: string
  shop: { blue: ColorServer; green: ColorServer }
  blog: { blue: ColorServer; green: ColorServer }
  /** admin call with the token (JSON body on writes) */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>
  close(): Promise<void>
}

export async function startTwoApps(): Promise<TwoApps> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-events-'))
  const token = 'events-test-token-0123456789'
  const mk = async (n: string) => ({ blue: await startColorServer(`${n}-blue`), green: await startColorServer(`${n}-green`) })
  const shop = await mk('shop')
  const blog = await mk('blog')
  const ups = (s: { blue: ColorServer; green: ColorServer }) => ({ blue: { targets: [s.blue.url] }, green: { targets: [s.green.url] } })
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token },
    store: { type: 'file', path: join(dir, 'state.json') },
    // no auto-revert: the tests send failing requests on purpose
    autoRevert: { enabled: false },
    smoke: { checks: [{ path: '/health', expectStatus: 200, timeoutMs: 1000 }] },
    apps: {
      shop: { hosts: ['shop.test', '*.shop.test'], upstreams: ups(shop) },
      blog: { hosts: ['blog.test'], upstreams: ups(blog) },
    },
    log: { level: 'info' },
    shutdownGraceSeconds: 2,
  }
  let router: RouterProcess
  try {
    router = await startRouterProcess(writeConfig(config, dir))
  } catch (e) {
    for (const s of [shop.blue, shop.green, blog.blue, blog.green]) await s.close()
    throw e
  }
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(router.adminUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    })
    const text = await res.text()
    let json: any = text
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: res.status, json }
  }
  return {
    router,
    token,
    shop,
    blog,
    call,
    async close() {
      await router.stop()
      for (const s of [shop.blue, shop.green, blog.blue, blog.green]) await s.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
