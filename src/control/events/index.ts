export { EventHub, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_STREAMS, type EventApp, type EventHubOptions } from './hub.js'
export { EventStream, frame, type StreamEnd } from './stream.js'
export { colorStats, quantile, type ColorStats } from './stats.js'
