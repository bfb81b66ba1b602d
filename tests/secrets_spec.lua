-- runbook.secrets (modules/runbook/secrets.lua): what output, --json, the journal and the
-- audit log do with a resolved secret — every form of it becomes <redacted>.
local cjson = require "cjson"
local secrets = require "runbook.secrets"
local support = require "support"

-- A file: credential holding value, mode 0600, resolved: the value is now a known secret.
local function resolved(value)
  local dir = support.tmpdir()
  local path = support.write(dir .. "/secret", value .. "\n")
  os.execute("chmod 600 " .. support.quote(path))
  local secret = secrets.resolve("file:" .. path)
  os.execute("rm -rf " .. support.quote(dir))
  return secret
end

-- The forms of value a writer may produce: as is, JSON-escaped with and without `\/`, %q.
local function forms_of(value)
  local json = cjson.encode(value):sub(2, -2)
  return { value, json, (json:gsub("\\/", "/")), ("%q"):format(value):sub(2, -2) }
end

local function assert_absent(value, text)
  for _, form in ipairs(forms_of(value)) do
    assert.is_nil(text:find(form, 1, true), ("%q found in %q"):format(form, text))
  end
end

describe("secrets.json", function()
  it("redacts a secret with / + = \" \\ in values and keys, nested, before encoding", function()
    local value = [[k3y/with+all="the\chars/=]]
    local secret = resolved(value)
    local record = { error = "rejected " .. secret:reveal(), data = { [value] = { value } },
                     quoted = ("%q"):format(value) }
    local line = secrets.json(record)
    assert_absent(value, line)
    local decoded = cjson.decode(line)
    assert.equal("rejected <redacted>", decoded.error)
    assert.same({ ["<redacted>"] = { "<redacted>" } }, decoded.data)
    assert.equal('"<redacted>"', decoded.quoted)
    assert.equal("rejected " .. value, record.error)   -- the caller's table is left alone
  end)

  it("writes a Secret as its reference, never its value", function()
    local secret = resolved("another/secret==")
    local decoded = cjson.decode(secrets.json({ credential = secret }))
    assert.matches("^<secret file:.*/secret>$", decoded.credential)
  end)

  it("redacts a value derived from a secret once it is protected", function()
    local derived = "dGhlIGtleS9pbnNpZGU="   -- the key inside a TSIG key file
    secrets.protect(derived)
    assert.equal('{"key":"<redacted>"}', secrets.json({ key = derived }))
    assert.equal("key <redacted>.", secrets.redact("key " .. derived .. "."))
  end)
end)

describe("secrets.redact", function()
  it("replaces each occurrence and the longer of two overlapping secrets whole", function()
    resolved("abcd/1234")
    resolved("abcd/1234/extra")
    assert.equal("<redacted> and <redacted>, <redacted>",
      secrets.redact("abcd/1234/extra and abcd/1234, abcd\\/1234"))
  end)

  it("leaves short values (under 4 bytes) and other text alone", function()
    resolved("ab")
    assert.equal("ab cd: nothing secret", secrets.redact("ab cd: nothing secret"))
  end)
end)

describe("a TSIG key given as a credential (dns.rfc2136)", function()
  it("redacts the key itself, not only the whole key file", function()
    local base64 = "G6IVv6cgc/7igWNgYzLkKrR9zz6YLEdEL8pABulJoNo="
    local dir = support.tmpdir()
    local path = support.write(dir .. "/tsig.key",
      ('key "runbook." {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n'):format(base64))
    os.execute("chmod 600 " .. support.quote(path))
    require("dns.rfc2136").new { zone = "example.test", server = "192.0.2.53",
                                 key = "file:" .. path }
    os.execute("rm -rf " .. support.quote(dir))
    assert_absent(base64, secrets.json({ error = "BADSIG with " .. base64 }))
  end)
end)
