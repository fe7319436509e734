// Preloaded with `node --require ./abort-tolerant.js` by start.sh for kinesalite and dynalite.
//
// Both install `req.on('error', function (err) { throw err })` on every incoming request
// (kinesalite index.js, dynalite index.js: httpHandler). When a client closes its connection in
// the middle of a request body, Node destroys the request with Error('aborted') (code ECONNRESET,
// from _http_server's abortIncoming); that handler rethrows it and the whole emulator exits, so
// every later call to it fails. Clients do this routinely: an SDK call cancelled by its context
// closes the connection, possibly before the body is written. (With Node 20, closing after a
// complete body, while the request is processed, emits no error and did not crash them.)
//
// This drops exactly that error (a server-side request destroyed with 'aborted' / ECONNRESET)
// before it reaches the emulator's handler, and logs one line to stderr (the emulator's log).
// Any other error on a request still reaches the handler and still crashes the process with its
// stack trace in the log, so a real emulator bug stays visible.
'use strict'

const http = require('http')

const origEmit = http.IncomingMessage.prototype.emit

// isClientAbort reports whether err is the 'aborted' error Node gives a server-side request
// whose connection closed before its response was sent. Server-side requests have a method;
// responses a client receives (also IncomingMessage) do not.
function isClientAbort (msg, err) {
  return typeof msg.method === 'string' &&
    err instanceof Error && err.code === 'ECONNRESET' && err.message === 'aborted'
}

http.IncomingMessage.prototype.emit = function (event, ...args) {
  if (event === 'error' && isClientAbort(this, args[0])) {
    const s = this.socket
    const peer = s && s.remoteAddress ? ` from ${s.remoteAddress}:${s.remotePort}` : ''
    process.stderr.write(`abort-tolerant: ${new Date().toISOString()} dropped ${this.method} ${this.url} ` +
      `(${this.headers['x-amz-target'] || 'no X-Amz-Target'})${peer}: the client closed the connection ` +
      `before the response (${this.complete ? 'body complete' : 'body incomplete'})\n`)
    return false
  }
  return origEmit.call(this, event, ...args)
}
