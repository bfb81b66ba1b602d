-- modules/winrm.lua against the WS-Management emulator with Windows' own settings (proven
-- with python3-winrm in tests/winrm_emulator_spec.lua), on 127.0.23.73-74: the service as
-- Windows ships it (HTTP, AllowUnencrypted false, Basic off) reached with NTLM message
-- encryption through runbook.gss and gss-ntlmssp (MS-WSMV 2.2.9.1), unencrypted HTTP only
-- on request and then refused by that service with a message saying why, and HTTPS under
-- CbtHardeningLevel Strict (the TLS channel binding in NTLM's last message).
local lab = require "helpers.servers"
local support = require "support"
support.unwind_fully()   -- runbook.gss loads gss-ntlmssp, whose leak tests/lsan.supp names
local task = require "runbook.task"
local powershell = require "powershell"
local winrm = require "winrm"
local cjson = require "cjson"

local GET_SITES = powershell.command_line(powershell.wrap(powershell.command("Get-CsSite", {})))
local SHIPPED, STRICT = "127.0.23.73", "127.0.23.74"

describe("winrm with Windows' own settings", function()
  local shipped, strict

  setup(function()
    shipped = lab.start("winrm", "--shipped", "auto", SHIPPED)
    strict = lab.start("winrm", "--cbt", "strict", "auto", STRICT)
  end)
  teardown(function()
    lab.stop(shipped)
    lab.stop(strict)
  end)

  local function run(instance, address, extra, command_line, run_options)
    local options = { name = "edge2.contoso.com", address = address,
                      port = tonumber(instance.port), scheme = instance.scheme,
                      user = instance.user, password = instance.password,
                      ca_file = instance.ca_file }
    for k, v in pairs(extra or {}) do options[k] = v end
    return task.run(function()
      return winrm.run(options, command_line or GET_SITES, run_options)
    end)
  end

  local function log_of(instance) return support.slurp(instance.log) end

  it("seals every message over HTTP with NTLM, by default", function()
    local before = #log_of(shipped)
    local result = assert(run(shipped, SHIPPED))
    assert.equal(0, result.status)
    assert.equal("Site:Site1", cjson.decode(result.stdout)[1].Identity)
    local log = log_of(shipped):sub(before + 1)
    local _, handshakes = log:gsub("auth ok ntlm administrator", "")
    assert.equal(1, handshakes)
    local _, operations = log:gsub("\n[a-z]+ [%x%-]+", "")
    local _, sealed = log:gsub("sealed ntlm %d+", "")
    assert.is_true(operations >= 5, log)
    assert.equal(operations, sealed)
    assert.is_nil(log:find("refused", 1, true))
  end)

  it("carries stdin sealed in Send, in pieces that fit MaxEnvelopeSize", function()
    local long = ("x"):rep(100000)
    local line, stdin = powershell.invocation(powershell.wrap(powershell.command("Set-CsSite",
      { Identity = "Site2", Description = long })))
    assert.truthy(stdin)
    local before = #log_of(shipped)
    local result = assert(run(shipped, SHIPPED, { max_envelope_size = 51200 }, line,
                              { stdin = stdin }))
    assert.equal(0, result.status, result.stderr)
    local log = log_of(shipped):sub(before + 1)
    local _, sends = log:gsub("send %S+ %d+", "")
    assert.is_true(sends >= 3, "sends: " .. sends)
    assert.matches("send %S+ %d+ end", log)
    local sites = assert(run(shipped, SHIPPED, nil, powershell.command_line(powershell.wrap(
      powershell.command("Get-CsSite", { Identity = "Site2" })))))
    assert.equal(long, cjson.decode(sites.stdout)[1].Description)
  end)

  it("sends unsealed only with allow_unencrypted, which that service refuses, saying why",
     function()
    local result, message, code = run(shipped, SHIPPED, { allow_unencrypted = true })
    assert.is_nil(result)
    assert.equal("auth", code)
    assert.matches("AllowUnencrypted is true (Windows ships it false): leave "
                   .. "allow_unencrypted out", message, 1, true)
    assert.matches("auth refused unencrypted", log_of(shipped), 1, true)
  end)

  it("refuses Basic over plain HTTP before sending anything", function()
    local before = #log_of(shipped)
    local ok, err = pcall(run, shipped, SHIPPED, { auth = "basic" })
    assert.is_false(ok)
    assert.matches('auth = "basic" over plain HTTP cannot seal its messages', err, 1, true)
    assert.equal(before, #log_of(shipped))
  end)

  it("names a wrong password as an authentication failure", function()
    local result, message, code = run(shipped, SHIPPED, { password = "not-the-password" })
    assert.is_nil(result)
    assert.equal("auth", code)
    assert.matches("authentication failed for user administrator on host edge2.contoso.com "
                   .. "over WinRM/NTLM", message, 1, true)
    assert.is_nil(message:find("not-the-password", 1, true))
  end)

  it("checks a read permit against the plaintext and sends it sealed, in a read-only task",
     function()
    local permit = require "runbook.permit"
    require "powershell.reads"             -- registers the "powershell" kind of read
    local set_line = powershell.command_line(powershell.wrap(powershell.command("Set-CsSite",
      { Identity = "Site2", Description = "changed in a check" })))
    local read = assert(permit.read("powershell", GET_SITES))
    local result = task.run(function()
      return task.read_only(function()
        return winrm.run({ name = "edge2.contoso.com", address = SHIPPED,
                           port = tonumber(shipped.port), scheme = "http",
                           user = shipped.user, password = shipped.password },
                         GET_SITES, { read_permit = read })
      end)
    end)
    assert.equal(0, result.status)
    local before = #log_of(shipped)
    local ok, err = pcall(task.run, function()
      return task.read_only(function()
        return winrm.run({ name = "edge2.contoso.com", address = SHIPPED,
                           port = tonumber(shipped.port), scheme = "http",
                           user = shipped.user, password = shipped.password },
                         set_line, { read_permit = read })
      end)
    end)
    assert.is_false(ok)
    assert.matches("refusing to POST", tostring(err), 1, true)
    assert.is_nil(log_of(shipped):sub(before + 1):find("command", 1, true))
  end)

  it("binds NTLM to the TLS channel, as CbtHardeningLevel Strict requires", function()
    local before = #log_of(strict)
    local result = assert(run(strict, STRICT))
    assert.equal(0, result.status)
    local log = log_of(strict):sub(before + 1)
    assert.matches("auth ok ntlm administrator", log, 1, true)
    assert.is_nil(log:find("sealed", 1, true))     -- over HTTPS, TLS protects the messages
  end)
end)
