-- The DNS providers (modules/dns/*.lua) against one shared suite: every provider reads and
-- replaces RRsets with compare-and-swap and refuses in plan mode. rfc2136 runs against a
-- real BIND named (127.0.53.1), powerdns against a real pdns_server with its HTTP API
-- (127.0.53.2), sim against its in-memory zone; an independent reader (dig, or the sim's
-- own query) confirms each change. #dns
local task = require "runbook.task"
local lab = require "lab"
local lab_lock = require "lab_lock"
local support = require "support"
local provider = require "dns.provider"

-- The zone every backend starts with (tests/lab/named.sh and pdns.sh seed the same).
local SEED = {
  { name = "sip.contoso.com", type = "A", ttl = 300, address = "192.0.2.10" },
  { name = "edge1.contoso.com", type = "A", ttl = 300, address = "192.0.2.21" },
  { name = "_xmpp-server._tcp.contoso.com", type = "SRV", ttl = 300, priority = 10,
    weight = 0, port = 5269, target = "edge1.contoso.com" },
}

-- dig's view of an RRset as sorted provider keys
local function dig_reader(address, port)
  return function(name, type)
    local r = support.sh(("dig @%s -p %s +short +norecurse %s %s"):format(address, port,
                                                                        name, type))
    assert.equal(0, r.code, r.err)
    local keys = {}
    for line in r.out:gmatch("[^\n]+") do
      if type == "SRV" then
        local priority, weight, port_, target = line:match("(%d+) (%d+) (%d+) (%S+)")
        line = provider.key("SRV", { priority = tonumber(priority), weight = tonumber(weight),
                                     port = tonumber(port_), target = target })
      elseif type == "TXT" then
        line = ("%q"):format(line:match('^"(.*)"$'))
      end
      keys[#keys + 1] = line
    end
    table.sort(keys)
    return keys
  end
end

local backends = {}

backends[#backends + 1] = {
  name = "sim",
  setup = function(self)
    self.sim = require("dns.sim").new { zone = "contoso.com", records = SEED }
    self.constructor = ("require('dns.sim').new { zone = 'contoso.com', records = %s }")
      :format("{ { name = 'sip.contoso.com', type = 'A', ttl = 300, address = '192.0.2.10' } }")
  end,
  teardown = function() end,
  make = function(self) return require("dns.sim").new { shared = self.sim } end,
  read = function(self, name, type)
    local keys = {}
    for _, record in ipairs(self.sim.query { name = name, type = type }.records) do
      keys[#keys + 1] = provider.key(type, record)
    end
    table.sort(keys)
    return keys
  end,
}

backends[#backends + 1] = {
  name = "rfc2136",
  setup = function(self)
    self.named = lab.start("named", "127.0.53.1", "5303")
    os.execute("chmod 600 " .. support.quote(self.named.key))   -- a credential file
    self.config = { zone = "contoso.com", server = self.named.address,
                    port = tonumber(self.named.port), key = "file:" .. self.named.key }
    self.constructor = ("require('dns.rfc2136').new { zone = 'contoso.com', server = '%s', "
      .. "port = %s, key_file = '%s' }"):format(self.named.address, self.named.port,
                                                self.named.key)
    self.read = function(_, name, type)
      return dig_reader(self.named.address, self.named.port)(name, type)
    end
  end,
  teardown = function(self) lab.stop(self.named) end,
  make = function(self) return require("dns.rfc2136").new(self.config) end,
}

backends[#backends + 1] = {
  name = "powerdns",
  setup = function(self)
    self.pdns = lab.start("pdns", "127.0.53.2", "5305", "8085")
    self.config = { zone = "contoso.com", api_url = self.pdns.api_url,
                    api_key = "file:" .. self.pdns.api_key_file }
    self.constructor = ("require('dns.powerdns').new { zone = 'contoso.com', "
      .. "api_url = '%s', api_key = 'file:%s' }"):format(self.pdns.api_url,
                                                         self.pdns.api_key_file)
    self.read = function(_, name, type)
      return dig_reader(self.pdns.address, self.pdns.port)(name, type)
    end
  end,
  teardown = function(self) lab.stop(self.pdns) end,
  make = function(self) return require("dns.powerdns").new(self.config) end,
}

-- Windows DNS Server through its cmdlets, answered by the emulator (the Windows side is the
-- one side that is emulated); the independent reader is the emulator's own state file.
backends[#backends + 1] = {
  name = "windows",
  setup = function(self)
    local emulator = require "lync.emulator"
    self.dir = support.tmpdir()
    self.state_file = self.dir .. "/dns1.json"
    local state = emulator.default_state("dns1.contoso.com")
    local records = {}
    for _, seed in ipairs(SEED) do
      local short = seed.name:gsub("%.contoso%.com$", "")
      records[#records + 1] = { name = short, type = seed.type, ttl = seed.ttl,
        data = seed.type == "A" and { address = seed.address } or { target = seed.target,
          port = seed.port, priority = seed.priority, weight = seed.weight } }
    end
    state.dns_zones = { ["contoso.com"] = { records = records } }
    emulator.save_state(self.state_file, state)
    self.host = { name = "dns1.contoso.com", transport = "sim", state_file = self.state_file }
    self.constructor = ("require('dns.windows').new { zone = 'contoso.com', host = { name = "
      .. "'dns1.contoso.com', transport = 'sim', state_file = '%s' } }"):format(self.state_file)
    self.read = function(_, name, type)
      local zone = emulator.load_state(self.state_file).dns_zones["contoso.com"]
      local short = provider.bare(name):gsub("%.contoso%.com$", "")
      local keys = {}
      for _, record in ipairs(zone.records) do
        if record.name == short and record.type == type then
          local r = { name = name, type = type }
          for k, v in pairs(record.data) do r[k] = math.tointeger(v) or v end
          keys[#keys + 1] = provider.key(type, r)
        end
      end
      table.sort(keys)
      return keys
    end
  end,
  teardown = function(self) os.execute("rm -rf " .. support.quote(self.dir)) end,
  make = function(self) return require("dns.windows").new { zone = "contoso.com", host = self.host } end,
}

local function keys_of(type, records)
  local keys = {}
  for _, record in ipairs(records) do keys[#keys + 1] = provider.key(type, record) end
  table.sort(keys)
  return keys
end

for _, backend in ipairs(backends) do
  describe("dns provider " .. backend.name .. " #dns", function()
    local release
    setup(function()
      release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
      backend:setup()
    end)
    teardown(function()
      backend:teardown()
      release()
    end)

    local function run(fn) return task.run(fn) end

    it("gets an RRset with its TTL, and an empty list for a name that has none", function()
      run(function()
        local p = backend:make()
        local records = assert(p.get("sip.contoso.com", "A"))
        assert.equal(1, #records)
        assert.equal("192.0.2.10", records[1].address)
        assert.equal(300, records[1].ttl)
        assert.same({}, assert(p.get("nothing.contoso.com", "A")))
      end)
    end)

    it("replaces an A record", function()
      run(function()
        local p = backend:make()
        assert(p.get("sip.contoso.com", "A"))
        local result = assert(p.set("sip.contoso.com", "A", { { address = "192.0.2.11" } }))
        assert.is_true(result.changed)
        assert.matches("- 192.0.2.10", result.diff, 1, true)
        assert.matches("+ 192.0.2.11", result.diff, 1, true)
      end)
      assert.same({ "192.0.2.11" }, backend:read("sip.contoso.com", "A"))
      local again = run(function() return backend:make().get("sip.contoso.com", "A") end)
      assert.same({ "192.0.2.11" }, keys_of("A", again))
    end)

    it("adds an SRV record next to the existing one, keeping it", function()
      run(function()
        local p = backend:make()
        local records = assert(p.get("_xmpp-server._tcp.contoso.com", "SRV"))
        records[#records + 1] = { priority = 20, weight = 0, port = 5269,
                                  target = "edge2.contoso.com" }
        assert(p.set("_xmpp-server._tcp.contoso.com", "SRV", records))
      end)
      assert.same({ "10 0 5269 edge1.contoso.com", "20 0 5269 edge2.contoso.com" },
                  backend:read("_xmpp-server._tcp.contoso.com", "SRV"))
    end)

    it("reports no change when the RRset already holds the values", function()
      local result = run(function()
        local p = backend:make()
        return assert(p.set("edge1.contoso.com", "A", { { address = "192.0.2.21" } }))
      end)
      assert.is_false(result.changed)
      assert.same({ "192.0.2.21" }, backend:read("edge1.contoso.com", "A"))
    end)

    it("creates a new RRset and deletes it again", function()
      run(function()
        local p = backend:make()
        assert(p.set("new.contoso.com", "TXT", { { text = "created by runbook" } }, 120))
      end)
      assert.same({ '"created by runbook"' }, backend:read("new.contoso.com", "TXT"))
      run(function()
        local p = backend:make()
        local result = assert(p.delete("new.contoso.com", "TXT"))
        assert.is_true(result.changed)
      end)
      assert.same({}, backend:read("new.contoso.com", "TXT"))
    end)

    it("changes only the TTL of an RRset", function()
      local records = run(function()
        local p = backend:make()
        assert(p.get("edge1.contoso.com", "A"))
        assert(p.set("edge1.contoso.com", "A", { { address = "192.0.2.21" } }, 60))
        return backend:make().get("edge1.contoso.com", "A")
      end)
      assert.equal(60, records[1].ttl)
    end)

    it("detects a concurrent edit and does not overwrite it", function()
      local result, message, code = run(function()
        local mine, theirs = backend:make(), backend:make()
        assert(mine.get("edge1.contoso.com", "A"))
        assert(theirs.get("edge1.contoso.com", "A"))
        assert(theirs.set("edge1.contoso.com", "A", { { address = "192.0.2.31" } }))
        return mine.set("edge1.contoso.com", "A", { { address = "192.0.2.41" } })
      end)
      assert.is_nil(result)
      assert.equal("conflict", code)
      assert.matches("changed since it was read", message)
      assert.same({ "192.0.2.31" }, backend:read("edge1.contoso.com", "A"))
    end)

    it("refuses to change anything in plan mode and shows the diff", function()
      local dir = support.tmpdir()
      local path = support.write(dir .. "/plan.lua", ([[
        require("runbook.task.core").enter_plan_mode()
        local p = %s
        print(#assert(p.get("sip.contoso.com", "A")))
        p.set("sip.contoso.com", "A", { { address = "192.0.2.99" } })
      ]]):format(backend.constructor))
      local r = support.runbook("run " .. support.quote(path))
      os.execute("rm -rf " .. support.quote(dir))
      assert.equal(1, r.code, r.err)
      assert.equal("1\n", r.out)
      assert.matches("refusing to change DNS records in contoso.com", r.err, 1, true)
      assert.matches("+ 192.0.2.99", r.err, 1, true)
      assert.is_nil(backend:read("sip.contoso.com", "A")[2])
      assert.not_equal("192.0.2.99", backend:read("sip.contoso.com", "A")[1])
    end)
  end)
end

describe("dns provider sim faults #dns", function()
  it("refuses updates when told to, and changes nothing", function()
    local sim = require("dns.sim").new { zone = "contoso.com", records = SEED }
    sim.fault { refuse_updates = true }
    local result, message, code = sim.set("sip.contoso.com", "A", { { address = "192.0.2.1" } })
    assert.is_nil(result)
    assert.equal("refused", code)
    assert.matches("refused", message)
    assert.equal("192.0.2.10", sim.get("sip.contoso.com", "A")[1].address)
  end)

  it("serves old data from a lagging server until it catches up", function()
    local sim = require("dns.sim").new { zone = "contoso.com", records = SEED,
                                         servers = { "ns1", "ns2" } }
    sim.lag("ns2", 2)
    assert(sim.set("sip.contoso.com", "A", { { address = "192.0.2.1" } }))
    local function at(server)
      return sim.query { name = "sip.contoso.com", type = "A", server = server }
                .records[1].address
    end
    assert.equal("192.0.2.1", at("ns1"))
    assert.equal("192.0.2.10", at("ns2"))
    assert.equal("192.0.2.10", at("ns2"))
    assert.equal("192.0.2.1", at("ns2"))
  end)
end)
