-- Fewer round trips (issue 15): the services of a server stopped (started) in one script with
-- a result per service, the wait for them run by the server itself (one round trip that
-- returns when the state holds or the timeout passed), the reads of a phase kept per host
-- until a change; a fault injected at one cmdlet inside a batched script still lands there.
-- In-process (sim, counted by a transport that wraps it) and over a real sshd with a
-- persistent session (127.0.22.160-161, the emulators' counters).
local lab = require "helpers.servers"
local support = require "support"
local task = require "runbook.task"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local lync = require "lync"
local phase = require "runbook.phase"

local sent = {}   -- the scripts the "counted" transport ran, in order
cmdlet.register_transport("counted", function(host, command_line, options)
  sent[#sent + 1] = command_line
  return emulator.run_command_line(command_line, host.state_file, options.stdin)
end)

-- The same, but each command takes a while (a round trip): reads overlap
cmdlet.register_transport("slow", function(host, command_line, options)
  sent[#sent + 1] = command_line
  task.sleep(0.05)
  return emulator.run_command_line(command_line, host.state_file, options.stdin)
end)

local function counted_host()
  local path = support.tmpdir() .. "/fe1.json"
  emulator.save_state(path, emulator.default_state("fe1.contoso.com"))
  return { name = "fe1.contoso.com", transport = "counted", state_file = path }, path
end

local function edit(path, fn)
  local state = emulator.load_state(path)
  fn(state)
  emulator.save_state(path, state)
end

describe("reads kept per host per phase", function()
  it("asks Get-CsPool once per phase, again after a change and in the next phase", function()
    local host = counted_host()
    local counts = task.run(function()
      local out = {}
      phase.begin("check")
      sent = {}
      lync.pool(host, "edgepool2.contoso.com")
      lync.edge_servers_of(host, "edgepool2.contoso.com")
      lync.pool(host, "edgepool2.contoso.com").Site = "changed by the caller"
      out.one_phase = #sent
      assert.equal("Site:Site2", lync.pool(host, "edgepool2.contoso.com").Site)  -- a copy
      cmdlet(host, "Set-CsSite", { Identity = "Site2", XmppFederationRoute =
                                   "EdgeServer:edgepool2.contoso.com" })
      lync.pool(host, "edgepool2.contoso.com")
      out.after_change = #sent
      phase.begin("run")
      lync.pool(host, "edgepool2.contoso.com")
      out.next_phase = #sent
      return out
    end)
    assert.same({ one_phase = 1, after_change = 3, next_phase = 4 }, counts)
  end)

  it("finds every pool and site a phase asks about in one list read each", function()
    local host = counted_host()
    sent = {}
    task.run(function()
      phase.begin("check")
      assert.equal("Site:Site1", lync.pool(host, "edgepool1.contoso.com").Site)
      assert.equal("Site:Site2", lync.pool(host, "EdgePool2.contoso.com").Site)
      assert.equal("Site:Site2", lync.site(host, "Site2").Identity)
      assert.equal("Site:Site1", lync.site(host, "site:Site1").Identity)
      assert.equal(2, #lync.sites(host))
      local ok, err = pcall(lync.pool, host, "nope.contoso.com")
      assert.is_false(ok)
      assert.matches("pool 'nope%.contoso%.com' not found on fe1%.contoso%.com %(Get%-CsPool "
                     .. "lists fepool1%.contoso%.com, edgepool1", tostring(err))
    end)
    assert.equal(2, #sent)   -- one Get-CsPool, one Get-CsSite
  end)

  it("sends a read asked by many tasks at once one time, and gives each its own copy",
     function()
    local host = counted_host()
    host.transport = "slow"
    sent = {}
    local sites, parameters = task.run(function()
      phase.begin("check")
      local found = task.parallel({ 1, 2, 3, 4, 5, 6, 7, 8 }, function(i)
        local list = lync.sites(host)
        list[1].Identity = "changed by task " .. i
        return { list = list, parameter = lync.federation_route_parameter(host) }
      end)
      local seen, names = {}, {}
      for i, result in ipairs(found) do
        seen[result.list[1].Identity] = true
        names[i] = result.parameter
      end
      return seen, names
    end)
    assert.equal(2, #sent)   -- one Get-CsSite, one route parameter probe
    for i = 1, 8 do
      assert.is_true(sites["changed by task " .. i])
      assert.equal("XmppFederationRoute", parameters[i])
    end
  end)

  it("never keeps a wait's reads", function()
    local host, path = counted_host()
    edit(path, function(s) s.services["edge1.contoso.com"][2].Status = "Stopped" end)
    sent = {}
    local err = select(2, pcall(task.run, function()
      phase.begin("run")
      lync.services(host, { computer = "edge1.contoso.com" })
      lync.wait_services(host, "Running", { computer = "edge1.contoso.com", timeout = 0.05 })
    end))
    assert.matches("not Running within 0%.05 s: RTCDATAPROXY %(Stopped%)$", err)
    assert.equal(3, #sent)   -- the read, the wait, a fresh read that names the ones behind
  end)
end)

describe("one script per server for the service steps", function()
  it("stops every service in one script, with a result per service", function()
    local host, path = counted_host()
    sent = {}
    task.run(function()
      lync.stop_services(host, { computer = "edge1.contoso.com" })
    end)
    for _, service in ipairs(emulator.load_state(path).services["edge1.contoso.com"]) do
      assert.equal("Stopped", service.Status)
    end
    -- the list, one script of stops, one wait
    assert.equal(3, #sent)
  end)

  it("names the service an injected fault hit inside the batched script", function()
    local host, path = counted_host()
    edit(path, function(s)
      s.fail_call = { cmdlet = "Stop-CsWindowsService", computer = "edge1.contoso.com", at = 3 }
    end)
    local ok, err = pcall(task.run, function()
      lync.stop_services(host, { computer = "edge1.contoso.com" })
    end)
    assert.is_false(ok)
    assert.matches("Stop%-CsWindowsService on fe1%.contoso%.com failed: "
                   .. "Stop%-CsWindowsService failed on call 3 %(injected fault%)", err)
    local statuses = {}
    for i, service in ipairs(emulator.load_state(path).services["edge1.contoso.com"]) do
      statuses[i] = service.Status
    end
    -- the third call changed nothing, the others ran: each service has its own result
    assert.equal("Running", statuses[3])
    assert.equal("Stopped", statuses[1])
    assert.equal("Stopped", statuses[#statuses])
  end)
end)

describe("over a persistent session", function()
  local server
  setup(function() server = lab.start("sshd", "auto", "127.0.22.160", "127.0.22.161") end)
  teardown(function()
    task.run(cmdlet.close_all)
    lab.stop(server)
  end)

  local function host(address)
    return { name = "edge-" .. address, transport = "ssh", address = address,
             port = tonumber(server.port), user = server.user, key_file = server.lync_key,
             known_hosts = server.known_hosts }
  end
  local function state_path(address) return server.state_dir .. "/" .. address .. ".json" end

  it("stops and starts 7 services in 3 scripts each", function()
    local address = "127.0.22.160"
    emulator.save_state(state_path(address), emulator.default_state(address))
    task.run(function() lync.stop_services(host(address), {}) end)
    local after_stop = emulator.counters(state_path(address))
    task.run(function() lync.start_services(host(address), {}) end)
    local after_start = emulator.counters(state_path(address))
    local services = #emulator.edge_services()
    assert.equal(services, after_stop.by_cmdlet["Stop-CsWindowsService"])
    assert.equal(3, after_stop.scripts)
    assert.equal(services, after_start.by_cmdlet["Start-CsWindowsService"])
    assert.equal(6, after_start.scripts)
    assert.equal(1, after_start.processes)
  end)

  it("opens the sessions of every host up front, all at once, before any call", function()
    local addresses = { "127.0.22.160", "127.0.22.161" }
    for _, address in ipairs(addresses) do
      emulator.save_state(state_path(address), emulator.default_state(address))
      os.execute("rm -f " .. support.quote(server.state_dir .. "/" .. address .. ".counters"))
    end
    local opened = task.run(function()
      cmdlet.close_all()
      cmdlet.open_sessions({ host(addresses[1]), host(addresses[2]) })
      local deadline = task.now() + 30
      local function sessions()
        return emulator.counters(state_path(addresses[1])).sessions
          + emulator.counters(state_path(addresses[2])).sessions
      end
      while sessions() < 2 and task.now() < deadline do task.sleep(0.05) end
      local before_any_call = sessions()
      lync.services(host(addresses[1]))
      lync.services(host(addresses[2]))
      return { before_any_call = before_any_call, sessions = sessions(),
               scripts = emulator.counters(state_path(addresses[1])).scripts }
    end)
    assert.same({ before_any_call = 2, sessions = 2, scripts = 1 }, opened)
  end)

  it("waits on the server: one round trip that returns when the state holds", function()
    local address = "127.0.22.161"
    local state = emulator.default_state(address)
    state.services[address][2].Status = "StartPending"
    emulator.save_state(state_path(address), state)
    local started = os.time()
    local outcome = task.run(function()
      local edge = host(address)
      lync.services(edge)   -- the session is open
      local before = emulator.counters(state_path(address)).scripts
      task.spawn(function()
        task.sleep(1)
        local later = emulator.load_state(state_path(address))
        later.services[address][2].Status = "Running"
        emulator.save_state(state_path(address), later)
      end)
      lync.wait_services(edge, "Running", { names = { state.services[address][2].Name },
                                             timeout = 20 })
      return emulator.counters(state_path(address)).scripts - before
    end)
    assert.equal(1, outcome)
    assert.is_true(os.time() - started < 15)
  end)
end)
