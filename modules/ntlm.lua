--- ntlm — the client side of NTLMv2 authentication (MS-NLMP), for WinRM on Edge servers
-- that are workgroup hosts: no domain, so no Kerberos, and Negotiate falls back to NTLM.
--
--   local ntlm = require "ntlm"
--   local first = ntlm.negotiate()                        -- NEGOTIATE_MESSAGE (bytes)
--   local last = ntlm.authenticate(challenge, user, password)  -- AUTHENTICATE_MESSAGE
--
-- WinRM expects these base64-encoded in `Authorization: Negotiate ...` on one connection
-- (the Negotiate scheme carrying raw NTLM, as Windows' own clients send it; the service
-- offers no "NTLM" scheme). Only NTLMv2 responses are built; no signing or sealing is
-- negotiated, so HTTPS protects the messages (over plain HTTP, WinRM must allow
-- unencrypted traffic). No MIC and no channel binding token: a listener with
-- CbtHardeningLevel=Strict refuses this client (docs/transports.md).
-- The password is used for the NT hash and forgotten; nothing here logs or keeps it.
local tsig = require "runbook.tsig"
local utf16 = require("powershell").utf16le   -- NTLM's strings, with NEGOTIATE_UNICODE

local M = {}

local SIGNATURE = "NTLMSSP\0"
local NEGOTIATE_UNICODE, NEGOTIATE_OEM, REQUEST_TARGET = 0x1, 0x2, 0x4
local NEGOTIATE_NTLM, ALWAYS_SIGN = 0x200, 0x8000
local EXTENDED_SESSIONSECURITY, NEGOTIATE_128, NEGOTIATE_56 = 0x80000, 0x20000000, 0x80000000
local FLAGS = NEGOTIATE_UNICODE | NEGOTIATE_OEM | REQUEST_TARGET | NEGOTIATE_NTLM | ALWAYS_SIGN
              | EXTENDED_SESSIONSECURITY | NEGOTIATE_128 | NEGOTIATE_56
local AV_EOL, AV_TIMESTAMP = 0, 7

-- ------------------------------------------------------------------ MD4 (RFC 1320)

local function rotate_left(x, n)
  x = x & 0xffffffff
  return ((x << n) | (x >> (32 - n))) & 0xffffffff
end

local ROUNDS = {
  { order = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 }, shifts = { 3, 7, 11, 19 },
    add = 0, mix = function(x, y, z) return (x & y) | (~x & z) end },
  { order = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 }, shifts = { 3, 5, 9, 13 },
    add = 0x5A827999, mix = function(x, y, z) return (x & y) | (x & z) | (y & z) end },
  { order = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 }, shifts = { 3, 9, 11, 15 },
    add = 0x6ED9EBA1, mix = function(x, y, z) return x ~ y ~ z end },
}

--- md4(bytes) -> 16-byte digest. OpenSSL 3 keeps MD4 in its legacy provider, which
-- Debian does not load; the NT hash needs it, and it is short.
function M.md4(message)
  local padded = message .. "\128" .. ("\0"):rep((55 - #message) % 64)
                 .. string.pack("<I8", #message * 8)
  local state = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 }
  for at = 1, #padded, 64 do
    local words = { string.unpack("<" .. ("I4"):rep(16), padded, at) }
    local a, b, c, d = table.unpack(state)
    for _, round in ipairs(ROUNDS) do
      for step, k in ipairs(round.order) do
        local t = rotate_left(a + round.mix(b, c, d) + words[k + 1] + round.add,
                              round.shifts[(step - 1) % 4 + 1])
        a, b, c, d = d, t, b, c
      end
    end
    state = { (state[1] + a) & 0xffffffff, (state[2] + b) & 0xffffffff,
              (state[3] + c) & 0xffffffff, (state[4] + d) & 0xffffffff }
  end
  return string.pack("<I4I4I4I4", table.unpack(state))
end

-- ------------------------------------------------------------------ helpers

local function hmac_md5(key, data)
  return tsig.hmac("hmac-md5.sig-alg.reg.int", key, data)   -- OpenSSL's HMAC-MD5
end

local function random_bytes(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(n)
  f:close()
  return bytes
end

-- Windows FILETIME: 100 ns ticks since 1601-01-01, as 8 bytes little-endian.
local function filetime_now()
  return string.pack("<I8", (os.time() + 11644473600) * 10000000)
end

--- split_user(name) -> user, domain: "EDGE2\\admin" and "admin@contoso.com" carry a
-- domain; a bare name has none (a local account of the server, as on a workgroup host).
function M.split_user(name)
  local domain, user = name:match("^([^\\]*)\\(.+)$")
  if user then return user, domain end
  user, domain = name:match("^([^@]+)@(.+)$")
  if user then return user, domain end
  return name, ""
end

--- ntowfv2(password, user, domain) -> the NTLMv2 key
function M.ntowfv2(password, user, domain)
  return hmac_md5(M.md4(utf16(password)), utf16(user:upper() .. domain))
end

-- The AV pairs of a TargetInfo: {[id] = value}.
local function av_pairs(info)
  local pairs_found, at = {}, 1
  while at + 3 <= #info do
    local id, len = string.unpack("<I2I2", info, at)
    if id == AV_EOL then break end
    pairs_found[id] = info:sub(at + 4, at + 3 + len)
    at = at + 4 + len
  end
  return pairs_found
end

--- responses(key, server_challenge, client_challenge, timestamp, target_info)
--   -> nt_response, lm_response (MS-NLMP 3.3.2)
function M.responses(key, server_challenge, client_challenge, timestamp, target_info)
  local blob = "\1\1\0\0\0\0\0\0" .. timestamp .. client_challenge .. "\0\0\0\0"
               .. target_info .. "\0\0\0\0"
  local proof = hmac_md5(key, server_challenge .. blob)
  local lm = hmac_md5(key, server_challenge .. client_challenge) .. client_challenge
  return proof .. blob, lm
end

-- ------------------------------------------------------------------ messages

-- A security buffer's header: length, allocated length, offset.
local function field(len, offset)
  return string.pack("<I2I2I4", len, len, offset)
end

--- negotiate() -> NEGOTIATE_MESSAGE
function M.negotiate()
  return SIGNATURE .. string.pack("<I4I4", 1, FLAGS) .. field(0, 0) .. field(0, 0)
end

--- parse_challenge(bytes) -> {flags=, challenge=, target_info=} | nil, reason
function M.parse_challenge(bytes)
  if #bytes < 48 or bytes:sub(1, 8) ~= SIGNATURE then
    return nil, "not an NTLM message"
  end
  local kind, flags = string.unpack("<I4", bytes, 9), string.unpack("<I4", bytes, 21)
  if kind ~= 2 then return nil, "NTLM message type " .. kind .. " where a challenge was due" end
  local info_len, _, info_at = string.unpack("<I2I2I4", bytes, 41)
  if info_at + info_len > #bytes then return nil, "the challenge's target info is cut short" end
  return { flags = flags, challenge = bytes:sub(25, 32),
           target_info = bytes:sub(info_at + 1, info_at + info_len) }
end

--- authenticate(challenge_bytes, user_name, password [, workstation])
--   -> AUTHENTICATE_MESSAGE | nil, reason
function M.authenticate(challenge_bytes, user_name, password, workstation)
  local challenge, err = M.parse_challenge(challenge_bytes)
  if not challenge then return nil, err end
  if challenge.flags & NEGOTIATE_UNICODE == 0 then
    return nil, "the server does not speak Unicode NTLM"
  end
  local user, domain = M.split_user(user_name)
  local info = av_pairs(challenge.target_info)
  local timestamp = info[AV_TIMESTAMP] or filetime_now()
  local nt, lm = M.responses(M.ntowfv2(password, user, domain), challenge.challenge,
                             random_bytes(8), timestamp, challenge.target_info)
  if info[AV_TIMESTAMP] then lm = ("\0"):rep(24) end   -- MS-NLMP 3.1.5.1.2
  local payload = { utf16(domain), utf16(user), utf16(workstation or ""), lm, nt, "" }
  local header, offset = { SIGNATURE, string.pack("<I4", 3) }, 64
  -- the fields in header order: LM, NT, domain, user, workstation, session key
  local order = { 4, 5, 1, 2, 3, 6 }
  local offsets, at = {}, offset
  for i, part in ipairs(payload) do offsets[i] = at; at = at + #part end
  for _, i in ipairs(order) do header[#header + 1] = field(#payload[i], offsets[i]) end
  header[#header + 1] = string.pack("<I4", FLAGS & challenge.flags)
  return table.concat(header) .. table.concat(payload)
end

return M
