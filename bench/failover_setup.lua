--- bench/failover_setup.lua N WORKDIR SSHD_STATE_DIR PORT KEY KNOWN NAMED_ADDR NAMED_PORT
-- NAMED_KEY CA_FILE: writes, for N Edge servers per pool, the inventory (WORKDIR/inv-N.lua),
-- the Ansible inventory and playbook doing the same steps with the same encoded PowerShell
-- (WORKDIR/hosts-N.ini, WORKDIR/play-N.yml), and the seed of every emulated server's state
-- (WORKDIR/seed-N.json). bench/failover.sh runs it.
package.path = "modules/?.lua;modules/?/init.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath
local emulator = require "lab.emulator"
local embedded_lab = require "lab.world"
local ps = require "powershell"
local cjson = require "cjson"

local n, work, state_dir, port, key, known, dns_addr, dns_port, dns_key, ca_file =
  tonumber(arg[1]), arg[2], arg[3], arg[4], arg[5], arg[6], arg[7], arg[8], arg[9], arg[10]
local NEW_IP, OLD_IP, FE = "127.0.24.250", "127.0.24.251", "127.0.24.1"
local SERVICES = { "RTCDATAPROXY", "RTCMEDIARELAY", "RTCMRAUTH", "RTCSRV" }

local function address(pool, i) return ("127.0.24.%d"):format(pool * 100 + i - 100 + 10) end
-- where the clients connect: the server's own address, or its delay relay's
-- ($BENCH_CLIENT_PREFIX, e.g. 127.0.25: the relay of 127.0.24.11 is 127.0.25.11)
local CLIENT_PREFIX = os.getenv("BENCH_CLIENT_PREFIX") or "127.0.24"
local function client(server_address)
  return (server_address:gsub("^127%.0%.24%.", CLIENT_PREFIX .. "."))
end
local function fqdn(pool, i) return ("edge%d-%02d.contoso.com"):format(pool, i) end

local function write(path, text)
  local file = assert(io.open(path, "w"))
  file:write(text)
  file:close()
end

-- the new pool's Edge servers as the inventory lists them (quoted)
local function lab_edges(pool)
  local names = {}
  for i = 1, n do names[i] = ("%q"):format(fqdn(pool, i)) end
  return names
end

-- the topology and the per-address state seed
local lab = { sites = { Site1 = { route = "edgepool1.contoso.com" }, Site2 = {} }, pools = {} }
local servers = { ('    ["fe1.contoso.com"] = { address = %q },'):format(client(FE)) }
for pool = 1, 2 do
  local list = {}
  for i = 1, n do
    list[i] = fqdn(pool, i)
    servers[#servers + 1] = ('    [%q] = { address = %q },'):format(fqdn(pool, i),
      client(address(pool, i)))
  end
  lab.pools[("edgepool%d.contoso.com"):format(pool)] = { site = "Site" .. pool, servers = list }
end
local state = embedded_lab.lync_state({ domain = "contoso.com", management = "fe1.contoso.com" }, lab)
state.replication_delay = 0
write(("%s/seed-%d.json"):format(work, n), cjson.encode(state))
local addresses = { FE }
for pool = 1, 2 do for i = 1, n do addresses[#addresses + 1] = address(pool, i) end end
write(("%s/addresses-%d"):format(work, n), table.concat(addresses, " "))

write(("%s/inv-%d.lua"):format(work, n), ([[
return {
  domain = "contoso.com", management = "fe1.contoso.com",
  server_defaults = { transport = "ssh", port = %s, user = %q, key_file = %q, known_hosts = %q },
  servers = {
%s
  },
  pools = {
    ["edgepool1.contoso.com"] = { public_ip = %q, srv_priority = 10 },
    ["edgepool2.contoso.com"] = { public_ip = %q, srv_priority = 20,
                                  edge_servers = { %s } },
  },
  dns = { provider = "rfc2136", zone = "contoso.com", xmpp_host = "xmpp.contoso.com", ttl = 60,
          server = %q, port = %s, key = %q, authoritative = { { address = %q, port = %s } },
          resolver = { address = %q, port = %s } },
  vantage = { transport = "local", name = "the bench host", ca_file = %q },
  failover = { from_pool = "edgepool1.contoso.com", to_pool = "edgepool2.contoso.com" },
}
]]):format(port, os.getenv("USER"), key, known, table.concat(servers, "\n"), OLD_IP, NEW_IP,
  table.concat(lab_edges(2), ", "),
  dns_addr, dns_port, "file:" .. dns_key, dns_addr, dns_port, dns_addr, dns_port, ca_file))

-- Ansible: the same cmdlets, encoded the same way, per host
local function line(name, parameters)
  return ps.command_line(ps.wrap(ps.command(name, parameters)))
end
local hosts = { "[fe]", ("fe1 ansible_host=%s"):format(client(FE)), "[edge]" }
for i = 1, n do
  local vars = { ("%s ansible_host=%s"):format(fqdn(2, i), client(address(2, i))) }
  for _, service in ipairs(SERVICES) do
    vars[#vars + 1] = ("stop_%s='%s'"):format(service, line("Stop-CsWindowsService",
      { Name = service, ComputerName = fqdn(2, i) }))
    vars[#vars + 1] = ("start_%s='%s'"):format(service, line("Start-CsWindowsService",
      { Name = service, ComputerName = fqdn(2, i) }))
  end
  vars[#vars + 1] = ("status='%s'"):format(line("Get-CsWindowsService", { ComputerName = fqdn(2, i) }))
  vars[#vars + 1] = ("replicate='%s'"):format(line("Invoke-CsManagementStoreReplication",
    { ReplicaFqdn = fqdn(2, i) }))
  hosts[#hosts + 1] = table.concat(vars, " ")
end
hosts[#hosts + 1] = "[all:vars]"
hosts[#hosts + 1] = "ansible_port=" .. port
hosts[#hosts + 1] = "ansible_user=" .. os.getenv("USER")
hosts[#hosts + 1] = "ansible_ssh_private_key_file=" .. key
write(("%s/hosts-%d.ini"):format(work, n), table.concat(hosts, "\n") .. "\n")

local nsupdate = ("server %s %s\\nzone contoso.com\\n"):format(dns_addr, dns_port)
local tasks = {
  { "fe", "Get-CsPool", ("raw: %s"):format(line("Get-CsPool", { Identity = "edgepool2.contoso.com" })) },
  { "edge", "Get-CsWindowsService", "raw: '{{ status }}'" },
}
for _, service in ipairs(SERVICES) do
  tasks[#tasks + 1] = { "edge", "Stop " .. service, ("raw: '{{ stop_%s }}'"):format(service) }
end
tasks[#tasks + 1] = { "edge", "Get-CsWindowsService", "raw: '{{ status }}'" }
tasks[#tasks + 1] = { "fe", "Get-Command Set-CsSite", "raw: " ..
  ps.command_line(ps.wrap("(Get-Command -Name 'Set-CsSite').Parameters.Keys")) }
tasks[#tasks + 1] = { "fe", "Set-CsSite", "raw: " .. line("Set-CsSite",
  { Identity = "Site2", XmppFederationRoute = "EdgeServer:edgepool2.contoso.com" }) }
tasks[#tasks + 1] = { "edge", "Invoke-CsManagementStoreReplication", "raw: '{{ replicate }}'" }
tasks[#tasks + 1] = { "fe", "Get-CsManagementStoreReplicationStatus", "raw: " ..
  line("Get-CsManagementStoreReplicationStatus", {}) }
tasks[#tasks + 1] = { "localhost", "A record", ("shell: printf '%supdate delete xmpp.contoso.com A\\n"
  .. "update add xmpp.contoso.com 60 A %s\\nsend\\n' | nsupdate -k %s"):format(nsupdate, NEW_IP, dns_key) }
tasks[#tasks + 1] = { "localhost", "A served", ("shell: dig @%s -p %s +short xmpp.contoso.com A | grep -q %s")
  :format(dns_addr, dns_port, NEW_IP) }
tasks[#tasks + 1] = { "localhost", "SRV record", ("shell: printf '%supdate add _xmpp-server._tcp.contoso.com "
  .. "60 SRV 20 0 5269 xmpp.contoso.com.\\nsend\\n' | nsupdate -k %s"):format(nsupdate, dns_key) }
tasks[#tasks + 1] = { "localhost", "port 5269", ("wait_for: host=%s port=5269 timeout=5"):format(NEW_IP) }
for _, service in ipairs(SERVICES) do
  tasks[#tasks + 1] = { "edge", "Start " .. service, ("raw: '{{ start_%s }}'"):format(service) }
end
tasks[#tasks + 1] = { "edge", "Get-CsWindowsService", "raw: '{{ status }}'" }
tasks[#tasks + 1] = { "localhost", "XMPP answers", ("shell: openssl s_client -starttls xmpp-server "
  .. "-xmpphost contoso.com -connect %s:5269 -CAfile %s -verify_return_error </dev/null"):format(NEW_IP, ca_file) }

local play = {}
for _, t in ipairs(tasks) do
  play[#play + 1] = ("- hosts: %s\n  gather_facts: false\n  tasks:\n    - name: %s\n      %s\n"
    .. "      changed_when: false\n"):format(t[1], t[2], t[3])
end
write(("%s/play-%d.yml"):format(work, n), table.concat(play))
