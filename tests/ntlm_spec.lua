-- modules/ntlm.lua: MD4 against RFC 1320, NTLMv2 against the worked example of MS-NLMP
-- §4.2.4, and the layout of the messages it builds. (The handshake against a server is in
-- tests/winrm_spec.lua.)
local ntlm = require "ntlm"

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end
local function utf16(s) return (s:gsub(".", "%0\0")) end

-- MS-NLMP §4.2.4: user "User", domain "Domain", password "Password", server "Server"
local TARGET_INFO = string.pack("<I2I2", 2, 12) .. utf16("Domain")
                    .. string.pack("<I2I2", 1, 12) .. utf16("Server") .. string.pack("<I2I2", 0, 0)

describe("ntlm", function()
  it("computes MD4 as RFC 1320's test suite says", function()
    assert.equal("31d6cfe0d16ae931b73c59d7e0c089c0", hex(ntlm.md4("")))
    assert.equal("a448017aaf21d8525fc10ae87aa6729d", hex(ntlm.md4("abc")))
    assert.equal("d9130a8164549fe818874806e1c7014b", hex(ntlm.md4("message digest")))
    assert.equal("e33b4ddc9c38f2199c3e7b164fcc0536", hex(ntlm.md4(("1234567890"):rep(8))))
  end)

  it("computes NTOWFv2, NTProofStr and LMv2 as MS-NLMP's example", function()
    local key = ntlm.ntowfv2("Password", "User", "Domain")
    assert.equal("0c868a403bfd7a93a3001ef22ef02e3f", hex(key))
    local nt, lm = ntlm.responses(key, unhex("0123456789abcdef"), unhex("aaaaaaaaaaaaaaaa"),
                                  ("\0"):rep(8), TARGET_INFO)
    assert.equal("68cd0ab851e51c96aabc927bebef6a1c", hex(nt:sub(1, 16)))
    assert.equal("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa", hex(lm))
  end)

  it("splits DOMAIN\\user and user@domain, and leaves a bare name without a domain", function()
    assert.same({ "admin", "EDGE2" }, { ntlm.split_user("EDGE2\\admin") })
    assert.same({ "admin", "contoso.com" }, { ntlm.split_user("admin@contoso.com") })
    assert.same({ "administrator", "" }, { ntlm.split_user("administrator") })
  end)

  it("builds a NEGOTIATE and an AUTHENTICATE whose fields point at their payload", function()
    local first = ntlm.negotiate()
    assert.equal("NTLMSSP\0", first:sub(1, 8))
    assert.equal(1, string.unpack("<I4", first, 9))
    local challenge = "NTLMSSP\0" .. string.pack("<I4I2I2I4I4", 2, 0, 0, 48, 0xA2898205)
                      .. unhex("0123456789abcdef") .. ("\0"):rep(8)
                      .. string.pack("<I2I2I4", #TARGET_INFO, #TARGET_INFO, 48) .. TARGET_INFO
    local message = assert(ntlm.authenticate(challenge, "EDGE2\\Admin", "secret", "OPS"))
    assert.equal(3, string.unpack("<I4", message, 9))
    local function buffer(index)
      local len, _, offset = string.unpack("<I2I2I4", message, 13 + 8 * index)
      return message:sub(offset + 1, offset + len)
    end
    assert.equal(24, #buffer(0))                      -- LMv2
    assert.equal(utf16("EDGE2"), buffer(2))
    assert.equal(utf16("Admin"), buffer(3))
    assert.equal(utf16("OPS"), buffer(4))
    local nt = buffer(1)
    assert.equal(TARGET_INFO, nt:sub(16 + 28 + 1, 16 + 28 + #TARGET_INFO))
    local key = ntlm.ntowfv2("secret", "Admin", "EDGE2")
    local proof = ntlm.responses(key, unhex("0123456789abcdef"), nt:sub(33, 40),
                                 nt:sub(25, 32), TARGET_INFO)
    assert.equal(hex(proof:sub(1, 16)), hex(nt:sub(1, 16)))
    assert.is_nil(message:find("secret", 1, true))
  end)

  it("refuses what is not a challenge", function()
    assert.same({ nil, "not an NTLM message" }, { ntlm.authenticate("garbage", "u", "p") })
    local wrong = "NTLMSSP\0" .. string.pack("<I4", 3) .. ("\0"):rep(40)
    assert.matches("type 3 where a challenge was due", select(2, ntlm.authenticate(wrong, "u", "p")))
    local cut = "NTLMSSP\0" .. string.pack("<I4I2I2I4I4", 2, 0, 0, 56, 1) .. ("\0"):rep(16)
                .. string.pack("<I2I2I4", 200, 200, 48)
    assert.matches("cut short", select(2, ntlm.authenticate(cut, "u", "p")))
  end)
end)
