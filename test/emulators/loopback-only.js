// Preloaded with `node --require ./loopback-only.js` by start.sh. kinesalite has no bind-address
// option and kinesis-local hard-codes 0.0.0.0, so this rewrites every TCP net.Server.listen (and
// therefore http, https and tls servers) to bind 127.0.0.1 only. Unix-socket and handle listens
// are left alone.
'use strict'

const net = require('net')

const LOOPBACK = '127.0.0.1'
const origListen = net.Server.prototype.listen

function isPort (v) {
  return typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))
}

net.Server.prototype.listen = function (...args) {
  const cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
  const first = args[0]
  let opts
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path !== undefined || first._handle !== undefined || first.fd !== undefined || first.handle !== undefined) {
      return origListen.apply(this, cb ? [...args, cb] : args)
    }
    opts = Object.assign({}, first, { host: LOOPBACK })
    delete opts.ipv6Only
  } else if (first === undefined || isPort(first)) {
    opts = { port: first === undefined ? 0 : Number(first), host: LOOPBACK }
    // listen(port, host, backlog) or listen(port, backlog)
    const rest = args.slice(1)
    if (rest.length > 0 && typeof rest[0] === 'string') rest.shift()
    if (rest.length > 0 && typeof rest[0] === 'number') opts.backlog = rest[0]
  } else {
    // A pipe path or something unusual: not a TCP port, leave it.
    return origListen.apply(this, cb ? [...args, cb] : args)
  }
  return cb ? origListen.call(this, opts, cb) : origListen.call(this, opts)
}
