// client.js - a jetsync channel initiator written with an independent Noise library
// (npm noise-protocol: its own symmetric state, HKDF and handshake code) from docs/protocol.md
// alone: prologue, static keys derived from Ed25519, message 1 payload, framing, transport
// nonces. It connects, completes Noise_IK_25519_ChaChaPoly_BLAKE2b, sends frames, and checks
// that the listener echoes them back.
//
//   node client.js HOST:PORT SERVER_NODE_ID CLIENT_ED25519_SK_HEX NETWORK_KEY_HEX
// Prints "interop ok" and exits 0 on success.
'use strict'
const net = require('net')
const noise = require('noise-protocol')
const sodium = require('sodium-universal')

const [addr, serverId, clientSkHex, networkHex] = process.argv.slice(2)
if (!networkHex) {
  console.error('usage: node client.js HOST:PORT SERVER_NODE_ID CLIENT_SK_HEX NETWORK_KEY_HEX')
  process.exit(2)
}

function fail (why) {
  console.error('interop FAILED: ' + why)
  process.exit(1)
}

// Keys (docs/protocol.md, "Roles and keys").
const edSk = Buffer.from(clientSkHex, 'hex')
const edPk = edSk.subarray(32, 64)
const serverEd = Buffer.from(serverId, 'base64url')
const staticKeys = { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(32) }
sodium.crypto_sign_ed25519_pk_to_curve25519(staticKeys.publicKey, edPk)
sodium.crypto_sign_ed25519_sk_to_curve25519(staticKeys.secretKey, edSk)
const rs = Buffer.alloc(32)
sodium.crypto_sign_ed25519_pk_to_curve25519(rs, serverEd)

// Prologue: "jetsync/1" || BLAKE2b-256("jetsync network key" || network_key).
const netHash = Buffer.alloc(32)
sodium.crypto_generichash(netHash, Buffer.concat([Buffer.from('jetsync network key'), Buffer.from(networkHex, 'hex')]))
const prologue = Buffer.concat([Buffer.from('jetsync/1'), netHash])

// Message 1 payload: node id || BE64(replay value = wall clock in ns).
const payload = Buffer.alloc(40)
edPk.copy(payload, 0)
payload.writeBigUInt64BE(BigInt(Date.now()) * 1000000n, 32)

const hs = noise.initialize('IK', true, prologue, staticKeys, null, rs)
const msg1 = Buffer.alloc(256)
noise.writeMessage(hs, payload, msg1)
const msg1Len = noise.writeMessage.bytes
if (msg1Len !== 136) fail('message 1 is ' + msg1Len + ' bytes, the protocol says 136')

function frame (body) {
  const f = Buffer.alloc(4 + body.length)
  f.writeUInt32BE(body.length, 0)
  body.copy(f, 4)
  return f
}

// Transport: ChaChaPoly, empty ad, nonce = 4 zero bytes || LE64(n).
function nonce (n) {
  const b = Buffer.alloc(12)
  b.writeBigUInt64LE(BigInt(n), 4)
  return b
}
let tx, rx
let txN = 0
let rxN = 0
function seal (plain) {
  const c = Buffer.alloc(plain.length + 16)
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(c, plain, null, null, nonce(txN++), tx)
  return c
}
function open (c) {
  const p = Buffer.alloc(c.length - 16)
  sodium.crypto_aead_chacha20poly1305_ietf_decrypt(p, null, c, null, nonce(rxN++), rx)
  return p
}

const frames = [Buffer.from('hello from noise-protocol'), Buffer.alloc(0), Buffer.alloc(100000, 7)]
sodium.randombytes_buf(frames[2])
let echoed = 0
let buf = Buffer.alloc(0)
let established = false

const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))]
const sock = net.connect(port, host, () => sock.write(frame(msg1.subarray(0, msg1Len))))
const timer = setTimeout(() => fail('timed out'), 20000)

sock.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk])
  while (buf.length >= 4) {
    const len = buf.readUInt32BE(0)
    if (buf.length < 4 + len) return
    const body = buf.subarray(4, 4 + len)
    buf = buf.subarray(4 + len)
    if (!established) {
      if (len !== 48) fail('message 2 is ' + len + ' bytes, the protocol says 48')
      const split = noise.readMessage(hs, body, Buffer.alloc(0))
      if (!split) fail('no split after message 2')
      // Split states are k (32 bytes) || n (8 bytes). Noise: the FIRST CipherState of Split()
      // encrypts initiator -> responder. noise-protocol 3.0.2 labels them from the last
      // message's point of view: readMessage() calls split(rx, tx), so here, where the
      // initiator reads the last message of IK, its `rx` is the first CipherState. We use the
      // specification's assignment (the one the public test vectors check).
      tx = Buffer.from(split.rx.subarray(0, 32))
      rx = Buffer.from(split.tx.subarray(0, 32))
      noise.destroy(hs)
      established = true
      for (const f of frames) sock.write(frame(seal(f)))
      continue
    }
    let plain
    try {
      plain = open(body)
    } catch (e) {
      fail('echoed frame ' + echoed + ' does not authenticate')
    }
    if (!plain.equals(frames[echoed])) fail('echoed frame ' + echoed + ' differs')
    echoed++
    if (echoed === frames.length) {
      clearTimeout(timer)
      console.log('interop ok: Noise_IK handshake and ' + echoed + ' frames echoed')
      sock.end()
      process.exit(0)
    }
  }
})
sock.on('error', (e) => fail(e.message))
sock.on('close', () => { if (echoed < frames.length) fail('connection closed by the listener') })
