// Waits until an emulator answers an HTTP request. Used by start.sh; needs only node.
//
//   node wait-ready.js <pid> <timeout-seconds> <url> <x-amz-target>
//
// Exit status: 0 once any HTTP response arrives (even an error status: the server is up),
// 1 on timeout, 2 if process <pid> exited first.
'use strict'

const http = require('http')

const [pidArg, timeoutArg, url, target] = process.argv.slice(2)
const pid = Number(pidArg)
const deadline = Date.now() + Number(timeoutArg) * 1000

function alive () {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

function attempt () {
  if (!alive()) {
    console.error(`process ${pid} exited before ${url} answered`)
    process.exit(2)
  }
  if (Date.now() > deadline) {
    console.error(`${url} did not answer within ${timeoutArg}s`)
    process.exit(1)
  }
  const body = '{}'
  const req = http.request(url, {
    method: 'POST',
    timeout: 1000,
    headers: {
      'Content-Type': target.startsWith('DynamoDB') ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1',
      'X-Amz-Target': target,
      // Any signature is accepted by the emulators; they only check its shape.
      Authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
      'X-Amz-Date': '20260101T000000Z',
      'Content-Length': Buffer.byteLength(body)
    }
  }, (res) => {
    res.resume()
    res.on('end', () => process.exit(0))
  })
  req.on('timeout', () => req.destroy(new Error('timeout')))
  req.on('error', () => setTimeout(attempt, 100))
  req.end(body)
}

attempt()
