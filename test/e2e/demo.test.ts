import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { request } from '../helpers/request.js'
import { BIN } from './router-process.js'

t.test('switchyard demo serves, flips through the CLI, stops on SIGINT', async (t) => {
  const child = spawn(process.execPath, [BIN, 'demo', '--port', '0', '--preview-port', '0', '--admin-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const urls = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not print its URLs; stderr: ${err}`)), 20_000)
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const m = (name: string) => new RegExp(`^\\s+${name}\\s+(http://\\S+)`, 'm').exec(out)?.[1]
      const proxy = m('proxy')
      const preview = m('preview')
      const adminLine = m('admin')?.replace(/\/v1\/apps$/, '')
      if (proxy && preview && adminLine && out.includes('Try:')) {
        clearTimeout(timer)
        resolve({ proxy, preview, admin: adminLine })
      }
    })
    void exited.then((code) => reject(new Error(`demo exited ${code}: ${err}`)))
  })
  const get = async (url: string, host?: string) =>
    (await request(url, host === undefined ? {} : { headers: { host } })).json<{ app: string; color: string }>()
  t.match(await get(urls.proxy + '/'), { app: 'shop', color: 'blue' }, 'by IP: the default app, shop; live is blue')
  t.match(await get(urls.proxy + '/', 'blog.localhost'), { app: 'blog', color: 'blue' }, 'blog by its host')
  t.match(await get(urls.preview + '/', 'shop.localhost'), { app: 'shop', color: 'green' }, 'preview is the idle color')

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args, '--admin', urls.admin], { encoding: 'utf8', timeout: 20_000 })
  const apps = cli('apps')
  t.equal(apps.status, 0, apps.stderr)
  t.match(apps.stdout, /shop/)
  t.match(apps.stdout, /blog/)
  const bare = cli('flip')
  t.equal(bare.status, 1, 'two apps: a flip without --app is refused')
  t.match(bare.stdout + bare.stderr, /--app/)
  const status = cli('status', '--app', 'shop')
  t.equal(status.status, 0, status.stderr)
  t.match(status.stdout, /live: blue/)
  const flip = cli('flip', '--to', 'green', '--app', 'shop')
  t.equal(flip.status, 0, flip.stderr)
  t.equal((await get(urls.proxy + '/', 'shop.localhost')).color, 'green', 'the flip made green live for shop (smoke checks passed)')
  t.equal((await get(urls.proxy + '/', 'blog.localhost')).color, 'blue', 'blog untouched')
  const json = cli('status', '--json', '--app', 'shop')
  t.equal(JSON.parse(json.stdout).live, 'green')
  const again = spawnSync(process.execPath, [BIN, 'status', '--json', '--admin', urls.admin], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, SWITCHYARD_APP: 'blog' },
  })
  t.equal(JSON.parse(again.stdout).live, 'blue', 'SWITCHYARD_APP picks the app')

  child.kill('SIGINT')
  t.equal(await exited, 0, 'the demo stops cleanly')
})
