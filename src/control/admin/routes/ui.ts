import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { replyError } from '../errors.js'

/**
 * The dashboard's Content-Security-Policy: its own files only, no inline
 * script or style, no framing; `connect-src 'self'` keeps every fetch on
 * the admin origin, `form-action 'none'` keeps the token form from ever
 * being submitted into a URL.
 */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

interface Asset {
  body: Buffer
  type: string
  etag: string
}

/** Where `npm run build` puts the page: dist/ui (beside dist/control when built, under the package root from src). */
export function defaultUiDir(): string {
  const built = fileURLToPath(new URL('../../../ui/', import.meta.url))
  if (existsSync(join(built, 'index.html'))) return built
  return fileURLToPath(new URL('../../../../dist/ui/', import.meta.url))
}

/** Reads the built files once (a few tens of kB): no disk read per request, no path from the URL ever opened. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  if (!existsSync(dir)) return assets
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    if (type === undefined || !statSync(join(dir, name)).isFile()) continue
    const body = readFileSync(join(dir, name))
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` })
  }
  return assets
}

/**
 * `GET /ui/`: the dashboard, static files that need no token and hold no
 * data (the page reads everything from /v1 with the token the user gives).
 */
export function uiRoutes(dir: string = defaultUiDir()): FastifyPluginAsyncTypebox {
  const assets = loadAssets(dir)
  return async (app) => {
    app.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/', 301))
    app.get<{ Params: { '*': string } }>('/ui/*', { schema: { hide: true } }, async (req, reply) => {
      const name = req.params['*'] === '' ? 'index.html' : req.params['*']
      const asset = assets.get(name)
      if (asset === undefined) {
        const why =
          assets.size === 0
            ? `the dashboard is not built (no files in ${dir}): run npm run build`
            : `no file ${JSON.stringify(name)} in the dashboard`
        return replyError(reply, 'NOT_FOUND', why)
      }
      reply
        .header('content-security-policy', UI_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY')
        .header('cross-origin-opener-policy', 'same-origin')
        .header('cross-origin-resource-policy', 'same-origin')
        .header('cache-control', 'no-cache')
        .header('etag', asset.etag)
      if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send()
      return reply.type(asset.type).send(asset.body)
    })
  }
}
