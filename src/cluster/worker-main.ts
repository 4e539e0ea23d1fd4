// The entry of a worker process (node:cluster forks it with `workers` > 1).
import { runWorker } from './worker.js'

runWorker()
