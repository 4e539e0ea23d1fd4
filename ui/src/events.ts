import { authHeaders } from './api.js'

export interface EventHandlers {
  event(name: string, data: unknown): void
  /** the stream is open (true) or down and reconnecting (false) */
  status(up: boolean): void
  unauthorized(): void
}

/**
 * Reads `GET /v1/events` with fetch (EventSource cannot send a bearer
 * header) and reconnects after a drop, 1 s then up to 10 s apart. Returns
 * a function that stops it.
 */
export function connectEvents(h: EventHandlers): () => void {
  const abort = new AbortController()
  let delay = 1000
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        const res = await fetch('/v1/events', {
          headers: { accept: 'text/event-stream', ...authHeaders() },
          credentials: 'omit',
          cache: 'no-store',
          signal: abort.signal,
        })
        if (res.status === 401) {
          h.status(false)
          h.unauthorized()
          return
        }
        if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`)
        h.status(true)
        delay = 1000
        await read(res.body, h)
      } catch {
        if (abort.signal.aborted) return
      }
      h.status(false)
      await new Promise((r) => setTimeout(r, delay))
      delay = Math.min(delay * 2, 10_000)
    }
  }
  void run()
  return () => abort.abort()
}

async function read(body: ReadableStream<Uint8Array>, h: EventHandlers): Promise<void> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buf += decoder.decode(value, { stream: true })
    let end: number
    while ((end = buf.indexOf('\n\n')) !== -1) {
      const block = buf.slice(0, end)
      buf = buf.slice(end + 2)
      let name = 'message'
      let data = ''
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7)
        else if (line.startsWith('data: ')) data += line.slice(6)
      }
      if (data === '') continue
      try {
        h.event(name, JSON.parse(data))
      } catch {
        // a frame that is not JSON is not ours: skip it
      }
    }
  }
}
