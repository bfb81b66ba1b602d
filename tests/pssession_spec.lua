-- One PowerShell per host per run (modules/pssession.lua) over a real sshd whose lync key
-- runs the Lync emulator (tests/lab/sshd.sh, 127.0.22.150-152): every cmdlet of a host goes
-- through one process; frames survive what cmdlets print; each script needs its own read
-- permit while planning, checked in C on exactly the bytes sent; a lost session is re-opened
-- once for a read and never re-sends a change; a host that cannot keep a session is served
-- one process per command; every session ends with the run.
local lab = require "helpers.servers"
local support = require "support"
local task = require "runbook.task"
local cmdlet = require "cmdlet"
local powershell = require "powershell"
local pssession = require "pssession"

local server

local function host(address)
  return { name = "fe-" .. address, transport = "ssh", address = address,
           port = tonumber(server.port), user = server.user, key_file = server.lync_key,
           known_hosts = server.known_hosts, timeout = 60, command_timeout = 60 }
end

local emulated = require("helpers.emulated_state").new(function() return server end,
                                                       function(...) return host(...) end)
local counters, edit = emulated.counters, emulated.edit

local function wait_until(fn, seconds)
  local deadline = os.time() + seconds
  while not fn() and os.time() <= deadline do os.execute("sleep 0.05") end
  return fn()
end

-- The emulator processes serving a session for this lab (their command line names it).
local function session_processes()
  local r = support.sh("pgrep -f " .. support.quote("[l]ync-emulator " .. server.state_dir)
    .. " | wc -l")
  return tonumber(r.out)
end

describe("a persistent PowerShell session", function()
  setup(function()
    server = lab.start("sshd", "auto", "127.0.22.150", "127.0.22.151", "127.0.22.152")
  end)
  teardown(function()
    task.run(cmdlet.close_all)
    lab.stop(server)
  end)
  before_each(emulated.reset)

  it("runs every cmdlet of a host in one PowerShell process", function()
    task.run(function()
      local h = host("127.0.22.150")
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      assert.equal("Site:Site2", cmdlet(h, "Get-CsSite", { Identity = "Site2" })[1].Identity)
      cmdlet(h, "Stop-CsWindowsService", { Name = "RTCSRV" })
      local ok, record = cmdlet.try(h, "Get-CsSite", { Identity = "Nowhere" })
      assert.is_nil(ok)
      assert.truthy(record.message:find("Nowhere", 1, true))
      assert.equal("session", pssession.mode(h))
    end)
    local seen = counters("127.0.22.150")
    assert.equal(1, seen.processes)
    assert.equal(1, seen.sessions)
    assert.equal(4, seen.scripts)
  end)

  it("reads its answers in frames, whatever a cmdlet prints around them", function()
    edit("127.0.22.150", function(state) state.noise = true end)
    task.run(function()
      local h = host("127.0.22.150")
      for _ = 1, 3 do assert.equal(3, #cmdlet(h, "Get-CsPool", {})) end
    end)
  end)

  it("takes turns when several tasks call one host at once", function()
    task.run(function()
      local h = host("127.0.22.151")
      local results = task.parallel({ 1, 2, 3, 4, 5 }, function()
        return #cmdlet(h, "Get-CsPool", {})
      end)
      assert.same({ 3, 3, 3, 3, 3 }, results)
    end)
    assert.equal(1, counters("127.0.22.151").processes)
  end)

  it("needs a read permit for each script while planning, checked on the bytes sent",
     function()
    task.run(function()
      task.read_only(function()
        local h = host("127.0.22.150")
        assert.equal(3, #cmdlet(h, "Get-CsPool", {}))       -- a read: its own permit
        local ok, err = pcall(cmdlet, h, "Stop-CsWindowsService", { Name = "RTCSRV" })
        assert.is_false(ok)
        assert.truthy(tostring(err):find("not a read", 1, true), tostring(err))
      end)
    end)
    -- the channel itself: a permit for one frame does not cover other bytes
    local refused = task.run(function()
      local ssh = require "runbook.ssh"
      local session = assert(ssh.session(cmdlet.ssh_options(host("127.0.22.152"))))
      local command = powershell.session_command(string.rep("0f", 16))
      local permit = require("runbook.permit")
      local channel = assert(session:process(command))
      local read = powershell.session_frame(powershell.session_script("Get-CsPool"))
      local change = powershell.session_frame(powershell.session_script(
        "Stop-CsWindowsService -Name 'RTCSRV'"))
      return task.read_only(function()
        local read_permit = assert(permit.read("powershell-frame", read))
        assert(channel:send(read, { read_permit = read_permit }))
        assert.is_nil(permit.read("powershell-frame", change))
        local ok, err = pcall(channel.send, channel, change, { read_permit = read_permit })
        channel:close()
        session:close()
        return not ok and tostring(err)
      end)
    end)
    assert.truthy(refused and refused:find("write %d+ bytes to a command's input"), refused)
    assert.is_nil(counters("127.0.22.152").by_cmdlet["Stop-CsWindowsService"])
  end)

  it("re-opens a lost session once for a read", function()
    task.run(function()
      local h = host("127.0.22.150")
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      support.sh("pkill -f " .. support.quote("lync-emulator " .. server.state_dir))
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
    end)
    assert.equal(2, counters("127.0.22.150").sessions)
  end)

  it("never sends a change twice after the connection was lost", function()
    edit("127.0.22.150", function(state) state.hang = "Stop-CsWindowsService" end)
    local ok, err = pcall(task.run, function()
      local h = host("127.0.22.150")
      -- The session opens under the normal timeout (a loaded machine may take more than a
      -- second to start it); only the change that hangs gets the short one.
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      h.command_timeout = 1
      cmdlet(h, "Stop-CsWindowsService", { Name = "RTCSRV" })
    end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("does not send a change twice", 1, true), tostring(err))
    assert.equal(1, counters("127.0.22.150").by_cmdlet["Stop-CsWindowsService"])
  end)

  it("names a read that timed out as such, and does not send it again", function()
    -- the last test's hanging emulator writes its state when it ends: wait for it first
    assert.is_true(wait_until(function() return session_processes() == 0 end, 20))
    edit("127.0.22.150", function(state) state.hang = "Get-CsSite" end)
    local ok, err = pcall(task.run, function()
      local h = host("127.0.22.150")
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))   -- the session opens first
      h.command_timeout = 1
      cmdlet(h, "Get-CsSite", {})
    end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("did not answer within 1 s", 1, true), tostring(err))
    assert.is_nil(tostring(err):find("lost twice", 1, true), tostring(err))
    assert.equal(1, counters("127.0.22.150").by_cmdlet["Get-CsSite"])
  end)

  it("serves a host that cannot keep a session one process per command", function()
    edit("127.0.22.151", function(state) state.sessions = false end)
    task.run(function()
      local h = host("127.0.22.151")
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      assert.equal(3, #cmdlet(h, "Get-CsPool", {}))
      local mode, why = pssession.mode(h)
      assert.equal("per-command", mode)
      assert.truthy(why:find("no-language mode", 1, true), why)
    end)
    local seen = counters("127.0.22.151")
    assert.equal(0, seen.sessions)
    assert.equal(3, seen.processes)   -- the refused session, then one per command
  end)

  it("ends every session with the run", function()
    assert.is_true(wait_until(function() return session_processes() == 0 end, 10))
    task.run(function() cmdlet(host("127.0.22.152"), "Get-CsPool", {}) end)
    assert.equal(1, session_processes())
    task.run_exit_handlers()
    assert.is_true(wait_until(function() return session_processes() == 0 end, 5))
  end)
end)
