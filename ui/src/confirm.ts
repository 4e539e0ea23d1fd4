import { ApiError } from './api.js'
import { h, setChildren } from './dom.js'

export interface Change {
  what: string
  from: string
  to: string
}

export interface ConfirmOptions {
  title: string
  changes: Change[]
  /** whether a refusal may be overridden by re-sending with force: true */
  forceable?: boolean
  /** sends the write; throws ApiError on a refusal */
  run(force: boolean, reason: string | null): Promise<void>
}

/** Refusals that `force: true` skips, and what forcing means. */
const FORCE: Record<string, string> = {
  SMOKE_FAILED: 'Force: skip the smoke checks and do it anyway',
  SHADOW_MISMATCH: 'Force: ignore the shadow mismatches and do it anyway',
}

/** The router's refusal in words, with what it found. */
export function explain(e: ApiError): HTMLElement {
  const d = e.details ?? {}
  const words: Record<string, string> = {
    SMOKE_FAILED: `The smoke checks failed on ${String(d.color ?? 'the target color')}, so nothing changed.`,
    SHADOW_MISMATCH: 'The idle color answered differently from the live one too often, so nothing changed.',
    NO_PREVIOUS: 'There is no previous live color to roll back to.',
    VERSION_MISMATCH: 'Someone changed this app after this dialog opened, so nothing changed. Close it and look again.',
    ROLLOUT_ACTIVE: 'A rollout is in progress: pause, abort or promote it first.',
    NO_ROLLOUT: 'No rollout is in progress any more.',
    STORE_UNAVAILABLE: 'The state store cannot be reached, so nothing changed; routing goes on with the state it had.',
    UNAUTHORIZED: 'The token was not accepted.',
    FORBIDDEN_ORIGIN: 'The router refused a request from this page’s origin.',
    UNREACHABLE: 'The router did not answer.',
  }
  const box = h(
    'div',
    { class: 'refusal', role: 'alert' },
    h('p', { class: 'refusal-head' }, h('code', null, e.code), ' ', words[e.code] ?? 'The router refused.'),
    h('p', { class: 'refusal-msg' }, e.message),
  )
  const checks = Array.isArray(d.checks)
    ? (d.checks as { path: string; target: string; ok: boolean; status: number | null; error: string | null }[])
    : []
  const failed = checks.filter((c) => !c.ok)
  if (failed.length > 0) {
    box.append(
      h('p', null, 'Failing checks:'),
      h(
        'ul',
        { class: 'checks', 'data-field': 'failed-checks' },
        ...failed.map((c) => h('li', null, h('code', null, c.path), ` on ${c.target}: `, c.error ?? `status ${String(c.status)}`)),
      ),
    )
  }
  if (e.code === 'SHADOW_MISMATCH' && typeof d.mismatchRate === 'number') {
    box.append(h('p', null, `Mismatch rate ${(d.mismatchRate * 100).toFixed(2)}% over ${String(d.samples ?? '?')} comparisons.`))
  }
  return box
}

let dialog: HTMLDialogElement | null = null

/** Shows what will change (from → to) and runs the action only on confirmation; a refusal stays in the dialog, in words. */
export function confirmAction(o: ConfirmOptions): void {
  dialog?.remove()
  const reason = h('input', { name: 'reason', type: 'text', placeholder: 'reason (optional)', autocomplete: 'off', maxlength: 200 })
  const result = h('div', { class: 'result' })
  const confirm = h('button', { type: 'button', class: 'primary', 'data-action': 'confirm' }, 'Confirm')
  const cancel = h('button', { type: 'button', 'data-action': 'cancel' }, 'Cancel')
  const buttons = h('div', { class: 'dialog-buttons' }, cancel, confirm)
  const d = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'confirm-title' },
    h('h3', { id: 'confirm-title' }, o.title),
    h(
      'table',
      { class: 'changes' },
      ...o.changes.map((c) =>
        h(
          'tr',
          null,
          h('th', null, c.what),
          h('td', { class: 'from' }, c.from),
          h('td', { class: 'arrow' }, '→'),
          h('td', { class: 'to' }, c.to),
        ),
      ),
    ),
    h('label', { class: 'reason' }, reason),
    result,
    buttons,
  )
  dialog = d
  document.body.append(d)
  const busy = (on: boolean): void => {
    for (const b of d.querySelectorAll('button')) b.disabled = on
  }
  const send = async (force: boolean): Promise<void> => {
    busy(true)
    setChildren(result, h('p', { class: 'pending' }, force ? 'Sending with force…' : 'Sending…'))
    try {
      await o.run(force, reason.value.trim() === '' ? null : reason.value.trim())
      d.close()
    } catch (err) {
      busy(false)
      const e = err instanceof ApiError ? err : new ApiError(0, 'ERROR', (err as Error).message, undefined)
      setChildren(result, explain(e))
      if (o.forceable === true && FORCE[e.code] !== undefined && !force) {
        result.append(
          h('button', { type: 'button', class: 'danger', 'data-action': 'force', onclick: () => void send(true) }, FORCE[e.code]),
        )
      }
      confirm.textContent = 'Try again'
    }
  }
  confirm.addEventListener('click', () => void send(false))
  cancel.addEventListener('click', () => d.close())
  d.addEventListener('close', () => d.remove())
  d.showModal()
  confirm.focus()
}
