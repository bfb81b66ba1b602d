-- modules/lync.lua against the Lync emulator: in-process (sim) for each helper, then the
-- failover's service and replication steps over real sshd on 127.0.22.40-42.
local lab = require "helpers.servers"
local support = require "support"
local task = require "runbook.task"
local lync = require "lync"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
require "lab"   -- the sim transport: the lab plug-in registers it (modules/lab/init.lua)

local function sim_host(options)
  local dir = support.tmpdir()
  local path = dir .. "/fe1.json"
  emulator.save_state(path, emulator.default_state("fe1.contoso.com", options))
  return { name = "fe1.contoso.com", transport = "sim", state_file = path }, path
end

local function edit(path, fn)
  local state = emulator.load_state(path)
  fn(state)
  emulator.save_state(path, state)
end

local function fails(fn)
  local ok, err = pcall(task.run, fn)
  assert.is_false(ok)
  return err
end

describe("lync", function()
  local host, path
  before_each(function() host, path = sim_host() end)
  after_each(function() os.execute("rm -rf " .. support.quote(path:match("^(.*)/"))) end)

  it("looks up sites and pools", function()
    task.run(function()
      assert.equal("Site:Site2", lync.site(host, "Site2").Identity)
      assert.equal("Site:Site2", lync.site(host, "Site:Site2").Identity)
      assert.equal(2, #lync.sites(host))
      assert.equal("Site:Site1", lync.pool(host, "edgepool1.contoso.com").Site)
      assert.equal(2, #lync.edge_services(host))
      assert.equal("EdgeServer:edgepool2.contoso.com",
                   lync.edge_services(host, "edgepool2.contoso.com")[1].Identity)
    end)
    assert.matches("%[lync%] site 'Site9' not found on fe1%.contoso%.com",
                   fails(function() lync.site(host, "Site9") end))
    assert.matches("%[lync%] pool 'nope%.contoso%.com' not found",
                   fails(function() lync.pool(host, "nope.contoso.com") end))
  end)

  it("lists the Edge servers of an Edge pool and refuses other pools", function()
    local servers = task.run(function()
      return lync.edge_servers_of(host, "edgepool2.contoso.com")
    end)
    assert.same({ "edge2.contoso.com" }, servers)
    assert.matches("not an Edge pool", fails(function()
      lync.edge_servers_of(host, "fepool1.contoso.com")
    end))
  end)

  for _, case in ipairs {
    { parameter = "XmppFederationRoute", stored = "EdgeServer:edgepool2.contoso.com" },
    { parameter = "XmppExternalFederationRoute", stored = "edgepool2.contoso.com" },
  } do
    it("sets the federation route with -" .. case.parameter .. " when the server has it",
       function()
      local drifted, drifted_path = sim_host { route_parameter = case.parameter }
      local change, route = task.run(function()
        local plan = lync.route_change(drifted, "Site1", "edgepool2.contoso.com")
        local done = lync.set_federation_route(drifted, "Site1", "edgepool2.contoso.com")
        return { plan = plan, done = done }, lync.federation_route(drifted, "Site1")
      end)
      assert.equal(case.parameter, change.done.parameter)
      assert.equal("edgepool1.contoso.com", change.done.previous)
      assert.equal("edgepool2.contoso.com", route)
      assert.equal("Set-CsSite -Identity Site1 -" .. case.parameter .. " " .. case.stored,
                   change.plan.command)
      assert.equal(case.stored, emulator.load_state(drifted_path).sites[1].route)
    end)
  end

  it("probes the route parameter once per host", function()
    local first = task.run(function() return lync.federation_route_parameter(host) end)
    edit(path, function(s) s.route_parameter = "XmppExternalFederationRoute" end)
    local second = task.run(function() return lync.federation_route_parameter(host) end)
    assert.equal("XmppFederationRoute", first)
    assert.equal("XmppFederationRoute", second)
  end)

  it("probes it once per server, whichever inventory table a phase hands over", function()
    task.run(function() return lync.federation_route_parameter(host) end)
    edit(path, function(s) s.route_parameter = "XmppExternalFederationRoute" end)
    local same_server = {}
    for field, value in pairs(host) do same_server[field] = value end
    assert.equal("XmppFederationRoute",
                 task.run(function() return lync.federation_route_parameter(same_server) end))
  end)

  it("refuses a route to an Edge pool the topology does not have", function()
    local err = fails(function()
      lync.set_federation_route(host, "Site1", "edgepool9.contoso.com")
    end)
    assert.matches("Cannot find service \"EdgeServer:edgepool9%.contoso%.com\"", err)
    assert.equal("EdgeServer:edgepool1.contoso.com", emulator.load_state(path).sites[1].route)
  end)

  it("stops and starts the services of an Edge server and waits for them", function()
    local edge = { computer = "edge1.contoso.com", interval = 0.01 }
    task.run(function() lync.stop_services(host, edge) end)
    for _, service in ipairs(emulator.load_state(path).services["edge1.contoso.com"]) do
      assert.equal("Stopped", service.Status)
    end
    local statuses = task.run(function()
      lync.start_services(host, edge)
      return lync.services(host, edge)
    end)
    assert.equal(#emulator.edge_services(), #statuses)
    for _, service in ipairs(statuses) do assert.equal("Running", service.Status) end
  end)

  it("reports a service that refuses to stop", function()
    edit(path, function(s) s.services["edge1.contoso.com"][5].refuse_stop = true end)
    local err = fails(function()
      lync.stop_services(host, { computer = "edge1.contoso.com", names = { "RTCSRV" } })
    end)
    assert.matches("Stop%-CsWindowsService on fe1%.contoso%.com failed: Service 'Lync Server "
                   .. "Access Edge %(RTCSRV%)' cannot be stopped", err)
  end)

  it("gives up waiting for services with the ones still behind", function()
    edit(path, function(s) s.services["edge2.contoso.com"][2].Status = "Stopped" end)
    local err = fails(function()
      lync.wait_services(host, "Running", { computer = "edge2.contoso.com", timeout = 0.05,
                                            interval = 0.01 })
    end)
    assert.matches("services on edge2%.contoso%.com not Running within 0%.05 s: "
                   .. "RTCDATAPROXY %(Stopped%)$", err)
  end)

  it("waits until CMS replication reached the Edge servers", function()
    local before, after = task.run(function()
      lync.set_federation_route(host, "Site2", "edgepool2.contoso.com")
      local stale = lync.replication_status(host, "edge1.contoso.com")[1]
      lync.wait_until_replicated(host, { "edge1.contoso.com", "edge2.contoso.com" },
                                 { interval = 0.01, timeout = 5 })
      return stale, lync.replication_status(host)
    end)
    assert.is_false(before.UpToDate)
    assert.equal(1700000000, before.LastStatusReport)
    for _, replica in ipairs(after) do
      if replica.ReplicaFqdn:match("^edge") then assert.is_true(replica.UpToDate) end
    end
  end)

  it("names the replica that never catches up", function()
    edit(path, function(s) s.replicas[3].stuck = true end)
    local err = fails(function()
      lync.set_federation_route(host, "Site2", "edgepool2.contoso.com")
      lync.wait_until_replicated(host, { "edge1.contoso.com", "edge2.contoso.com" },
                                 { interval = 0.01, timeout = 0.1 })
    end)
    assert.matches("CMS replication to edge2%.contoso%.com not up to date within 0%.1 s", err)
  end)

  it("discovers the topology", function()
    local topology = task.run(function() return lync.topology(host) end)
    assert.equal("XmppFederationRoute", topology.route_parameter)
    assert.equal("edgepool1.contoso.com", topology.sites.Site1.route)
    assert.is_nil(topology.sites.Site2.route)
    assert.same({ site = "Site2", servers = { "edge2.contoso.com" } },
                topology.edge_pools["edgepool2.contoso.com"])
    assert.is_nil(topology.edge_pools["fepool1.contoso.com"])
  end)
end)

describe("lync over ssh", function()
  local server
  setup(function()
    server = lab.start("sshd", "auto", "127.0.22.40", "127.0.22.41", "127.0.22.42")
  end)
  teardown(function()
    cmdlet.close_all()
    lab.stop(server)
  end)

  local function host(address, name)
    return { name = name, transport = "ssh", address = address, port = tonumber(server.port),
             user = server.user, key_file = server.lync_key, known_hosts = server.known_hosts }
  end

  it("moves the route, waits for replication and restarts Edge services in parallel",
     function()
    local cms = host("127.0.22.40", "fe1.contoso.com")
    local edges = { host("127.0.22.41", "edge1.contoso.com"),
                    host("127.0.22.42", "edge2.contoso.com") }
    for _, address in ipairs { "127.0.22.40", "127.0.22.41", "127.0.22.42" } do
      emulator.save_state(server.state_dir .. "/" .. address .. ".json",
                          emulator.default_state(address))
    end
    local results, failures = task.run(function()
      lync.set_federation_route(cms, "Site2", "edgepool2.contoso.com")
      lync.wait_until_replicated(cms, { "edge1.contoso.com", "edge2.contoso.com" },
                                 { interval = 0.01, timeout = 10 })
      return task.parallel(edges, function(edge)
        lync.stop_services(edge, { interval = 0.01 })
        local stopped = {}
        for _, service in ipairs(lync.services(edge)) do stopped[service.Status] = true end
        lync.start_services(edge, { interval = 0.01 })
        return stopped
      end)
    end)
    assert.same({}, failures)
    assert.same({ { Stopped = true }, { Stopped = true } }, results)
    local state = emulator.load_state(server.state_dir .. "/127.0.22.40.json")
    assert.equal("EdgeServer:edgepool2.contoso.com", state.sites[2].route)
    for _, address in ipairs { "127.0.22.41", "127.0.22.42" } do
      local edge = emulator.load_state(server.state_dir .. "/" .. address .. ".json")
      for _, service in ipairs(edge.services[address]) do
        assert.equal("Running", service.Status)
      end
    end
  end)
end)
