import { svg } from './dom.js'

/** Points kept per chart: 3 minutes of 1 s stats. */
export const POINTS = 180
/** The x axis spans at least this many points, so a fresh page's first seconds do not fill the chart. */
const MIN_SPAN = 20

/**
 * A sparkline: one SVG path over the last values (up to {@link POINTS}), scaled to
 * the largest (at least `floor`), with gaps where a value is missing.
 */
export class Sparkline {
  readonly el: SVGSVGElement
  readonly #line: SVGPathElement
  readonly #area: SVGPathElement
  readonly #floor: number

  constructor(label: string, floor: number) {
    this.#floor = floor
    this.#area = svg('path', { class: 'spark-area' })
    this.#line = svg('path', { class: 'spark-line', 'vector-effect': 'non-scaling-stroke' })
    this.el = svg(
      'svg',
      { class: 'spark', viewBox: `0 0 ${MIN_SPAN - 1} 100`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
      this.#area,
      this.#line,
    )
  }

  update(values: readonly (number | null)[]): void {
    let max = this.#floor
    for (const v of values) if (v !== null && v > max) max = v
    const span = Math.max(values.length, MIN_SPAN)
    this.el.setAttribute('viewBox', `0 0 ${span - 1} 100`)
    const x0 = span - values.length
    let line = ''
    let area = ''
    let runStart = -1
    let prevX = -1
    const close = (): void => {
      if (runStart >= 0) area += `L${prevX} 100L${runStart} 100Z`
      runStart = -1
    }
    values.forEach((v, i) => {
      const x = x0 + i
      if (v === null) {
        close()
        return
      }
      const y = (100 - (v / max) * 96).toFixed(1)
      if (runStart < 0) {
        line += `M${x} ${y}`
        area += `M${x} 100L${x} ${y}`
        runStart = x
      } else {
        line += `L${x} ${y}`
        area += `L${x} ${y}`
      }
      prevX = x
    })
    close()
    this.#line.setAttribute('d', line)
    this.#area.setAttribute('d', area)
  }
}
