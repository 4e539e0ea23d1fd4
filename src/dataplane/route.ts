import type { IncomingHttpHeaders } from 'node:http'
import { ID_COOKIE, decide, fillFacts, type Decision, type RequestFacts, type RoutingTable } from '../routing/index.js'

/** Attributes of the `switchyard-id` cookie: one year, whole site, not for scripts. */
export const ID_COOKIE_ATTRIBUTES = '; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax'

/**
 * Turns a request into routing facts and a decision. One instance per data
 * plane: `route` is synchronous and `decide` keeps no reference to the facts,
 * so one scratch facts object is reused instead of allocating one per request.
 */
export class RequestRouter {
  readonly #newId: () => string
  readonly #facts: RequestFacts = { preview: false, headers: {}, cookies: null, key: undefined }
  /** after `route`: the Set-Cookie value to add, when an id was issued */
  setCookie: string | null = null

  constructor(newId: () => string) {
    this.#newId = newId
  }

  /**
   * Decides the color of a request against `table` (read once by the caller).
   * Cookies are parsed only when the table reads them; when a rule needs a
   * stickiness key and the request has none, a new id becomes the key and
   * `setCookie` holds the cookie to issue.
   */
  route(table: RoutingTable, headers: IncomingHttpHeaders, preview: boolean): Decision {
    const facts = fillFacts(this.#facts, table, headers, preview)
    let key = facts.key
    this.setCookie = null
    // The preview listener ignores keys; issuing ids there would be noise.
    if (key === undefined && table.needsKey && !preview) {
      key = this.#newId()
      this.setCookie = ID_COOKIE + '=' + key + ID_COOKIE_ATTRIBUTES
    }
    facts.key = key
    const d = decide(table, facts)
    // Drop references to the request so the scratch object holds nothing alive.
    facts.headers = EMPTY
    facts.cookies = null
    facts.key = undefined
    return d
  }
}

const EMPTY: IncomingHttpHeaders = Object.freeze({})
