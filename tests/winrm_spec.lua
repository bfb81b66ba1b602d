-- modules/winrm.lua against the WS-Management emulator (tests/lab/winrm_emulator.py, proven
-- faithful with python3-winrm in tests/winrm_emulator_spec.lua) on 127.0.23.70-71: NTLM and
-- Basic over HTTPS, plain HTTP as an opt-in, the shell lifecycle (also after a timeout and a
-- cancel), OperationTimeout retries bounded by the deadline, MaxEnvelopeSize, and the
-- errors an operator sees.
local lab = require "helpers.servers"
local support = require "support"
local task = require "runbook.task"
local powershell = require "powershell"
local winrm = require "winrm"
local cjson = require "cjson"

local GET_SITES = powershell.command_line(powershell.wrap(powershell.command("Get-CsSite", {})))

describe("winrm", function()
  local server, plain

  setup(function()
    server = lab.start("winrm", "auto", "127.0.23.70")
    plain = lab.start("winrm", "--http", "auto", "127.0.23.71")
  end)
  teardown(function()
    lab.stop(server)
    lab.stop(plain)
  end)

  local function control(settings)
    support.write(server.control, cjson.encode(settings))
  end
  after_each(function() control({}) end)

  local function options(extra)
    local o = { name = "edge2.contoso.com", address = "127.0.23.70", port = tonumber(server.port),
                user = server.user, password = server.password, ca_file = server.ca_file }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  local function log_lines()
    local f = io.open(server.log, "rb")
    local text = f and f:read("a") or ""
    if f then f:close() end
    local lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    return lines
  end

  -- The log lines written after mark (a count of lines), as one string.
  local function log_since(mark)
    return table.concat(log_lines(), "\n", mark + 1)
  end

  local function literal(text) return (text:gsub("%p", "%%%0")) end

  local function run(extra, command_line, run_options)
    return task.run(function()
      return winrm.run(options(extra), command_line or GET_SITES, run_options)
    end)
  end

  it("runs a command over HTTPS with NTLM, then signals and deletes the shell", function()
    local mark = #log_lines()
    local result = assert(run())
    assert.equal(0, result.status)
    local sites = cjson.decode(result.stdout)
    assert.equal(2, #sites)
    assert.equal("EdgeServer:edgepool1.contoso.com", sites[1].XmppFederationRoute)
    local log = log_since(mark)
    assert.matches("auth ok ntlm administrator", log, 1, true)
    local shell = log:match("create (%S+)")
    assert.truthy(shell)
    local command = log:match("command " .. literal(shell) .. " (%S+)")
    assert.truthy(command)
    local order = {}
    for _, pattern in ipairs { "create ", "command ", "receive " .. literal(command) .. " Done",
                               "signal " .. literal(command) .. " terminate",
                               "delete " .. literal(shell) } do
      order[#order + 1] = assert(log:find(pattern), pattern)
    end
    for i = 2, #order do assert.is_true(order[i] > order[i - 1]) end
    local _, handshakes = log:gsub("auth ok ntlm", "")
    assert.equal(1, handshakes)    -- one handshake, then the connection stays authenticated
  end)

  it("runs a command with Basic auth", function()
    local result = assert(run { auth = "basic" })
    assert.equal(0, result.status)
    assert.equal(2, #cjson.decode(result.stdout))
  end)

  it("returns PowerShell's error record with exit status 1", function()
    local script = powershell.wrap(powershell.command("Set-CsSite",
                                                      { Identity = "Site9", Description = "x" }))
    local result = assert(run(nil, powershell.command_line(script)))
    assert.equal(1, result.status)
    local record = cjson.decode(result.stdout)
    assert.equal('Cannot set "Site" "Site9" because it does not exist.', record.message)
    assert.equal("ObjectNotFound", record.category)
  end)

  for _, auth in ipairs { "ntlm", "basic" } do
    it("says which user failed to authenticate where, over " .. auth, function()
      local mark = #log_lines()
      local result, message, code = run { auth = auth, password = "wrong password" }
      assert.is_nil(result)
      assert.equal("auth", code)
      assert.matches("authentication failed for user administrator on host edge2.contoso.com "
                     .. "over WinRM/" .. (auth == "ntlm" and "NTLM" or "Basic"), message, 1, true)
      assert.is_nil(message:find("wrong password", 1, true))
      assert.matches("auth failed", log_since(mark), 1, true)
      assert.is_nil(log_since(mark):find("create", 1, true))
    end)
  end

  it("refuses a certificate not signed by ca_file, with code tls", function()
    local result, message, code = run { ca_file = "/etc/ssl/certs/ca-certificates.crt" }
    assert.is_nil(result)
    assert.equal("tls", code)
    assert.matches("https://127.0.23.70:" .. server.port .. "/wsman", message, 1, true)
  end)

  it("reports refused when nothing listens", function()
    local result, message, code = run { port = 9 }
    assert.is_nil(result)
    assert.equal("refused", code)
    assert.matches("WinRM to edge2.contoso.com", message, 1, true)
  end)

  it("speaks plain HTTP only when the scheme says so", function()
    local result = assert(run { address = "127.0.23.71", port = tonumber(plain.port),
                                scheme = "http", auth = "basic", allow_unencrypted = true })
    assert.equal(0, result.status)
    local _, _, code = run { address = "127.0.23.71", port = tonumber(plain.port) }
    assert.equal("tls", code)        -- https by default: an http listener is not accepted
  end)

  it("retries Receive through OperationTimeout faults until the command is done", function()
    control { delay = 2.5 }
    local mark = #log_lines()
    local result = assert(run { operation_timeout = 1 })
    assert.equal(0, result.status)
    assert.matches("receive %S+ timeout", log_since(mark))
  end)

  it("stops at command_timeout, never later, and still closes the shell", function()
    control { delay = 30 }
    local mark = #log_lines()
    local started = task.run(task.now)
    local result, message, code = run { operation_timeout = 1, command_timeout = 1.5 }
    local took = task.run(task.now) - started
    assert.is_nil(result)
    assert.equal("timeout", code)
    assert.matches("did not finish within 1.5 s", message, 1, true)
    assert.is_true(took < 8, "took " .. took .. " s")
    local log = log_since(mark)
    local shell = assert(log:match("create (%S+)"))
    assert.matches("signal %S+ terminate", log)
    assert.matches("delete " .. literal(shell), log)
  end)

  it("closes the shell when the task is cancelled mid-command", function()
    control { delay = 30 }
    local mark = #log_lines()
    local ok, err = task.run(function()
      local worker = task.spawn(function()
        return winrm.run(options { operation_timeout = 1 }, GET_SITES)
      end)
      -- the first Receive has come back: the client knows the command it must signal
      while not log_since(mark):find("receive ", 1, true) do task.sleep(0.02) end
      worker:cancel()
      return worker:join()
    end)
    assert.is_false(ok)
    assert.equal("cancelled", err)
    local log = log_since(mark)
    local shell = assert(log:match("create (%S+)"))
    assert.matches("signal %S+ terminate", log)
    assert.matches("delete " .. literal(shell), log)
  end)

  it("sends stdin in pieces that fit MaxEnvelopeSize", function()
    local long = ("x"):rep(100000)
    local script = powershell.wrap(powershell.command("Set-CsSite",
                                                      { Identity = "Site2", Description = long }))
    local line, stdin = powershell.invocation(script)
    assert.truthy(stdin)
    local mark = #log_lines()
    local result = assert(run({ max_envelope_size = 51200 }, line, { stdin = stdin }))
    assert.equal(0, result.status, result.stderr)
    local _, sends = log_since(mark):gsub("send %S+ %d+", "")
    assert.is_true(sends >= 3, "sends: " .. sends)
    assert.matches("send %S+ %d+ end", log_since(mark))
    local sites = assert(run(nil, powershell.command_line(powershell.wrap(
      powershell.command("Get-CsSite", { Identity = "Site2" })))))
    assert.equal(long, cjson.decode(sites.stdout)[1].Description)
  end)
end)
