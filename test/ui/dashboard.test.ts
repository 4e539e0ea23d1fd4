import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { request } from '../helpers/request.js'
import { startTwoApps, type TwoApps } from '../events/two-apps.js'

/**
 * The dashboard in real headless Chromium against a real router process
 * with two apps and a token (build first: the page is dist/ui). Saves the
 * README's screenshots under docs/.
 */

const CHROMIUM = '/usr/bin/chromium'
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const DOCS = new URL('../../docs/', import.meta.url).pathname

const missing = !existsSync(CHROMIUM)
// In CI a missing browser is a failure (.ci/run installs it); on a developer machine, a skip that says why.
if (missing && process.env.CI === 'true') t.fail(`${CHROMIUM} is missing: .ci/run installs the Debian package chromium`)
t.test(
  'the dashboard in Chromium',
  { skip: missing ? `${CHROMIUM} is missing (apt-get install -y chromium): browser tests skipped` : false },
  async (t) => {
    const r = await startTwoApps()
    t.teardown(() => r.close())
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 })
    t.teardown(() => browser.close())
    await run(t, r, browser)
  },
)

async function run(t: Test, r: TwoApps, browser: Browser): Promise<void> {
  const origin = r.router.adminUrl
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  const requests: string[] = []
  const problems: string[] = []
  page.on('request', (req) => requests.push(req.url()))
  page.on('console', (m) => {
    // Refusals the page shows on purpose (401 token, 404 shadow, 409 smoke) log "Failed to load resource"; anything else (a CSP violation) is a problem.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(e.message))
  page.setDefaultTimeout(10_000)

  await t.test('the static page needs no token and is served under a strict CSP', async (t) => {
    const res = await request(`${origin}/ui/`)
    t.equal(res.status, 200)
    const csp = String(res.headers['content-security-policy'])
    t.match(csp, /default-src 'self'/)
    t.match(csp, /script-src 'self'(;|$)/, 'no inline script')
    t.notMatch(res.body.toString(), /<script>[^<]/, 'no inline script in the page')
    t.equal((await request(`${origin}/ui`)).status, 301)
    const escape = await request(`${origin}/ui/../v1/apps`)
    t.not(escape.status, 200, 'no way from /ui/ to /v1 without the token')
    t.equal((await request(`${origin}/v1/apps`)).status, 401)
  })

  await t.test('asks for the token, keeps it in sessionStorage, shows every app', async (t) => {
    await page.goto(`${origin}/ui/`)
    const input = page.locator('input[name="token"]')
    await input.waitFor()
    await input.fill('wrong-token')
    await input.press('Enter')
    await page.getByText('That token was not accepted').waitFor()
    await input.fill(r.token)
    await input.press('Enter')
    await page.locator('[data-app="shop"]').waitFor()
    await page.locator('[data-app="blog"]').waitFor()
    t.equal(await page.locator('[data-app]').count(), 2)
    t.equal(await page.locator('[data-app="shop"] [data-field="live"]').textContent(), 'blue')
    t.match(await page.locator('[data-app="shop"] [data-field="canary"]').textContent(), /^0%/)
    t.equal(await page.evaluate(() => sessionStorage.getItem('switchyard.token')), r.token)
    t.equal((await context.cookies()).length, 0, 'no cookie')
    await page.locator('[data-app="shop"] [data-field="targets-blue"]', { hasText: '1/1 up' }).waitFor()
    await page.locator('.status.up').waitFor()
  })

  await t.test('flip from the page, with confirmation', async (t) => {
    await page.click('[data-app="blog"] [data-action="flip"]')
    const dialog = page.locator('dialog.confirm')
    await dialog.waitFor()
    t.match(await dialog.textContent(), /live\s*blue\s*→\s*green/, 'shows from → to')
    await page.click('[data-action="confirm"]')
    await page.locator('[data-app="blog"] [data-field="live"]', { hasText: 'green' }).waitFor()
    await dialog.waitFor({ state: 'detached' })
    const state = await r.call('GET', '/v1/apps/blog/state')
    t.equal(state.json.live, 'green')
    await page.locator('[data-app="blog"] [data-field="history"] li', { hasText: 'flip blue → green by dashboard' }).waitFor()
  })

  await t.test('a change made through the API shows within 2 s, without a reload', async (t) => {
    const navigations = requests.filter((u) => u.endsWith('/ui/')).length
    const start = Date.now()
    const w = await r.call('PUT', '/v1/apps/shop/canary', { percent: 12.5, force: true })
    t.equal(w.status, 200, JSON.stringify(w.json))
    await page.locator('[data-app="shop"] [data-field="canary"]', { hasText: '12.5%' }).waitFor({ timeout: 2000 })
    t.ok(Date.now() - start < 2000, `shown after ${Date.now() - start} ms`)
    t.equal(requests.filter((u) => u.endsWith('/ui/')).length, navigations, 'no reload')
  })

  await t.test('a refused flip is explained, with the checks, and forced', async (t) => {
    r.shop.green.healthStatus = 500
    await page.click('[data-app="shop"] [data-action="flip"]')
    await page.click('[data-action="confirm"]')
    const refusal = page.locator('dialog.confirm .refusal')
    await refusal.waitFor()
    const text = (await refusal.textContent()) ?? ''
    t.match(text, /SMOKE_FAILED/)
    t.match(text, /smoke checks failed on green/)
    t.match(await page.locator('[data-field="failed-checks"] li').first().textContent(), /\/health.*status 500|\/health.*500/)
    t.equal((await r.call('GET', '/v1/apps/shop/state')).json.live, 'blue', 'nothing changed')
    await page.click('[data-action="force"]')
    await page.locator('[data-app="shop"] [data-field="live"]', { hasText: 'green' }).waitFor()
    const h = await r.call('GET', '/v1/apps/shop/history?limit=1')
    t.match(h.json.entries[0], { action: 'flip', to: 'green', actor: 'dashboard' })
    r.shop.green.healthStatus = 200
  })

  await t.test('screenshots (light and dark, laptop and phone) with live charts', async (t) => {
    // Traffic for the charts: both apps, a few failures on blog.
    let stop = false
    const load = (async () => {
      let i = 0
      while (!stop) {
        r.blog.green.status = i % 40 === 0 ? 500 : 200
        await Promise.all([
          request(r.router.proxyUrl + '/', { headers: { host: 'shop.test' } }),
          request(r.router.proxyUrl + '/', { headers: { host: 'blog.test', 'x-i': String(i++) } }),
        ])
      }
      r.blog.green.status = 200
    })()
    t.teardown(() => {
      stop = true
      return load
    })
    await page.waitForTimeout(15_000)
    await snap(page, 'dashboard-1280.png')
    await page.emulateMedia({ colorScheme: 'dark' })
    await snap(page, 'dashboard-1280-dark.png')
    await page.setViewportSize({ width: 390, height: 844 })
    await snap(page, 'dashboard-390-dark.png')
    await page.emulateMedia({ colorScheme: 'light' })
    await snap(page, 'dashboard-390.png')
    stop = true
    await load
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    t.ok(width <= 390, `no horizontal scroll on a phone (${width} px)`)
    t.pass('saved under docs/')
  })

  await t.test('every request the page made stayed on the admin origin', async (t) => {
    t.ok(requests.length > 5, `${requests.length} requests`)
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`))
    t.same(foreign, [], 'no request leaves the admin origin')
    t.same(problems, [], 'no console error (CSP violations included)')
  })
}

async function snap(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(1200)
  await page.screenshot({ path: DOCS + name })
}
