// Starts `switchyard serve` through dist/cli/serve.js, bypassing the bin and
// the rest of the CLI (bench option --serve-direct, for when another command
// of the CLI does not build mid-development). Same arguments as the bin's serve.
const { serve } = await import(new URL('../../dist/cli/serve.js', import.meta.url).href)
const { processIo } = await import(new URL('../../dist/cli/io.js', import.meta.url).href)
process.exitCode = await serve(process.argv.slice(2), processIo)
