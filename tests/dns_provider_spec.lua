-- The DNS providers (modules/dns/*.lua) against one shared suite: every provider reads and
-- replaces RRsets with compare-and-swap and refuses in plan mode. rfc2136 runs against a
-- real BIND named (127.0.53.1), against BIND taking GSS-TSIG from a real MIT KDC
-- (127.0.53.15), and against a real pdns_server taking signed dynamic
-- updates (127.0.53.2), powerdns against pdns_server's HTTP API (127.0.53.2), manual
-- against named with an operator who types the printed records into nsupdate, windows
-- against the DnsServer cmdlet emulator, sim against its in-memory zone; an independent
-- reader (dig, the emulator's state, or the sim's own query) confirms each change. #dns
local task = require "runbook.task"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
local provider = require "dns.provider"
require "lab"   -- the sim transport: the lab plug-in registers it (modules/lab/init.lua)

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
    self.sim = require("lab.dns").new { zone = "contoso.com", records = SEED }
    self.constructor = ("require('lab.dns').new { zone = 'contoso.com', records = %s }")
      :format("{ { name = 'sip.contoso.com', type = 'A', ttl = 300, address = '192.0.2.10' } }")
  end,
  teardown = function() end,
  make = function(self) return require("lab.dns").new { shared = self.sim } end,
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

-- The rfc2136 provider signing with GSS-TSIG (RFC 3645: a key negotiated through TKEY, each
-- update signed with the Kerberos context's MIC) against BIND with tkey-gssapi-keytab
-- (127.0.53.15) and a real MIT KDC (tests/lab/kdc.sh, 127.0.88.3:8803).
backends[#backends + 1] = {
  name = "rfc2136 with GSS-TSIG",
  setup = function(self)
    self.kdc = lab.start("kdc", "127.0.88.3", "8803")
    self.named = lab.start("named", "127.0.53.15", "5316", "gss", self.kdc.dns_keytab,
                           self.kdc.user, self.kdc.krb5_conf)
    self.dir = support.tmpdir()
    local password = support.write(self.dir .. "/password", self.kdc.password)
    os.execute("chmod 600 " .. support.quote(password))
    self.config = { zone = "contoso.com", server = self.named.address,
      port = tonumber(self.named.port), key = { gss = true, server_name = "ns1.runbook.test",
        principal = self.kdc.user, credentials = "file:" .. password,
        krb5_config = self.kdc.krb5_conf } }
    self.constructor = ("require('dns.rfc2136').new { zone = 'contoso.com', server = '%s', "
      .. "port = %s, key = { gss = true, server_name = 'ns1.runbook.test', principal = '%s', "
      .. "credentials = 'file:%s', krb5_config = '%s' } }"):format(self.named.address,
      self.named.port, self.kdc.user, password, self.kdc.krb5_conf)
    self.read = function(_, name, type)
      return dig_reader(self.named.address, self.named.port)(name, type)
    end
  end,
  teardown = function(self)
    lab.stop(self.named)
    lab.stop(self.kdc)
    os.execute("rm -rf " .. support.quote(self.dir))
  end,
  make = function(self) return require("dns.rfc2136").new(self.config) end,
}

-- The rfc2136 provider against PowerDNS taking signed dynamic updates (dnsupdate=yes, the
-- TSIG key in its sqlite backend), on 127.0.53.2.
backends[#backends + 1] = {
  name = "rfc2136 on powerdns",
  setup = function(self)
    self.pdns = lab.start("pdns", "127.0.53.2", "5309", "8089")
    self.config = { zone = "contoso.com", server = self.pdns.address,
                    port = tonumber(self.pdns.port), key = "file:" .. self.pdns.key }
    self.constructor = ("require('dns.rfc2136').new { zone = 'contoso.com', server = '%s', "
      .. "port = %s, key_file = '%s' }"):format(self.pdns.address, self.pdns.port,
                                                self.pdns.key)
    self.read = function(_, name, type)
      return dig_reader(self.pdns.address, self.pdns.port)(name, type)
    end
  end,
  teardown = function(self) lab.stop(self.pdns) end,
  make = function(self) return require("dns.rfc2136").new(self.config) end,
}

-- A registrar's zone changed by a person: the manual provider prints the records, and the
-- "operator" types each printed line into nsupdate against a real BIND named (127.0.53.1).
backends[#backends + 1] = {
  name = "manual",
  setup = function(self)
    self.named = lab.start("named", "127.0.53.1", "5308")
    local named = self.named
    self.operator = function(text)
      local commands = {}
      for line in text:gmatch("[^\n]+") do
        local removed, added = line:match("^  remove  (.+)$"), line:match("^  add     (.+)$")
        local retimed = line:match("^  set TTL (.+)$")
        local gone, new = removed or retimed, added or retimed
        if gone then commands[#commands + 1] = "update delete " .. gone end
        if new then commands[#commands + 1] = "update add " .. new end
      end
      assert(#commands > 0, "the manual provider printed nothing to do:\n" .. text)
      local r = support.sh(("nsupdate -k %s"):format(support.quote(named.key)),
        ("server %s %s\nzone contoso.com\n%s\nsend\n"):format(named.address, named.port,
                                                              table.concat(commands, "\n")))
      assert.equal(0, r.code, r.err)
      return true
    end
    self.constructor = ("require('dns.manual').new { zone = 'contoso.com', server = '%s', "
      .. "port = %s, prompt = function() error('asked the operator while planning') end }")
      :format(named.address, named.port)
    self.read = function(_, name, type) return dig_reader(named.address, named.port)(name, type) end
  end,
  teardown = function(self) lab.stop(self.named) end,
  make = function(self)
    return require("dns.manual").new { zone = "contoso.com", server = self.named.address,
      port = tonumber(self.named.port), prompt = self.operator, attempts = 1 }
  end,
}

-- The example provider of docs/dns-providers.md, taken from the page itself, against a fake
-- of its cloud API (tests/lab/exampledns.py, 127.0.53.12); the reader is curl on that API.
backends[#backends + 1] = {
  name = "exampledns (docs/dns-providers.md)",
  setup = function(self)
    local page = support.slurp("docs/dns-providers.md")
    self.code = assert(page:match("```lua\n(%-%-%- dns%.exampledns.-)```"),
                       "docs/dns-providers.md has no dns.exampledns example")
    self.dir = support.tmpdir()
    self.token_file = support.write(self.dir .. "/token", "example-token-" .. os.time())
    os.execute("chmod 600 " .. support.quote(self.token_file))
    self.url = "http://127.0.53.12:8090"
    self.pipe = io.popen(("exec /usr/bin/python3 tests/lab/exampledns.py 127.0.53.12 8090 %s "
                          .. "& echo $!"):format(support.quote(self.token_file)))
    self.pid = self.pipe:read("l")
    assert.equal("ready", self.pipe:read("l"))
    self.constructor = ("(load(%q))().new { zone = 'contoso.com', url = '%s', "
      .. "token = 'file:%s' }"):format(self.code, self.url, self.token_file)
  end,
  teardown = function(self)
    if self.pid then os.execute("kill " .. self.pid) end
    if self.pipe then self.pipe:close() end
    os.execute("rm -rf " .. support.quote(self.dir))
  end,
  make = function(self)
    return assert(load(self.code, "=docs/dns-providers.md"))().new { zone = "contoso.com",
      url = self.url, token = "file:" .. self.token_file }
  end,
  read = function(self, name, type)
    local r = support.sh(("curl -s -H %s %s/v1/zones/contoso.com/rrsets/%s/%s"):format(
      support.quote("Authorization: Bearer " .. support.slurp(self.token_file)), self.url,
      name, type))
    local ok, rrset = pcall(require("cjson").decode, r.out)
    local keys = {}
    for _, value in ipairs(ok and rrset.values or {}) do
      if type == "SRV" then
        local priority, weight, port, target = value:match("(%d+) (%d+) (%d+) (%S+)")
        value = provider.key("SRV", { priority = tonumber(priority), weight = tonumber(weight),
                                      port = tonumber(port), target = target })
      elseif type == "TXT" then value = ("%q"):format(value) end
      keys[#keys + 1] = value
    end
    table.sort(keys)
    return keys
  end,
}

-- Windows DNS Server through its cmdlets, answered by the emulator (the Windows side is the
-- one side that is emulated); the independent reader is the emulator's own state file.
backends[#backends + 1] = {
  name = "windows",
  setup = function(self)
    local emulator = require "lab.emulator"
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
    -- the sim transport comes with the lab plug-in (modules/lab/init.lua)
    self.constructor = ("(require('lab') and require('dns.windows')).new { zone = 'contoso.com', "
      .. "host = { name = 'dns1.contoso.com', transport = 'sim', state_file = '%s' } }")
      :format(self.state_file)
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

-- The windows provider against the emulator, watching every cmdlet it runs: what the zone
-- holds right after each one, so a record that is absent even for one step is seen.
describe("dns provider windows, one cmdlet at a time #dns", function()
  local cmdlet = require "cmdlet"
  local emulator = require "lab.emulator"
  local powershell = require "powershell"
  local SRV = "_xmpp-server._tcp.contoso.com"
  local PRIMARY, STANDBY = "10 0 5269 edge1.contoso.com", "20 0 5269 edgepool2.contoso.com"
  local dir, host, calls, after, fail_at

  -- the cmdlet a command line runs (the script travels as base64 of UTF-16LE)
  local function cmdlet_of(command_line)
    local script = powershell.from_utf16le(powershell.unbase64(command_line:match("(%S+)$")))
    return script:match("%u%l+%-DnsServerResourceRecord")
  end

  -- the zone's records of one name and type as provider keys, with their TTLs
  local function held(name, type)
    local short = name:gsub("%.contoso%.com$", "")
    local out = {}
    local zone = emulator.load_state(host.state_file).dns_zones["contoso.com"]
    for _, record in ipairs(zone.records) do
      if record.name == short and record.type == type then
        local r = {}
        for k, v in pairs(record.data) do r[k] = math.tointeger(v) or v end
        out[provider.key(type, r)] = math.tointeger(record.ttl)
      end
    end
    return out
  end

  setup(function()
    cmdlet.register_transport("watched", function(server, command_line, options)
      calls[#calls + 1] = cmdlet_of(command_line)
      if #calls == fail_at then return nil, "the connection was reset", "closed" end
      local result = emulator.run_command_line(command_line, server.state_file, options.stdin)
      after[#after + 1] = held(SRV, "SRV")
      return result
    end)
  end)

  before_each(function()
    dir = support.tmpdir()
    local state = emulator.default_state("dns1.contoso.com")
    local function srv(priority, target)
      return { name = "_xmpp-server._tcp", type = "SRV", ttl = 300, data = {
        priority = priority, weight = 0, port = 5269, target = target } }
    end
    state.dns_zones = { ["contoso.com"] = { records = {
      { name = "sip", type = "A", ttl = 300, data = { address = "192.0.2.10" } },
      srv(10, "edge1.contoso.com"), srv(20, "edgepool2.contoso.com") } } }
    host = { name = "dns1.contoso.com", transport = "watched", state_file = dir .. "/dns1.json" }
    emulator.save_state(host.state_file, state)
    calls, after, fail_at = {}, {}, nil
  end)
  after_each(function() os.execute("rm -rf " .. support.quote(dir)) end)

  local function windows()
    return require("dns.windows").new { zone = "contoso.com", host = host }
  end

  -- asserts that every state seen after a cmdlet still held the two existing SRV records
  local function never_without_existing_srv()
    assert.is_true(#after > 0)
    for i, records in ipairs(after) do
      assert.is_truthy(records[PRIMARY], "after cmdlet " .. i .. " (" .. calls[i] .. ")")
      assert.is_truthy(records[STANDBY], "after cmdlet " .. i .. " (" .. calls[i] .. ")")
    end
  end

  it("adds one SRV record with one Add, never removing the standby pools' records", function()
    task.run(function()
      local p = windows()
      local records = assert(p.get(SRV, "SRV"))
      records[#records + 1] = { priority = 30, weight = 0, port = 5269,
                                target = "edge3.contoso.com" }
      assert(p.set(SRV, "SRV", records))
    end)
    assert.same({ "Get-DnsServerResourceRecord", "Get-DnsServerResourceRecord",
                  "Add-DnsServerResourceRecord" }, calls)
    never_without_existing_srv()
    assert.same({ [PRIMARY] = 300, [STANDBY] = 300, ["30 0 5269 edge3.contoso.com"] = 300 },
                held(SRV, "SRV"))
  end)

  it("stops at a failing Add, keeps the other records and says what the RRset holds", function()
    fail_at = 4   -- Get (read), Get (re-read before the change), Add, Add
    local result, message, code = task.run(function()
      local p = windows()
      local records = assert(p.get(SRV, "SRV"))
      for _, number in ipairs { 3, 4 } do
        records[#records + 1] = { priority = number * 10, weight = 0, port = 5269,
                                  target = ("edge%d.contoso.com"):format(number) }
      end
      return p.set(SRV, "SRV", records)
    end)
    assert.is_nil(result)
    assert.equal("command", code)
    assert.matches("add 40 0 5269 edge4.contoso.com SRV on dns1.contoso.com failed after 1 "
                   .. "of 2 changes: the connection was reset", message, 1, true)
    assert.matches("now holds: " .. PRIMARY .. ", " .. STANDBY
                   .. ", 30 0 5269 edge3.contoso.com", message, 1, true)
    never_without_existing_srv()
  end)

  it("replaces an A record by adding the new address before removing the old", function()
    local seen = {}
    cmdlet.register_transport("watched-a", function(server, command_line, options)
      local result = emulator.run_command_line(command_line, server.state_file, options.stdin)
      seen[#seen + 1] = { cmdlet_of(command_line), held("sip.contoso.com", "A") }
      return result
    end)
    host.transport = "watched-a"
    task.run(function()
      assert(windows().set("sip.contoso.com", "A", { { address = "192.0.2.11" } }))
    end)
    assert.same({ "Add-DnsServerResourceRecord", { ["192.0.2.10"] = 300, ["192.0.2.11"] = 300 } },
                seen[3])
    assert.same({ "Remove-DnsServerResourceRecord", { ["192.0.2.11"] = 300 } }, seen[4])
    assert.is_nil(seen[5])
  end)

  it("changes the TTL one record at a time, the RRset never empty", function()
    task.run(function()
      local p = windows()
      local records = assert(p.get(SRV, "SRV"))
      assert(p.set(SRV, "SRV", records, 60))
    end)
    assert.same({ [PRIMARY] = 60, [STANDBY] = 60 }, held(SRV, "SRV"))
    assert.equal(6, #calls)   -- two reads, then remove + add for each record
    for i, records in ipairs(after) do
      assert.is_truthy(next(records), "the RRset was empty after cmdlet " .. i)
    end
  end)

  it("removes by -RecordData only the record that holds it, as Windows does", function()
    local result, record = task.run(function()
      return cmdlet.try(host, "Remove-DnsServerResourceRecord", { ZoneName = "contoso.com",
        Name = "_xmpp-server._tcp", RRType = "Srv", Force = true,
        RecordData = { "20", "0", "5269", "EDGEPOOL2.contoso.com." } })
    end)
    assert.is_truthy(result, record and record.message)
    assert.same({ [PRIMARY] = 300 }, held(SRV, "SRV"))
    result, record = task.run(function()
      return cmdlet.try(host, "Remove-DnsServerResourceRecord", { ZoneName = "contoso.com",
        Name = "_xmpp-server._tcp", RRType = "Srv", Force = true,
        RecordData = { "20", "0", "5269", "edgepool2.contoso.com." } })
    end)
    assert.is_nil(result)
    assert.matches("9714", record.FullyQualifiedErrorId, 1, true)
    assert.same({ [PRIMARY] = 300 }, held(SRV, "SRV"))
  end)
end)

describe("dns provider sim faults #dns", function()
  it("refuses updates when told to, and changes nothing", function()
    local sim = require("lab.dns").new { zone = "contoso.com", records = SEED }
    sim.fault { refuse_updates = true }
    local result, message, code = sim.set("sip.contoso.com", "A", { { address = "192.0.2.1" } })
    assert.is_nil(result)
    assert.equal("refused_update", code)
    assert.matches("refused", message)
    assert.equal("192.0.2.10", sim.get("sip.contoso.com", "A")[1].address)
  end)

  it("serves old data from a lagging server until it catches up", function()
    local sim = require("lab.dns").new { zone = "contoso.com", records = SEED,
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
