-- One PowerShell per host per run over WinRM (modules/pssession.lua, winrm.open_process)
-- against the WS-Management emulator as Windows ships it (HTTP, AllowUnencrypted false,
-- NTLM with message encryption; tests/lab/winrm.sh --shipped, 127.0.23.80-82), whose
-- commands run the Lync emulator: one shell and one command per host, a Send per script and
-- Receive until its frame came; frames survive what cmdlets print; each Send needs its own
-- read permit while planning, checked in C on exactly its bytes; a lost session is re-opened
-- once for a read and never re-sends a change; a host that cannot keep a session is served
-- one shell per command; every shell is deleted with the run.
local lab = require "helpers.servers"
local support = require "support"
support.unwind_fully()   -- runbook.gss loads gss-ntlmssp, whose leak tests/lsan.supp names
local task = require "runbook.task"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local powershell = require "powershell"
local pssession = require "pssession"

local A, B, C = "127.0.23.80", "127.0.23.81", "127.0.23.82"
local server, password_file

local function host(address)
  return { name = "edge-" .. address, transport = "winrm", scheme = "http", auth = "ntlm",
           address = address, port = tonumber(server.port), user = server.user,
           password = "file:" .. password_file, timeout = 30, command_timeout = 30 }
end

local emulated = require("helpers.emulated_state").new(function() return server end,
                                                       function(...) return host(...) end)
local state_path, counters, edit = emulated.path, emulated.counters, emulated.edit

-- How many times the emulator's log says `operation` (create, command, send, delete...).
local function logged(operation)
  local count = 0
  for line in support.slurp(server.log):gmatch("[^\n]+") do
    if line:match("^" .. operation .. " ") then count = count + 1 end
  end
  return count
end

describe("a persistent PowerShell session over WinRM", function()
  setup(function()
    server = lab.start("winrm", "--shipped", "auto", A, B, C)
    password_file = server.dir .. "/password"
    support.write(password_file, server.password .. "\n")
    os.execute("chmod 600 " .. support.quote(password_file))
  end)
  teardown(function()
    task.run(cmdlet.close_all)
    lab.stop(server)
  end)
  before_each(emulated.reset)

  it("runs every cmdlet of a host in one shell, one command, one PowerShell process",
     function()
    local creates, commands = logged("create"), logged("command")
    task.run(function()
      local h = host(A)
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      assert.equal("Site:Site2", cmdlet(h, "Get-CsSite", { Identity = "Site2" })[1].Identity)
      cmdlet(h, "Stop-CsWindowsService", { Name = "RTCSRV" })
      local ok, record = cmdlet.try(h, "Get-CsSite", { Identity = "Nowhere" })
      assert.is_nil(ok)
      assert.truthy(record.message:find("Nowhere", 1, true))
      assert.equal("session", pssession.mode(h))
    end)
    local seen = counters(A)
    assert.equal(1, seen.processes)
    assert.equal(1, seen.sessions)
    assert.equal(4, seen.scripts)
    assert.equal(1, logged("create") - creates)
    assert.equal(1, logged("command") - commands)
    local log = support.slurp(server.log)
    assert.is_nil(log:find("send %S+ %d+ end"), "a session's input is never ended by a Send")
    assert.matches("sealed ntlm", log)
  end)

  it("reads its answers in frames, whatever a cmdlet prints around them", function()
    edit(A, function(state) state.noise = true end)
    task.run(function()
      local h = host(A)
      for _ = 1, 3 do assert.equal(3, #cmdlet(h, "Get-CsPool", {})) end
    end)
    assert.equal(1, counters(A).processes)
  end)

  it("takes turns when several tasks call one host at once", function()
    task.run(function()
      local h = host(B)
      local results = task.parallel({ 1, 2, 3, 4, 5 }, function()
        return #cmdlet(h, "Get-CsPool", {})
      end)
      assert.same({ 3, 3, 3, 3, 3 }, results)
    end)
    assert.equal(1, counters(B).processes)
  end)

  it("needs a read permit for each script while planning, checked in C on the bytes sent",
     function()
    task.run(function()
      task.read_only(function()
        local h = host(A)
        assert.equal(3, #cmdlet(h, "Get-CsPool", {}))       -- a read: its own permit
        local ok, err = pcall(cmdlet, h, "Stop-CsWindowsService", { Name = "RTCSRV" })
        assert.is_false(ok)
        assert.truthy(tostring(err):find("not a read", 1, true), tostring(err))
      end)
    end)
    -- the connection itself: a permit for one frame covers no other bytes, and a Send
    -- without a permit refuses while mutation is refused
    local refusals = task.run(function()
      local winrm = require "winrm"
      local permit = require "runbook.permit"
      local command = powershell.session_command(string.rep("0f", 16))
      local options = { name = "edge", address = C, port = tonumber(server.port),
                        scheme = "http", user = server.user, password = server.password }
      local process = assert(winrm.open_process(options, command,
        { read_permit = assert(permit.read("powershell-session", command)) }))
      local read = powershell.session_frame(powershell.session_script("Get-CsPool"))
      local change = powershell.session_frame(powershell.session_script(
        "Stop-CsWindowsService -Name 'RTCSRV'"))
      return task.read_only(function()
        local read_permit = assert(permit.read("powershell-frame", read))
        assert(process:send(read, { read_permit = read_permit }))
        assert.is_nil(permit.read("powershell-frame", change))
        local _, other = pcall(process.send, process, change, { read_permit = read_permit })
        local _, none = pcall(process.send, process, change)
        local answered = ""
        while not answered:match(string.rep("0f", 16) .. " 0 [^\n]*\n") do
          answered = answered .. assert(process:receive(65536, { timeout = 10 }))
        end
        process:close()
        return { other = tostring(other), none = tostring(none) }
      end)
    end)
    assert.matches("the bytes it sends are not the script its read permit is for",
                   refusals.other, 1, true)
    assert.matches("refusing to write to the input of a PowerShell session (POST http://"
                   .. C, refusals.none, 1, true)
    assert.matches("without a read permit for exactly those bytes inside a read-only check",
                   refusals.none, 1, true)
    assert.is_nil(counters(C).by_cmdlet["Stop-CsWindowsService"])
    assert.equal(1, counters(C).by_cmdlet["Get-CsPool"])
  end)

  it("sends a script larger than one envelope in pieces, each with the script's permit",
     function()
    local long = ("x"):rep(100000)
    local before = logged("send")
    local answer = task.run(function()
      local winrm = require "winrm"
      local permit = require "runbook.permit"
      local boundary = string.rep("1e", 16)
      local command = powershell.session_command(boundary)
      local options = { name = "edge", address = C, port = tonumber(server.port),
                        scheme = "http", user = server.user, password = server.password,
                        max_envelope_size = 51200 }
      local process = assert(winrm.open_process(options, command,
        { read_permit = assert(permit.read("powershell-session", command)) }))
      local frame = powershell.session_frame(powershell.session_script(
        powershell.command("Get-CsSite", { Identity = long })))
      return task.read_only(function()
        assert(process:send(frame, { read_permit = assert(permit.read("powershell-frame",
                                                                      frame)) }))
        local answered = ""
        while not answered:match(boundary .. " %d [^\n]*\n") do
          answered = answered .. assert(process:receive(65536, { timeout = 10 }))
        end
        process:close()
        return answered
      end)
    end)
    assert.is_true(logged("send") - before >= 3)
    local status, json = powershell.find_frame(answer, string.rep("1e", 16),
                                               answer:find(" ready", 1, true))
    assert.equal(1, status)                    -- the server read it whole: no such site
    assert.truthy(json:find("x", 1, true), json)
  end)

  it("re-opens a lost session once for a read", function()
    task.run(function()
      local h = host(A)
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      support.sh("pkill -f " .. support.quote("lync-emulator " .. server.state_dir))
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
    end)
    assert.equal(2, counters(A).sessions)
  end)

  it("never sends a change twice after the connection was lost", function()
    edit(A, function(state) state.hang = "Stop-CsWindowsService" end)
    local ok, err = pcall(task.run, function()
      local h = host(A)
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))   -- opened under the normal timeout
      h.command_timeout = 1
      cmdlet(h, "Stop-CsWindowsService", { Name = "RTCSRV" })
    end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("does not send a change twice", 1, true), tostring(err))
    assert.equal(1, counters(A).by_cmdlet["Stop-CsWindowsService"])
  end)

  it("serves a host that cannot keep a session one shell per command", function()
    edit(B, function(state) state.sessions = false end)
    task.run(function()
      local h = host(B)
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      local mode, why = pssession.mode(h)
      assert.equal("per-command", mode)
      assert.truthy(why:find("no-language mode", 1, true), why)
    end)
    local seen = counters(B)
    assert.equal(0, seen.sessions)
    assert.equal(3, seen.processes)   -- the refused session, then one per command
  end)

  it("deletes the shell after Ctrl-C, also with a script under way", function()
    edit(B, function(state) state.hang = "Stop-CsWindowsService" end)
    local scratch = support.tmpdir()
    local ready = scratch .. "/ready"
    local h = host(B)
    local path = support.write(scratch .. "/hang.lua", ([[
      local cmdlet = require "cmdlet"
      local h = { name = %q, transport = "winrm", scheme = "http", auth = "ntlm",
                  address = %q, port = %d, user = %q, password = %q, command_timeout = 600 }
      cmdlet(h, "Get-CsPool", {})
      io.open(%q, "w"):close()
      cmdlet(h, "Stop-CsWindowsService", { Name = "RTCSRV" })   -- hangs on the server
    ]]):format(h.name, h.address, h.port, h.user, h.password, ready))
    -- Ctrl-C once the change reached the server (its cmdlet counted): a Receive under way
    local counted = support.quote(emulator.counters_path(state_path(B)))
    local r = support.sh(("%s run %s & pid=$!\n"
      .. "i=0; while [ ! -e %s ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done\n"
      .. "i=0; while ! grep -q Stop-CsWindowsService %s && [ $i -lt 3000 ]; do sleep 0.01; "
      .. "i=$((i+1)); done\n"
      .. "kill -INT $pid; wait $pid; echo \"exit=$?\""):format(
      support.quote(support.bin), support.quote(path), support.quote(ready), counted))
    os.execute("rm -rf " .. support.quote(scratch))
    assert.matches("exit=4\n$", r.out, nil, false)
    assert.equal(1, counters(B).sessions)
    assert.equal(1, counters(B).by_cmdlet["Stop-CsWindowsService"])   -- it was under way
    assert.equal(logged("create"), logged("delete"), r.err)
    local pattern = support.quote("[l]ync-emulator " .. server.state_dir)
    local lingering = support.sh(("for i in $(seq 50); do pgrep -f %s >/dev/null || exit 0; "
      .. "sleep 0.1; done; pgrep -f %s"):format(pattern, pattern))
    assert.equal("", lingering.out)
  end)

  it("deletes every shell with the run", function()
    task.run(function()
      cmdlet(host(A), "Get-CsPool", {})
      cmdlet(host(C), "Get-CsPool", {})
    end)
    assert.is_true(logged("create") > logged("delete"))
    task.run_exit_handlers()
    assert.equal(logged("create"), logged("delete"), support.slurp(server.log))
  end)
end)
