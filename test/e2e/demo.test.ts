import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
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
      const adminLine = m('admin')
      if (proxy && preview && adminLine && out.includes('Try:')) {
        clearTimeout(timer)
        resolve({ proxy, preview, admin: adminLine.replace(/\/v1\/state$/, '') })
      }
    })
    void exited.then((code) => reject(new Error(`demo exited ${code}: ${err}`)))
  })
  const get = async (url: string) => (await (await fetch(url)).json()) as { color: string }
  t.equal((await get(urls.proxy + '/')).color, 'blue', 'live is blue')
  t.equal((await get(urls.preview + '/')).color, 'green', 'preview is the idle color')

  const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--admin', urls.admin], { encoding: 'utf8', timeout: 20_000 })
  const status = cli('status')
  t.equal(status.status, 0, status.stderr)
  t.match(status.stdout, /live: blue/)
  const flip = cli('flip')
  t.equal(flip.status, 0, flip.stderr)
  t.equal((await get(urls.proxy + '/')).color, 'green', 'the flip made green live (smoke checks passed)')
  const json = cli('status', '--json')
  t.equal(JSON.parse(json.stdout).live, 'green')

  child.kill('SIGINT')
  t.equal(await exited, 0, 'the demo stops cleanly')
})
