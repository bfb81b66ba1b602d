-- modules/remoting.lua against the real WS-Management emulator (tests/lab/winrm.sh), with the
-- Windows settings varied: each server of the readiness report is an address with WinRM's
-- own ports, 5985 (HTTP) and 5986 (HTTPS), so that "the other listener" is where Windows
-- has it. Every try runs in a read-only task, as a readiness check does.
--   127.0.23.90  HTTP as Windows ships (AllowUnencrypted false, Negotiate only) and HTTPS
--                with CbtHardeningLevel Strict
--   127.0.23.91  HTTP with AllowUnencrypted true; nothing on 5986
--   127.0.23.92  HTTP as shipped, the account a local administrator "ops" (not the built-in
--                one) under LocalAccountTokenFilterPolicy 0; nothing on 5986
--   127.0.23.93  nothing listening
--   127.0.23.94  peers that misbehave (tests/lab/hostile.sh from port 5985): 5985 accepts and
--                never answers, 5986 answers garbage
local lab = require "helpers.servers"
local support = require "support"
support.unwind_fully()   -- runbook.gss loads gss-ntlmssp, whose leak tests/lsan.supp names
local remoting = require "remoting"
local task = require "runbook.task"

local SHIPPED, UNENCRYPTED, FILTERED, NOTHING = "127.0.23.90", "127.0.23.91", "127.0.23.92",
                                               "127.0.23.93"
local SILENT = "127.0.23.94"

describe("remoting: which way to a Windows server works, and why the others do not", function()
  local shipped, strict, unencrypted, filtered, silent, secret, said

  setup(function()
    shipped = lab.start("winrm", "--shipped", "5985", SHIPPED)
    strict = lab.start("winrm", "--cbt", "strict", "5986", SHIPPED)
    unencrypted = lab.start("winrm", "--http", "5985", UNENCRYPTED)
    filtered = lab.start("winrm", "--shipped", "--user", "ops", "5985", FILTERED)
    silent = lab.start("hostile", SILENT, "5985")
    secret = support.tmpdir() .. "/password"
    support.write(secret, shipped.password)
    os.execute("chmod 600 " .. support.quote(secret))
    said = {}
  end)
  teardown(function()
    lab.stop(silent)
    lab.stop(filtered)
    lab.stop(unencrypted)
    lab.stop(strict)
    lab.stop(shipped)
    -- nothing the report said carries the password
    for _, text in ipairs(said) do
      assert.is_nil(text:find(shipped.password, 1, true), text)
    end
  end)

  local function host(address, fields)
    local h = { name = "edge1.contoso.com", transport = "winrm", address = address,
                scheme = "http", user = "EDGE1\\administrator", password = "file:" .. secret,
                ca_file = strict.ca_file }
    for key, value in pairs(fields or {}) do h[key] = value end
    return h
  end

  -- report(host) -> the report, whether it holds, what it says (kept for the leak check)
  local function report(h, timeout)
    local r, holds, text = task.run(function()
      return task.read_only(function()
        local r = remoting.check(h, { timeout = timeout or 10 })
        return r, remoting.verdict(h, r)
      end)
    end)
    said[#said + 1] = text
    return r, holds, text
  end

  local function outcomes(r)
    local by_label = {}
    for _, t in ipairs(r.tries) do by_label[t.label] = t.outcome end
    return by_label
  end

  it("reaches a server as Windows ships it over sealed HTTP, and HTTPS under CBT Strict",
     function()
    local r, holds, text = report(host(SHIPPED))
    assert.is_true(holds, text)
    assert.same({ ["http/5985 NTLM sealed (configured)"] = "works",
                  ["https/5986 NTLM"] = "works" }, outcomes(r))
    assert.matches("http/5985 Kerberos sealed: not tried: EDGE1\\administrator is a local "
                   .. "account, which has no Kerberos", text, 1, true)
    local log = support.slurp(shipped.log)
    assert.matches("auth ok ntlm administrator", log, 1, true)
    assert.matches("sealed ntlm %d+", log)
  end)

  it("over HTTPS as configured, names the HTTP listener's verdict too", function()
    local r, holds, text = report(host(SHIPPED, { scheme = "https" }))
    assert.is_true(holds, text)
    assert.same({ ["https/5986 NTLM (configured)"] = "works",
                  ["http/5985 NTLM sealed"] = "works" }, outcomes(r))
  end)

  it("says AllowUnencrypted refuses unsealed where sealed works, and what to change",
     function()
    local r, holds, text = report(host(SHIPPED, { allow_unencrypted = true }))
    assert.is_false(holds)
    assert.equal("unencrypted", outcomes(r)["http/5985 NTLM unsealed (configured)"])
    assert.equal("works", outcomes(r)["http/5985 NTLM sealed"])
    assert.matches("refused unsealed (401) while sealed works: the server's AllowUnencrypted "
                   .. "is false", text, 1, true)
    assert.matches('what to do: http/5985 NTLM sealed works: change the inventory to '
                   .. 'servers["edge1.contoso.com"] = { scheme = "http", port = 5985, auth = '
                   .. '"ntlm", allow_unencrypted = false }', text, 1, true)
  end)

  it("reaches a server with AllowUnencrypted true unsealed, and finds nothing on 5986",
     function()
    local r, holds, text = report(host(UNENCRYPTED, { allow_unencrypted = true }))
    assert.is_true(holds, text)
    assert.same({ ["http/5985 NTLM unsealed (configured)"] = "works",
                  ["http/5985 NTLM sealed"] = "works",
                  ["https/5986 NTLM"] = "not-listening" }, outcomes(r))
    assert.matches("https/5986 NTLM: nothing listens on port 5986 (refused)", text, 1, true)
  end)

  it("names LocalAccountTokenFilterPolicy for a local administrator other than the built-in "
     .. "one refused with 401, and a wrong password as the other possibility", function()
    local r, holds, text = report(host(FILTERED, { user = "EDGE1\\ops" }))
    assert.is_false(holds)
    assert.equal("auth", outcomes(r)["http/5985 NTLM sealed (configured)"])
    assert.matches("either the password of EDGE1\\ops is wrong, or ops is a local "
                   .. "administrator other than the built-in Administrator, whose remote "
                   .. "logon UAC filters while LocalAccountTokenFilterPolicy is not 1",
                   text, 1, true)
    assert.matches("New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\"
                   .. "CurrentVersion\\Policies\\System -Name LocalAccountTokenFilterPolicy "
                   .. "-PropertyType DWord -Value 1 -Force", text, 1, true)
    assert.matches("access denied ops filtered-token", support.slurp(filtered.log), 1, true)
    -- .\ops and a bare ops are local accounts too
    for _, user in ipairs { ".\\ops", "ops" } do
      local _, _, said_too = report(host(FILTERED, { user = user }))
      assert.matches("LocalAccountTokenFilterPolicy is not 1", said_too, 1, true)
    end
  end)

  it("blames a wrong password of the built-in Administrator on the credentials alone",
     function()
    local wrong = support.tmpdir() .. "/wrong"
    support.write(wrong, "not-the-password")
    os.execute("chmod 600 " .. support.quote(wrong))
    local r, holds, text = report(host(SHIPPED, { password = "file:" .. wrong }))
    assert.is_false(holds)
    assert.same({ ["http/5985 NTLM sealed (configured)"] = "auth",
                  ["https/5986 NTLM"] = "auth" }, outcomes(r))
    assert.matches("authentication refused (401, auth): the user EDGE1\\administrator or its "
                   .. "password is wrong", text, 1, true)
    assert.is_nil(text:find("LocalAccountTokenFilterPolicy", 1, true), text)
    assert.is_nil(text:find("not-the-password", 1, true), text)
    assert.matches("what to do: check the user EDGE1\\administrator", text, 1, true)
  end)

  it("says nothing listens, and the PowerShell that makes the listener", function()
    local r, holds, text = report(host(NOTHING))
    assert.is_false(holds)
    assert.same({ ["http/5985 NTLM sealed (configured)"] = "not-listening",
                  ["https/5986 NTLM"] = "not-listening" }, outcomes(r))
    assert.matches("what to do: on the server, elevated: Enable-PSRemoting -Force", text, 1,
                   true)
  end)

  it("names a TLS failure where the listener's certificate is not trusted, and the fix",
     function()
    local untrusting = host(SHIPPED, { scheme = "https" })
    untrusting.ca_file = nil
    local r, holds, text = report(untrusting)
    assert.is_false(holds)
    assert.same({ ["https/5986 NTLM (configured)"] = "tls",
                  ["http/5985 NTLM sealed"] = "works" }, outcomes(r))
    assert.matches("https/5986 NTLM (configured): TLS failed: ", text, 1, true)
    assert.matches('what to do: http/5985 NTLM sealed works: change the inventory to '
                   .. 'servers["edge1.contoso.com"] = { scheme = "http", port = 5985, auth = '
                   .. '"ntlm" }', text, 1, true)
  end)

  it("gives each try its deadline: a listener that never answers is a timeout", function()
    local started = os.time()
    local r, holds, text = report(host(SILENT), 2)
    assert.is_false(holds)
    assert.equal("timeout", outcomes(r)["http/5985 NTLM sealed (configured)"])
    assert.is_not.equal("works", outcomes(r)["https/5986 NTLM"])
    -- 2 s each, side by side; without a deadline of its own a try would wait for the
    -- transport's (30 s and more): 15 s leaves room for a loaded machine
    assert.is_true(os.time() - started <= 15, "the tries took " .. os.time() - started .. " s")
    assert.matches("(timeout)", text, 1, true)
    assert.matches("what to do: open TCP 5985 from this machine to the server", text, 1, true)
  end)

  it("tries Kerberos only where the credentials allow it, and NTLM only with a password",
     function()
    local list, not_tried = remoting.combinations(host(SHIPPED, { user = "ops@CONTOSO.COM" }))
    assert.equal(3, #list)
    assert.equal("kerberos", list[3].auth)
    assert.same({}, not_tried)
    local ticket_only = host(SHIPPED, { auth = "kerberos", ccache = "FILE:/nowhere" })
    ticket_only.user, ticket_only.password = nil, nil
    list, not_tried = remoting.combinations(ticket_only)
    assert.equal(2, #list)
    assert.equal("NTLM needs a password, and the inventory gives none", not_tried[1].why)
    list, not_tried = remoting.combinations(host(SHIPPED, { user = "CONTOSO\\ops" }))
    assert.equal(2, #list)
    assert.matches("Kerberos needs user = \"name@REALM\"", not_tried[1].why, 1, true)
  end)
end)
