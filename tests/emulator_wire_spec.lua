-- The wire as Windows PowerShell 5.1 writes it (issue 18, gap 10): the emulator serializes
-- CIM instances, enums, dates and Lync's Computer objects as ConvertTo-Json does on a real
-- server, so a read that does not project its result on the server gets data runbook cannot
-- use; the product's reads project (powershell.projection) and still work.
local cjson = require "cjson"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local lync = require "lync"
local powershell = require "powershell"
local reads = require "powershell.reads"
local support = require "support"
local task = require "runbook.task"
require "lab"   -- the sim transport: the lab plug-in registers it (modules/lab/init.lua)

local dir, host

before_each(function()
  dir = support.tmpdir()
  local state = emulator.default_state("fe1.contoso.com")
  state.dns_zones = { ["contoso.com"] = { records = {
    { name = "xmpp", type = "A", ttl = 300, data = { address = "203.0.113.10" } },
    { name = "_xmpp-server._tcp", type = "SRV", ttl = 300, data = {
      priority = 10, weight = 0, port = 5269, target = "xmpp.contoso.com" } } } } }
  host = { name = "fe1.contoso.com", transport = "sim", state_file = dir .. "/fe1.json" }
  emulator.save_state(host.state_file, state)
end)
after_each(function() os.execute("rm -rf " .. support.quote(dir)) end)

-- The JSON the server prints for a pipeline, as the cmdlet layer wraps it.
local function wire(pipeline)
  local result = emulator.run_command_line(
    powershell.command_line(powershell.wrap(pipeline)), host.state_file)
  assert.equal(0, result.status, result.stderr)
  return cjson.decode(result.stdout)
end

describe("the emulator's wire, unprojected", function()
  it("writes RecordData as a CIM instance, without IPv4Address, DomainName or Port", function()
    local a = wire("Get-DnsServerResourceRecord -ZoneName 'contoso.com' -Name 'xmpp' "
      .. "-RRType 'A'")[1]
    assert.equal("xmpp", a.HostName)                       -- the item itself: adapted
    assert.is_nil(a.RecordData.IPv4Address)
    assert.equal("ROOT/Microsoft/Windows/DNS:DnsServerResourceRecordA", a.RecordData.CimClass)
    assert.is_table(a.RecordData.CimInstanceProperties)
    local srv = wire("Get-DnsServerResourceRecord -ZoneName 'contoso.com' "
      .. "-Name '_xmpp-server._tcp' -RRType 'SRV'")[1]
    assert.is_nil(srv.RecordData.DomainName)
    assert.is_nil(srv.RecordData.Port)
  end)

  it("writes a service's Status as its number, Computers as objects, dates as /Date()/",
    function()
    local service = wire("Get-CsWindowsService -ComputerName 'edge1.contoso.com'")[1]
    assert.equal(4, service.Status)
    local pool = wire("Get-CsPool -Identity 'edgepool1.contoso.com'")[1]
    assert.is_table(pool.Computers[1])
    assert.equal("edge1.contoso.com", pool.Computers[1].Fqdn)
    local replica = wire("Get-CsManagementStoreReplicationStatus")[1]
    assert.matches("^/Date%(%d+%)/$", replica.LastStatusReport)
  end)

  it("has the Edge servers run the logging agent and the XMPP proxy as well", function()
    local names = {}
    for _, service in ipairs(wire("Get-CsWindowsService -ComputerName 'edge1.contoso.com'")) do
      names[service.Name] = true
    end
    assert.is_true(names.RTCCLSAGT)
    assert.is_true(names.RTCXMPPTGWPX)
  end)
end)

describe("the product's reads, projected on the server", function()
  it("read the DNS records' data through the windows provider", function()
    local a, srv = task.run(function()
      local p = require("dns.windows").new { zone = "contoso.com", host = host }
      return assert(p.get("xmpp.contoso.com", "A")), assert(p.get("_xmpp-server._tcp.contoso.com",
                                                                  "SRV"))
    end)
    assert.same({ "203.0.113.10", 300 }, { a[1].address, a[1].ttl })
    assert.same({ 10, 0, 5269, "xmpp.contoso.com" },
                { srv[1].priority, srv[1].weight, srv[1].port, srv[1].target })
  end)

  it("refuse an unprojected record instead of reading an address of nil", function()
    local ok, message = task.run(function()
      local saved = cmdlet.try      -- the same read, without its projection
      cmdlet.try = function(h, name, parameters) return saved(h, name, parameters) end
      local p = require("dns.windows").new { zone = "contoso.com", host = host }
      local records, why = p.get("xmpp.contoso.com", "A")
      cmdlet.try = saved
      return records, why
    end)
    assert.is_nil(ok)
    assert.matches("the A record of xmpp%.contoso%.com came without its data", message)
  end)

  it("read Lync's objects as plain data: Computers as FQDNs, Status by name", function()
    local servers, services, replicas = task.run(function()
      return lync.edge_servers_of(host, "edgepool1.contoso.com"),
        lync.services(host, { computer = "edge1.contoso.com" }), lync.replication_status(host)
    end)
    assert.same({ "edge1.contoso.com" }, servers)
    assert.equal("Running", services[1].Status)
    assert.equal(1700000000, math.floor(replicas[1].LastStatusReport + 0.5))
  end)

  it("are proven reads only with exactly the projection their module registered", function()
    local projected = "Get-CsPool -Identity 'edgepool1.contoso.com' | ForEach-Object { "
      .. "[pscustomobject]@{ Identity = [string]$_.Identity; Site = [string]$_.Site; "
      .. "Services = [string[]]@($_.Services); Computers = [string[]]@($_.Computers) } }"
    local function verify(pipeline)
      return reads.verify("powershell", powershell.command_line(powershell.wrap(pipeline)))
    end
    assert.equal("template", select(2, verify(projected)))
    assert.is_nil(verify((projected:gsub("%[string%]%$_%.Site", "[string]$_.Site.Delete()"))))
    assert.is_nil(verify((projected:gsub("ForEach%-Object", "Remove-Item"))))
  end)
end)
