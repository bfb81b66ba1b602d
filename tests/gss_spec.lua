-- runbook.gss (runtime/gss.c): the GSS-API security context under WinRM and GSS-TSIG —
-- NTLM through gss-ntlmssp, the channel binding of RFC 5929, misuse raising. The
-- handshakes themselves run against the WS-Management emulator (tests/winrm_encryption_
-- spec.lua) and the lab KDC (tests/kerberos_spec.lua).
local gss = require "runbook.gss"
local task = require "runbook.task"
local support = require "support"

describe("runbook.gss", function()
  it("starts NTLM with a NEGOTIATE_MESSAGE asking for sealing, without any server", function()
    local token, established = task.run(function()
      local context = gss.initiator { mech = "ntlm", target = "HTTP@edge2.contoso.com",
                                      user = "EDGE2\\ops", password = "Lab-Passw0rd!" }
      return context:step()
    end)
    assert.equal("NTLMSSP\0", token:sub(1, 8))
    assert.equal(1, string.unpack("<I4", token, 9))
    local flags = string.unpack("<I4", token, 13)
    assert.equal(0x20, flags & 0x20)              -- NTLMSSP_NEGOTIATE_SEAL
    assert.equal(0x80000, flags & 0x80000)        -- extended session security
    assert.is_false(established)
  end)

  it("refuses to seal before the context is established", function()
    local context = gss.initiator { mech = "ntlm", target = "HTTP@edge2.contoso.com" }
    assert.has_error(function() context:wrap("x") end,
                     "gss: the security context is not established yet")
    assert.has_error(function() context:seal_wsman("x") end,
                     "gss: the security context is not established yet")
  end)

  it("refuses an unknown mechanism and a target that is no service name", function()
    assert.has_error(function() gss.initiator { mech = "digest", target = "HTTP@x" } end)
    assert.has_error(function() gss.initiator { mech = "ntlm" } end)
  end)

  it("closes twice, and refuses a step after", function()
    local context = gss.initiator { mech = "ntlm", target = "HTTP@x" }
    context:close()
    context:close()
    assert.has_error(function() task.run(function() return context:step() end) end)
  end)

  it("binds to a certificate by its signature's hash (tls-server-end-point)", function()
    local dir = support.tmpdir()
    local key, pem = dir .. "/key.pem", dir .. "/cert.pem"
    for _, digest in ipairs { "sha256", "sha384" } do
      assert(support.sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -%s -subj /CN=x "
                         .. "-keyout %s -out %s 2>/dev/null"):format(digest, key, pem)).code == 0)
      local expected = support.sh(("openssl x509 -in %s -outform DER | openssl dgst -%s -binary")
                                  :format(pem, digest)).out
      assert.equal("tls-server-end-point:" .. expected,
                   gss.tls_server_end_point(support.slurp(pem)))
    end
    os.execute("rm -rf " .. support.quote(dir))
    assert.has_error(function() gss.tls_server_end_point("not a certificate") end,
                     "gss: not a PEM certificate")
  end)
end)
