import { parseCookies } from './cookies.js'
import { stickinessKey } from './decide.js'
import type { RequestFacts, RoutingTable } from './types.js'

/**
 * Request → routing facts: the one path from a request's headers to what
 * `decide` reads, shared by the data plane and `POST /v1/explain`, so a dry
 * run answers what a real request gets (same cookie parsing: quotes removed,
 * `%xx` decoded, first occurrence wins).
 *
 * Fills `facts` in place (the data plane reuses one object per process).
 * Cookies are parsed only when the table reads them; `cookies`, when given,
 * are used as they are instead (explain passes what it was told, or the
 * parsed header, so it can name the key even when no rule reads it yet). The key is the stickiness
 * header, else cookie, else `switchyard-id`; undefined when there is none
 * (the data plane may then issue one).
 */
export function fillFacts(
  facts: RequestFacts,
  table: RoutingTable,
  headers: RequestFacts['headers'],
  preview: boolean,
  cookies?: Readonly<Record<string, string>>,
): RequestFacts {
  facts.preview = preview
  facts.headers = headers
  const header = headers.cookie
  facts.cookies =
    cookies !== undefined ? cookies : table.needsCookies ? parseCookies(typeof header === 'string' ? header : undefined) : null
  facts.key = stickinessKey(table, headers, facts.cookies)
  return facts
}
