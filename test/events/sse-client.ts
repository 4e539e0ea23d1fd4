/** A test client of GET /v1/events: collects frames and waits for one that fits, bounded. */

export interface SseEvent {
  event: string
  data: any
  /** performance.now() when it arrived */
  at: number
}

export interface SseClient {
  status: number
  events: SseEvent[]
  /** heartbeat and other comment lines seen */
  comments: string[]
  /** resolves when the stream ends */
  ended: Promise<void>
  waitFor(pred: (e: SseEvent) => boolean, timeoutMs?: number, what?: string): Promise<SseEvent>
  close(): void
}

export async function openEvents(adminUrl: string, token: string | null): Promise<SseClient> {
  const abort = new AbortController()
  const res = await fetch(`${adminUrl}/v1/events`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    signal: abort.signal,
  })
  const events: SseEvent[] = []
  const comments: string[] = []
  const waiters = new Set<() => void>()
  const wake = (): void => {
    for (const w of [...waiters]) w()
  }
  const ended = (async () => {
    if (!res.ok || res.body === null) return
    const reader = res.body.getReader()
    const dec = new TextDecoder()
    let buf = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buf += dec.decode(value, { stream: true })
        let end: number
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, end)
          buf = buf.slice(end + 2)
          let event = 'message'
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data += line.slice(6)
          }
          if (data !== '') events.push({ event, data: JSON.parse(data), at: performance.now() })
        }
        wake()
      }
    } catch {
      // aborted
    } finally {
      wake()
    }
  })()
  let done = false
  void ended.then(() => (done = true))
  return {
    status: res.status,
    events,
    comments,
    ended,
    waitFor(pred, timeoutMs = 10_000, what = 'an event') {
      return new Promise((resolve, reject) => {
        let from = 0
        const check = (): void => {
          for (; from < events.length; from++) {
            if (pred(events[from])) {
              cleanup()
              resolve(events[from])
              return
            }
          }
          if (done) {
            cleanup()
            reject(new Error(`stream ended before ${what}`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no ${what} within ${timeoutMs} ms; got ${events.map((e) => e.event).join(',')}`))
        }, timeoutMs)
        const cleanup = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    close() {
      abort.abort()
    },
  }
}
