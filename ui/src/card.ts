import { api, appPath, ApiError } from './api.js'
import { confirmAction, type Change } from './confirm.js'
import { h, setChildren, setText } from './dom.js'
import { ago, describeEntry, ms, pct, rate, rps } from './format.js'
import { POINTS, Sparkline } from './spark.js'
import type { Color, ColorStats, Health, HistoryEntry, Instance, Progress, Shadow, State } from './types.js'

const COLORS: readonly Color[] = ['blue', 'green']
const other = (c: Color): Color => (c === 'blue' ? 'green' : 'blue')

interface ColorView {
  role: HTMLElement
  targets: HTMLElement
  values: Record<'rps' | 'errorRate' | 'p99', HTMLElement>
  charts: Record<'rps' | 'errorRate' | 'p99', Sparkline>
  series: Record<'rps' | 'errorRate' | 'p99', (number | null)[]>
}

/**
 * One app's card. Built once; events and polls only set text. Hooks for
 * automation (kept stable): `[data-app]`, `[data-field="live"|"canary"]`,
 * `[data-action="flip"|"rollback"]`.
 */
export class AppCard {
  readonly el: HTMLElement
  readonly name: string
  state: State
  #history: HistoryEntry[] = []
  #shadowAvailable: boolean | null = null
  #mirrorAvailable = true
  readonly #f: Record<string, HTMLElement> = {}
  readonly #colors = {} as Record<Color, ColorView>
  readonly #canaryInput: HTMLInputElement
  readonly #mirrorInput: HTMLInputElement
  readonly #mirrorButton: HTMLButtonElement
  readonly #rolloutBox: HTMLElement
  readonly #progress: HTMLProgressElement
  readonly #flip: HTMLButtonElement

  constructor(name: string, hosts: string[], state: State) {
    this.name = name
    this.state = state
    const field = (key: string, cls = 'value'): HTMLElement => (this.#f[key] = h('span', { class: cls, 'data-field': key }))
    const fact = (label: string, key: string): HTMLElement => h('div', { class: 'fact' }, h('span', { class: 'label' }, label), field(key))

    this.#flip = h('button', { type: 'button', class: 'primary', 'data-action': 'flip', onclick: () => this.#confirmFlip() }, 'Flip')
    const rollbackBtn = h('button', { type: 'button', 'data-action': 'rollback', onclick: () => this.#confirmRollback() }, 'Roll back')
    this.#canaryInput = h('input', {
      type: 'number',
      min: 0,
      max: 100,
      step: 0.01,
      name: 'canary',
      'aria-label': `canary percent of ${name}`,
      inputmode: 'decimal',
    })
    this.#mirrorInput = h('input', {
      type: 'number',
      min: 0,
      max: 100,
      step: 0.01,
      name: 'mirror',
      'aria-label': `mirror percent of ${name}`,
      inputmode: 'decimal',
    })
    this.#mirrorButton = h('button', { type: 'button', 'data-action': 'mirror', onclick: () => this.#confirmMirror() }, 'Set mirror')
    this.#progress = h('progress', { max: 1, value: 0 })
    this.#rolloutBox = h(
      'div',
      { class: 'rollout', hidden: true },
      h('div', { class: 'rollout-head' }, h('span', { class: 'label' }, 'Rollout'), field('rollout', 'value')),
      this.#progress,
      h(
        'div',
        { class: 'buttons' },
        ...(['pause', 'resume', 'abort', 'promote'] as const).map((op) =>
          h(
            'button',
            { type: 'button', 'data-action': `rollout-${op}`, onclick: () => this.#confirmRollout(op) },
            op[0].toUpperCase() + op.slice(1),
          ),
        ),
      ),
    )

    const colorRows = COLORS.map((c) => {
      const values = {
        rps: h('span', { class: 'num' }, '—'),
        errorRate: h('span', { class: 'num' }, '—'),
        p99: h('span', { class: 'num' }, '—'),
      }
      const charts = {
        rps: new Sparkline(`${c} requests per second`, 1),
        errorRate: new Sparkline(`${c} error rate`, 0.01),
        p99: new Sparkline(`${c} p99 latency`, 1),
      }
      const view: ColorView = {
        role: h('span', { class: 'role' }),
        targets: h('span', { class: 'targets', 'data-field': `targets-${c}` }, '—'),
        values,
        charts,
        series: { rps: [], errorRate: [], p99: [] },
      }
      this.#colors[c] = view
      const metric = (label: string, k: 'rps' | 'errorRate' | 'p99'): HTMLElement =>
        h('div', { class: 'metric' }, h('span', { class: 'label' }, label), values[k], charts[k].el)
      return h(
        'div',
        { class: `color color-${c}`, 'data-color': c },
        h('div', { class: 'color-head' }, h('span', { class: `swatch swatch-${c}` }), h('strong', null, c), view.role, view.targets),
        h('div', { class: 'metrics' }, metric('req/s', 'rps'), metric('errors', 'errorRate'), metric('p99', 'p99')),
      )
    })

    this.el = h(
      'section',
      { class: 'app', 'data-app': name, 'aria-label': `app ${name}` },
      h(
        'header',
        { class: 'app-head' },
        h('h2', null, name),
        field('version', 'version'),
        h('span', { class: 'hosts', 'data-field': 'hosts' }, hosts.join(', ') || '(every host)'),
      ),
      h(
        'div',
        { class: 'facts' },
        fact('Live', 'live'),
        fact('Canary', 'canary'),
        fact('Mirror', 'mirror'),
        fact('Shadow diff', 'shadow'),
        fact('Instances', 'instances'),
      ),
      this.#rolloutBox,
      h('div', { class: 'colors' }, ...colorRows, h('p', { class: 'hint' }, 'last 3 minutes, this instance')),
      h(
        'div',
        { class: 'actions' },
        h('div', { class: 'buttons' }, this.#flip, rollbackBtn),
        h(
          'div',
          { class: 'set' },
          h('span', { class: 'unit' }, this.#canaryInput, '%'),
          h('button', { type: 'button', 'data-action': 'canary', onclick: () => this.#confirmCanary() }, 'Set canary'),
        ),
        h('div', { class: 'set' }, h('span', { class: 'unit' }, this.#mirrorInput, '%'), this.#mirrorButton),
      ),
      h('div', { class: 'history' }, h('h3', null, 'Last changes'), (this.#f.history = h('ol', { 'data-field': 'history' }))),
    )
    this.setState(state)
  }

  setState(s: State): void {
    this.state = s
    const live = this.#f.live
    setText(live, s.live)
    live.className = `value live color-text-${s.live}`
    setText(this.#f.canary, `${pct(s.canary)}${s.canary > 0 ? ` to ${other(s.live)}` : ''}`)
    setText(this.#f.version, `v${s.version}`)
    const mirror = s.mirror
    setText(this.#f.mirror, mirror === undefined ? '—' : pct(mirror))
    this.#mirrorInput.disabled = this.#mirrorButton.disabled = mirror === undefined || !this.#mirrorAvailable
    this.#mirrorButton.title = this.#mirrorButton.disabled ? 'mirroring is not available on this router' : ''
    if (document.activeElement !== this.#canaryInput) this.#canaryInput.value = String(s.canary)
    if (document.activeElement !== this.#mirrorInput && mirror !== undefined) this.#mirrorInput.value = String(mirror)
    setText(this.#flip, `Flip to ${other(s.live)}`)
    for (const c of COLORS) setText(this.#colors[c].role, c === s.live ? 'live' : s.canary > 0 ? `idle · canary ${pct(s.canary)}` : 'idle')
    const r = s.rollout
    this.#rolloutBox.hidden = r === null
    if (r !== null) {
      const step = r.steps[r.stepIndex]
      setText(this.#f.rollout, `${r.color} · step ${r.stepIndex + 1}/${r.steps.length} · ${pct(step?.percent ?? s.canary)} · ${r.status}`)
    }
  }

  setProgress(p: Progress | null): void {
    const r = this.state.rollout
    if (r === null || p === null) return
    this.#progress.max = Math.max(1, p.holdSeconds)
    this.#progress.value = Math.min(p.heldSeconds, p.holdSeconds)
    setText(
      this.#f.rollout,
      `${r.color} · step ${p.step}/${p.steps} · ${pct(p.percent)} · held ${p.heldSeconds}/${p.holdSeconds} s · ${p.waitingFor ?? r.status}`,
    )
  }

  setHistory(entries: HistoryEntry[]): void {
    this.#history = entries.slice(0, 6)
    this.#renderHistory()
  }

  addHistory(e: HistoryEntry): void {
    if (this.#history.some((x) => x.version === e.version)) return
    this.#history = [e, ...this.#history].sort((a, b) => b.version - a.version).slice(0, 6)
    this.#renderHistory()
  }

  renderTimes(): void {
    this.#renderHistory()
  }

  #renderHistory(): void {
    const now = Date.now()
    setChildren(
      this.#f.history,
      ...(this.#history.length === 0
        ? [h('li', { class: 'empty' }, 'no changes yet')]
        : this.#history.map((e) =>
            h(
              'li',
              null,
              h('span', { class: 'when', title: e.at }, ago(e.at, now)),
              h('span', { class: 'ver' }, `v${e.version}`),
              ' ',
              describeEntry(e),
            ),
          )),
    )
  }

  setHealth(hl: Health | null): void {
    for (const c of COLORS) {
      const t = hl?.colors[c].targets
      const el = this.#colors[c].targets
      if (t === undefined) {
        setText(el, '—')
        continue
      }
      const up = t.filter((x) => x.up).length
      setText(el, `${up}/${t.length} up`)
      el.className = `targets ${up === t.length ? 'ok' : up === 0 ? 'bad' : 'warn'}`
      el.title = t.map((x) => `${x.url} ${x.up ? 'up' : 'DOWN'}`).join('\n')
    }
  }

  get wantsShadow(): boolean {
    return this.#shadowAvailable !== false
  }

  setShadow(s: Shadow | null): void {
    this.#shadowAvailable = s !== null
    setText(this.#f.shadow, s === null ? '—' : s.samples === 0 ? 'no samples' : `${rate(s.mismatchRate)} of ${s.samples}`)
  }

  setInstances(list: Instance[]): void {
    const v = this.state.version
    const applied = list.filter((i) => (i.apps?.[this.name] ?? i.appliedVersion) >= v).length
    const el = this.#f.instances
    setText(el, list.length === 0 ? '—' : applied === list.length ? `${applied}/${list.length} ✓` : `${applied}/${list.length} on v${v}`)
    el.className = `value ${applied === list.length ? 'ok' : 'warn'}`
    el.title = applied === list.length ? `every instance applied v${v}` : `${list.length - applied} instance(s) have not applied v${v} yet`
  }

  addStats(colors: Record<Color, ColorStats>): void {
    for (const c of COLORS) {
      const v = this.#colors[c]
      const s = colors[c]
      const push = (k: 'rps' | 'errorRate' | 'p99', x: number | null): void => {
        const arr = v.series[k]
        arr.push(x)
        if (arr.length > POINTS) arr.shift()
        v.charts[k].update(arr)
      }
      push('rps', s.rps)
      push('errorRate', s.rps > 0 ? s.errorRate : null)
      push('p99', s.p99)
      setText(v.values.rps, rps(s.rps))
      setText(v.values.errorRate, s.rps > 0 ? rate(s.errorRate) : '—')
      setText(v.values.p99, ms(s.p99))
    }
  }

  // ---- actions: each asks first, showing from → to, and sends If-Match so it changes exactly what was shown

  #write(method: 'POST' | 'PUT', rest: string, body: Record<string, unknown>): (force: boolean, reason: string | null) => Promise<void> {
    const version = this.state.version
    return async (force, reason) => {
      const b: Record<string, unknown> = { ...body }
      if (force) b.force = true
      if (reason !== null) b.reason = reason
      await api(method, appPath(this.name, rest), b, { 'if-match': `"${version}"` })
    }
  }

  #confirmFlip(): void {
    const s = this.state
    const to = other(s.live)
    const changes: Change[] = [{ what: 'live', from: s.live, to }]
    if (s.canary > 0) changes.push({ what: 'canary', from: pct(s.canary), to: '0%' })
    if (s.rollout !== null) changes.push({ what: 'rollout', from: s.rollout.status, to: 'ended' })
    confirmAction({ title: `Flip ${this.name} to ${to}?`, changes, forceable: true, run: this.#write('POST', 'flip', { to }) })
  }

  #confirmRollback(): void {
    const s = this.state
    const changes: Change[] = [{ what: 'live', from: s.live, to: s.previous ?? '(no previous color)' }]
    confirmAction({ title: `Roll ${this.name} back?`, changes, run: this.#write('POST', 'rollback', {}) })
  }

  #confirmCanary(): void {
    const percent = Number(this.#canaryInput.value)
    if (this.#canaryInput.value === '' || !Number.isFinite(percent)) return
    const s = this.state
    confirmAction({
      title: `Set ${this.name}'s canary?`,
      changes: [{ what: `canary (to ${other(s.live)})`, from: pct(s.canary), to: pct(percent) }],
      forceable: true,
      run: this.#write('PUT', 'canary', { percent }),
    })
  }

  #confirmMirror(): void {
    const percent = Number(this.#mirrorInput.value)
    if (this.#mirrorInput.value === '' || !Number.isFinite(percent)) return
    const from = this.state.mirror ?? 0
    const run = this.#write('PUT', 'mirror', { percent })
    confirmAction({
      title: `Set ${this.name}'s mirror?`,
      changes: [{ what: `mirror (copies to ${other(this.state.live)})`, from: pct(from), to: pct(percent) }],
      run: async (force, reason) => {
        try {
          await run(force, reason)
        } catch (e) {
          if (e instanceof ApiError && e.status === 404 && e.code === 'NOT_FOUND') {
            this.#mirrorAvailable = false
            this.setState(this.state)
          }
          throw e
        }
      },
    })
  }

  #confirmRollout(op: 'pause' | 'resume' | 'abort' | 'promote'): void {
    const s = this.state
    const r = s.rollout
    const status = r?.status ?? 'none'
    const changes: Change[] =
      op === 'pause'
        ? [{ what: 'rollout', from: status, to: 'paused' }]
        : op === 'resume'
          ? [{ what: 'rollout', from: status, to: 'running' }]
          : op === 'abort'
            ? [
                { what: 'rollout', from: status, to: 'aborted' },
                { what: 'canary', from: pct(s.canary), to: '0%' },
              ]
            : [
                { what: 'live', from: s.live, to: r?.color ?? other(s.live) },
                { what: 'canary', from: pct(s.canary), to: '0%' },
              ]
    confirmAction({
      title: `${op[0].toUpperCase()}${op.slice(1)} ${this.name}'s rollout?`,
      changes,
      forceable: op === 'promote',
      run: this.#write('POST', `rollout/${op}`, {}),
    })
  }
}
