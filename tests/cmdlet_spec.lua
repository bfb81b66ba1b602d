-- The cmdlet layer, ONE suite run over every transport: `sim` (the Lync emulator in this
-- process), `local` (the emulator as the powershell program, run by runbook.process), `ssh`
-- (a real sshd on 127.0.22.30 whose forced command is the same emulator) and `winrm` (the
-- WS-Management emulator on 127.0.23.72, NTLM over HTTPS, running the same emulator).
local lab = require "helpers.servers"
local support = require "support"
local task = require "runbook.task"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local cjson = require "cjson"
require "lab"   -- the sim transport: the lab plug-in registers it (modules/lab/init.lua)

local function cjson_of(value) return cjson.encode(value) end

local HOSTILE = {
  "O'Brien", "'; Set-CsSite -Identity Site1 -Description pwned; '", "$(Stop-Computer)",
  "`$x`n", "a;b|c&d", "line1\nline2\r\nline3", "\u{2018}typographic\u{2019}",
  "\u{201A}low\u{201B}", "}; exit 0; {", "\"$env:PATH\"", "", "\u{1F600}",
}

-- The suite: `transport` names it; `make_host()` returns the host entry and its state path.
local function shared_suite(transport, make_host)
  describe("cmdlet over " .. transport, function()
    local host, state_path

    before_each(function()
      host, state_path = make_host()
      emulator.save_state(state_path, emulator.default_state("fe1.contoso.com"))
    end)

    local function state() return emulator.load_state(state_path) end
    local function edit_state(fn)
      local s = state()
      fn(s)
      emulator.save_state(state_path, s)
    end
    local function run(...)
      local args = table.pack(...)
      return task.run(function() return cmdlet(host, table.unpack(args, 1, args.n)) end)
    end
    local function failure(...)
      local args = table.pack(...)
      local ok, err = pcall(task.run, function()
        return cmdlet(host, table.unpack(args, 1, args.n))
      end)
      assert.is_false(ok)
      return err
    end

    it("returns Get-CsSite's objects as tables", function()
      local sites = run("Get-CsSite", { Identity = "Site1" })
      assert.equal(1, #sites)
      assert.equal("Site:Site1", sites[1].Identity)
      assert.equal("EdgeServer:edgepool1.contoso.com", sites[1].XmppFederationRoute)
      assert.same({ "fepool1.contoso.com", "edgepool1.contoso.com" }, sites[1].Pools)
    end)

    it("changes the server's state with Set-CsSite", function()
      local result = run("Set-CsSite", { Identity = "Site2",
                                         XmppFederationRoute = "EdgeServer:edgepool2.contoso.com" })
      assert.same({}, result)
      assert.equal("EdgeServer:edgepool2.contoso.com", state().sites[2].route)
      assert.equal("EdgeServer:edgepool2.contoso.com",
                   run("Get-CsSite", { Identity = "Site2" })[1].XmppFederationRoute)
    end)

    it("refuses -Identity in the site:Name format, as the Get-CsSite and Set-CsSite "
       .. "references say", function()
      for _, name in ipairs { "Get-CsSite", "Set-CsSite" } do
        local ok, record = task.run(function()
          return cmdlet.try(host, name, { Identity = "Site:Site2", Description = name == "Set-CsSite"
                                          and "x" or nil })
        end)
        assert.is_nil(ok)
        assert.matches("Site:Site2", record.message)
        assert.equal("ObjectNotFound", record.category)
      end
      assert.is_nil(state().sites[2].Description)
      assert.equal("Site:Site2", run("Get-CsSite", { Identity = 2 })[1].Identity)  -- SiteId
    end)

    it("delivers hostile values as exactly one literal each", function()
      task.run(function()
        for _, value in ipairs(HOSTILE) do
          cmdlet(host, "Set-CsSite", { Identity = "Site2", Description = value })
          assert.equal(value, state().sites[2].Description)
          assert.is_nil(state().sites[1].Description)
        end
      end)
    end)

    it("runs a script longer than cmd.exe's command line, through stdin", function()
      local long = ("x"):rep(6000) .. "\u{2018}'\u{20AC}"
      assert.same({}, run("Set-CsSite", { Identity = "Site2", Description = long }))
      assert.equal(long, state().sites[2].Description)
    end)

    it("raises Microsoft's message and category for an unknown site", function()
      local err = failure("Set-CsSite", { Identity = "Site9", Description = "x" })
      assert.equal('[cmdlet] Set-CsSite on fe1.contoso.com failed: Cannot set "Site" "Site9" '
                   .. 'because it does not exist. (ObjectNotFound)', err:match("%[cmdlet%].*"))
    end)

    it("raises access denied", function()
      edit_state(function(s) s.denied = { "Set-CsSite" } end)
      local err = failure("Set-CsSite", { Identity = "Site2", Description = "x" })
      assert.matches("Set%-CsSite on fe1%.contoso%.com failed: Access is denied%. "
                     .. "%(PermissionDenied%)", err)
      assert.equal("Site:Site1", run("Get-CsSite", { Identity = "Site1" })[1].Identity)
    end)

    it("returns the error record from cmdlet.try", function()
      local list, record = task.run(function()
        return cmdlet.try(host, "Get-CsSite", { Identity = "Nowhere", Bogus = 1 })
      end)
      assert.is_nil(list)
      assert.equal("InvalidArgument", record.category)
      assert.matches("^NamedParameterNotFound,", record.FullyQualifiedErrorId)
      assert.equal("A parameter cannot be found that matches parameter name 'Bogus'.",
                   record.message)
    end)

    it("lists an Edge server's Windows services, and a stop that fails", function()
      local services = run("Get-CsWindowsService", { ComputerName = "edge1.contoso.com" })
      assert.equal(#emulator.edge_services(), #services)
      for _, service in ipairs(services) do assert.equal(4, service.Status) end
      edit_state(function(s) s.services["edge1.contoso.com"][3].refuse_stop = true end)
      local err = failure("Stop-CsWindowsService", { ComputerName = "edge1.contoso.com",
                                                     Name = "RTCMEDIARELAY" })
      assert.matches("cannot be stopped due to the following error: Cannot stop "
                     .. "RTCMEDIARELAY service on computer 'edge1%.contoso%.com'%. "
                     .. "%(CloseError%)", err)
      assert.equal("Running", state().services["edge1.contoso.com"][3].Status)
    end)

    -- Without -NoWait both "write a status report to the screen" (their references): text on
    -- stdout before the answer, which must still be read — a result and an error alike.
    it("reads the answer behind Stop- and Start-CsWindowsService's status report", function()
      local edge = "edge1.contoso.com"
      assert.same({}, run("Stop-CsWindowsService", { ComputerName = edge, Name = "RTCSRV" }))
      assert.equal("Stopped", state().services[edge][5].Status)
      assert.same({}, run("Start-CsWindowsService", { ComputerName = edge, Name = "RTCSRV" }))
      assert.equal("Running", state().services[edge][5].Status)
      edit_state(function(s) s.services[edge][3].refuse_stop = true end)
      local err = failure("Stop-CsWindowsService", { ComputerName = edge })   -- 2 reported first
      assert.matches("Cannot stop RTCMEDIARELAY service on computer 'edge1%.contoso%.com'%. "
                     .. "%(CloseError%)", err)
      assert.equal("Stopped", state().services[edge][1].Status)
    end)

    it("evaluates a read-only probe expression", function()
      local keys = task.run(function()
        return cmdlet.evaluate(host, "(Get-Command -Name 'Set-CsSite').Parameters.Keys")
      end)
      local found = {}
      for _, key in ipairs(keys) do found[key] = true end
      assert.is_true(found.XmppFederationRoute)
      assert.is_nil(found.XmppExternalFederationRoute)
    end)
  end)
end

shared_suite("sim", function()
  local dir = support.tmpdir()
  local path = dir .. "/fe1.json"
  return { name = "fe1.contoso.com", transport = "sim", state_file = path }, path
end)

-- The emulator as the local PowerShell takes runbook's arguments only, so its state is in
-- its default directory, which one run at a time may use.
describe("the local transport", function()
  local release
  setup(function() release = require("lab_lock").acquire("local-powershell") end)
  teardown(function() release() end)

  shared_suite("local", function()
    local dir = support.root .. "/build/lab/local-powershell"
    os.execute("mkdir -p " .. support.quote(dir))
    return { name = "fe1.contoso.com", transport = "local", powershell = { support.emulator } },
           dir .. "/local.json"
  end)

  -- (inventory's powershell, pattern of the refusal or nil when it runs)
  local PROGRAMS = {
    { support.emulator, nil },
    { { "sh", "-c", "echo '[]'" }, 'powershell = { "sh", "%-c", "echo \'%[%]\'" } is not a' },
    { { support.emulator, "-NoLogo" }, "is not a PowerShell runbook starts" },
    { "/bin/sh", 'powershell = "/bin/sh" is not a PowerShell runbook starts: name one of '
                 .. "powershell, pwsh, " },
    { "tests/lab/lync-emulator", "is not a PowerShell" },      -- only exactly as listed
  }
  for _, case in ipairs(PROGRAMS) do
    local program, refusal = case[1], case[2]
    it((refusal and "refuses" or "runs") .. " powershell = " .. cjson_of(program)
       .. " in a run as in a plan", function()
      local host = { name = "fe1.contoso.com", transport = "local", powershell = program }
      local ok, result = pcall(task.run, function() return cmdlet(host, "Set-CsSite",
        { Identity = "Site2", Description = "x" }) end)
      if refusal then
        assert.is_false(ok)
        assert.matches(refusal, result)
      else
        assert.is_true(ok, result)
      end
    end)
  end
end)

describe("cmdlet over winrm", function()
  local server
  setup(function() server = lab.start("winrm", "auto", "127.0.23.72") end)
  teardown(function() lab.stop(server) end)

  local function winrm_host(extra)
    local secret = server.dir .. "/password"
    if not io.open(secret) then
      support.write(secret, server.password .. "\n")
      os.execute("chmod 600 " .. support.quote(secret))
    end
    local host = { name = "fe1.contoso.com", transport = "winrm", address = "127.0.23.72",
                   port = tonumber(server.port), user = "FE1\\" .. server.user,
                   password = "file:" .. secret, ca_file = server.ca_file }
    for k, v in pairs(extra or {}) do host[k] = v end
    return host
  end

  shared_suite("winrm", function()
    return winrm_host(), server.state_dir .. "/127.0.23.72.json"
  end)

  it("raises auth with the user and host when the password is wrong", function()
    local secret = support.write(server.dir .. "/wrong", "not the password\n")
    os.execute("chmod 600 " .. support.quote(secret))
    local ok, err = pcall(task.run, function()
      return cmdlet(winrm_host { password = "file:" .. secret }, "Get-CsSite", {})
    end)
    assert.is_false(ok)
    assert.matches("could not run Get%-CsSite on fe1%.contoso%.com: authentication failed for "
                   .. "user FE1\\administrator on host fe1%.contoso%.com over WinRM/NTLM.*%(auth%)$",
                   err)
    assert.equal("auth", require("runbook.failure").cause(err))
    assert.is_nil(err:find("not the password", 1, true))
  end)

  it("refuses a password written into the inventory", function()
    local ok, err = pcall(task.run, function()
      return cmdlet(winrm_host { password = server.password }, "Get-CsSite", {})
    end)
    assert.is_false(ok)
    assert.matches("is not a credential reference", err)
  end)
end)

describe("cmdlet over ssh", function()
  local server
  setup(function() server = lab.start("sshd", "auto", "127.0.22.30") end)
  teardown(function()
    cmdlet.close_all()
    lab.stop(server)
  end)

  local function ssh_host(extra)
    local host = { name = "fe1.contoso.com", transport = "ssh", address = "127.0.22.30",
                   port = tonumber(server.port), user = server.user, key_file = server.lync_key,
                   known_hosts = server.known_hosts }
    for k, v in pairs(extra or {}) do host[k] = v end
    return host
  end

  shared_suite("ssh", function()
    return ssh_host(), server.state_dir .. "/127.0.22.30.json"
  end)

  it("reads the answer behind a status report with one process per command too", function()
    local path = server.state_dir .. "/127.0.22.30.json"
    emulator.save_state(path, emulator.default_state("fe1.contoso.com"))
    local host = ssh_host { session = false }
    local before = emulator.counters(path)
    local answers = task.run(function()
      return { cmdlet(host, "Stop-CsWindowsService", { ComputerName = "edge1.contoso.com",
                                                       Name = "RTCSRV" }),
               cmdlet(host, "Get-CsSite", { Identity = "Site1" }) }
    end)
    assert.same({}, answers[1])
    assert.equal("Site:Site1", answers[2][1].Identity)
    assert.equal("Stopped", emulator.load_state(path).services["edge1.contoso.com"][5].Status)
    local after = emulator.counters(path)
    assert.equal(before.sessions, after.sessions)          -- no session: a process per command
    assert.equal(before.processes + 2, after.processes)
  end)

  it("raises with the transport's code when the key is refused", function()
    local ok, err = pcall(task.run, function()
      return cmdlet(ssh_host { key_file = server.dir .. "/ssh_host_ed25519_key" },
                    "Get-CsSite", {})
    end)
    assert.is_false(ok)
    assert.matches("%[cmdlet%] could not run Get%-CsSite on fe1%.contoso%.com: SSH "
                   .. "authentication .*%(auth%)", err)
    assert.equal("auth", require("runbook.failure").cause(err))
  end)

  it("opens a protected key with a passphrase given as a credential reference", function()
    local secret = support.write(server.dir .. "/passphrase", "lab passphrase\n")
    os.execute("chmod 600 " .. support.quote(secret))
    local sites = task.run(function()
      return cmdlet(ssh_host { key_file = server.locked_key, passphrase = "file:" .. secret },
                    "Get-CsSite", {})
    end)
    assert.equal(2, #sites)
    local ok, err = pcall(task.run, function()
      return cmdlet(ssh_host { key_file = server.locked_key, passphrase = "lab passphrase" },
                    "Get-CsSite", {})
    end)
    assert.is_false(ok)
    assert.matches("is not a credential reference", err)
  end)

  it("raises hostkey for an unknown server key", function()
    local empty = support.write(server.dir .. "/empty_known_hosts", "")
    local ok, err = pcall(task.run, function()
      return cmdlet(ssh_host { known_hosts = empty }, "Get-CsSite", {})
    end)
    assert.is_false(ok)
    assert.matches("SHA256:.*%(hostkey%)$", err)
  end)
end)

describe("cmdlet in plan mode", function()
  it("refuses a mutating cmdlet and still runs Get- cmdlets", function()
    local dir = support.tmpdir()
    emulator.save_state(dir .. "/fe1.json", emulator.default_state("fe1.contoso.com"))
    local script = support.write(dir .. "/plan.lua", ([[
      package.path = "modules/?.lua;modules/?/init.lua;" .. package.path
      package.cpath = "build/lib/?.so;" .. package.cpath
      local core = require "runbook.task.core"
      local task = require "runbook.task"
      local cmdlet = require "cmdlet"
      require "lab"   -- the sim transport
      local host = { name = "fe1", transport = "sim", state_file = %q }
      core.enter_plan_mode()
      task.run(function()
        print(#cmdlet(host, "Get-CsSite", {}))
        print(pcall(cmdlet, host, "Set-CsSite", { Identity = "Site2", Description = "x" }))
      end)
    ]]):format(dir .. "/fe1.json"))
    local r = support.sh("lua5.4 " .. support.quote(script))
    assert.equal(0, r.code, r.err)
    assert.matches("^2\nfalse\t.*refusing to run Set%-CsSite on fe1 while planning", r.out)
    assert.is_nil(emulator.load_state(dir .. "/fe1.json").sites[2].Description)
    os.execute("rm -rf " .. support.quote(dir))
  end)
end)
