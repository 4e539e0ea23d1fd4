import { api, appPath, ApiError, onUnauthorized, setToken, token } from './api.js'
import { AppCard } from './card.js'
import { h, setChildren, setText } from './dom.js'
import { connectEvents } from './events.js'
import type { AppSummary, Health, HistoryEntry, Instance, Progress, Shadow, State, StatsEvent } from './types.js'

/**
 * The dashboard: every app's card, live through GET /v1/events; targets,
 * instances, shadow and rollout progress polled every 5 s while the page
 * is visible. Everything it shows comes from /v1 with the user's token.
 */

const POLL_MS = 5000
const main = document.getElementById('apps') as HTMLElement
const status = document.getElementById('status') as HTMLElement
const signOut = document.getElementById('sign-out') as HTMLButtonElement
const cards = new Map<string, AppCard>()
let stopEvents: (() => void) | null = null
let pollTimer: number | null = null
let booting = false

function setStatus(text: string, cls: string): void {
  setText(status, text)
  status.className = `status ${cls}`
}

function showTokenForm(message: string | null): void {
  stopEvents?.()
  stopEvents = null
  if (pollTimer !== null) clearInterval(pollTimer)
  pollTimer = null
  cards.clear()
  setStatus('signed out', 'down')
  signOut.hidden = true
  const input = h('input', {
    name: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    placeholder: 'admin token',
    'aria-label': 'admin token',
  })
  const form = h(
    'form',
    { class: 'token-form', method: 'post', action: '#' },
    h('h2', null, 'Admin token'),
    h('p', null, 'This router asks for its admin token. It is kept in this tab only (sessionStorage) and sent as a bearer header.'),
    message === null ? null : h('p', { class: 'refusal', role: 'alert' }, message),
    h('div', { class: 'set' }, input, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    setToken(input.value.trim())
    void boot()
  })
  setChildren(main, form)
  input.focus()
}

onUnauthorized((e) => showTokenForm(token() === null ? null : `That token was not accepted (${e.message}).`))

async function boot(): Promise<void> {
  if (booting) return
  booting = true
  try {
    setStatus('loading…', 'pending')
    const { apps } = await api<{ apps: AppSummary[] }>('GET', '/v1/apps')
    const states = await Promise.all(apps.map((a) => api<State>('GET', appPath(a.name, 'state'))))
    cards.clear()
    const list = apps.map((a, i) => {
      const card = new AppCard(a.name, a.hosts, states[i])
      cards.set(a.name, card)
      return card.el
    })
    setChildren(main, ...(list.length === 0 ? [h('p', null, 'No apps are configured.')] : list))
    signOut.hidden = token() === null
    await Promise.all(
      apps.map(async (a) => {
        const { entries } = await api<{ entries: HistoryEntry[] }>('GET', `${appPath(a.name, 'history')}?limit=6`)
        cards.get(a.name)?.setHistory(entries)
      }),
    )
    void poll()
    if (pollTimer === null) pollTimer = window.setInterval(() => void poll(), POLL_MS)
    stopEvents?.()
    stopEvents = connectEvents({
      event: onEvent,
      status: (up) => setStatus(up ? 'live' : 'reconnecting…', up ? 'up' : 'down'),
      unauthorized: () => showTokenForm('The token is no longer accepted.'),
    })
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return
    setStatus('error', 'down')
    setChildren(
      main,
      h('p', { class: 'refusal', role: 'alert' }, `Could not load the apps: ${(e as Error).message}`),
      h('button', { type: 'button', onclick: () => void boot() }, 'Retry'),
    )
  } finally {
    booting = false
  }
}

function onEvent(name: string, data: unknown): void {
  const d = data as { app: string }
  const card = cards.get(d.app)
  if (card === undefined) {
    // An app added by a reload: start over with the new list.
    if (name === 'state') void boot()
    return
  }
  if (name === 'state') {
    const before = card.state.version
    card.setState((data as { state: State }).state)
    if (card.state.version !== before) void refreshInstances()
  } else if (name === 'history') {
    card.addHistory((data as { entry: HistoryEntry }).entry)
  } else if (name === 'stats') {
    card.addStats((data as StatsEvent).colors)
  }
}

const optional = <T>(p: Promise<T>): Promise<T | null> =>
  p.catch((e: unknown) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e)))

async function refreshInstances(): Promise<void> {
  try {
    const { instances } = await api<{ instances: Instance[] }>('GET', '/v1/instances')
    for (const c of cards.values()) c.setInstances(instances)
  } catch {
    // shown as stale; the next poll tries again
  }
}

async function poll(): Promise<void> {
  if (document.hidden) return
  void refreshInstances()
  await Promise.all(
    [...cards.values()].map(async (c) => {
      try {
        const [health, shadow, rollout] = await Promise.all([
          api<Health>('GET', appPath(c.name, 'health')),
          c.wantsShadow ? optional(api<Shadow>('GET', appPath(c.name, 'shadow'))) : Promise.resolve(null),
          c.state.rollout !== null ? api<{ progress: Progress | null }>('GET', appPath(c.name, 'rollout')) : Promise.resolve(null),
        ])
        c.setHealth(health)
        c.setShadow(shadow)
        c.setProgress(rollout?.progress ?? null)
        c.renderTimes()
      } catch {
        c.setHealth(null)
      }
    }),
  )
}

signOut.addEventListener('click', () => {
  setToken(null)
  showTokenForm(null)
})
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void poll()
})
void boot()
