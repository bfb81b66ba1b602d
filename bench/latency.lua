-- bench/latency.lua RUNS PRIMITIVE ARGS... — one primitive, timed inside the process
-- (runbook.so under lua5.4), for bench/latency.sh: RUNS calls after one warm-up call
-- (which loads the lazily loaded modules: ssh.so, tls.so, tsig.so, http.so), each call
-- new (a new connection, a new session). Prints "ok <what it got>", "times <ms> <ms> ..."
-- and "window <start> <end>": the last call, in task.now() seconds, the clock of the delay
-- relay's log, so that round trips are counted for that call alone. RUNS 0: the warm-up
-- call only (whole-process timing).
--   ssh HOST PORT USER KEY KNOWN_HOSTS        login (ed25519) and `true`
--   ssh-exec HOST PORT USER KEY KNOWN_HOSTS   `true` on a session opened before
--   update SERVER PORT KEY_FILE               a TSIG-signed update (replace www A)
--   query SERVER PORT NAME                    an A query
--   xmpp HOST PORT CA_FILE                    the full probe of contoso.com, target given
--   xmpp-dns SERVER PORT CA_FILE              the full probe, SRV and addresses from SERVER
--   connect HOST PORT,PORT,PORT               net.connect of three ports at once
--   winrm HOST PORT USER PASSWORD CA_FILE     Get-CsSite over WinRM (NTLM, HTTPS)
-- RUNBOOK_TREE: the source tree whose build/lib and modules/ to load (default: this one),
-- e.g. a build of an earlier commit, for a before/after in the same run.
local tree = os.getenv("RUNBOOK_TREE") or "."
package.path = tree .. "/modules/?.lua;" .. package.path
package.cpath = tree .. "/build/lib/?.so;" .. package.cpath
local task = require "runbook.task"

local runs, primitive = tonumber(arg[1]), arg[2]
local a = { table.unpack(arg, 3) }

local calls = {}

function calls.ssh()
  local ssh = require "runbook.ssh"
  local session <close> = assert(ssh.session { host = a[1], port = tonumber(a[2]), user = a[3],
    key_file = a[4], known_hosts = a[5], timeout = 10 })
  local result = assert(session:exec("true"))
  return "status " .. result.status
end

local session           -- ssh-exec: opened by prepare, outside the timed calls

local prepare = {}
prepare["ssh-exec"] = function()
  local ssh = require "runbook.ssh"
  session = assert(ssh.session { host = a[1], port = tonumber(a[2]), user = a[3],
    key_file = a[4], known_hosts = a[5], timeout = 10 })
end

calls["ssh-exec"] = function()
  return "status " .. assert(session:exec("true")).status
end

function calls.update()
  local dns = require "runbook.dns"
  local key = assert(require("dns.key").read(a[3]))
  local result = assert(dns.update { server = a[1], port = tonumber(a[2]), zone = "contoso.com",
    key = key, changes = {
      { op = "delete_rrset", name = "www.contoso.com", type = "A" },
      { op = "add", name = "www.contoso.com", type = "A", ttl = 60, address = "192.0.2.80" } } })
  return result.rcode
end

function calls.query()
  local dns = require "runbook.dns"
  local answer = assert(dns.query { name = a[3], type = "A", server = a[1],
                                    port = tonumber(a[2]), timeout = 5 })
  return answer.records[1].address
end

local function probe(options)
  local xmpp = require "xmpp"
  options.domain, options.ca_file = "contoso.com", a[3]
  local result = xmpp.probe(options)
  assert(result.ok, xmpp.summary(result))
  return "probe " .. result.target
end

function calls.xmpp()
  return probe { targets = { { host = a[1], port = tonumber(a[2]) } } }
end

calls["xmpp-dns"] = function()
  return probe { dns_server = a[1], dns_port = tonumber(a[2]) }
end

function calls.connect()
  local net = require "runbook.net"
  local targets = {}
  for port in a[2]:gmatch("%d+") do
    targets[#targets + 1] = { host = a[1], port = tonumber(port) }
  end
  local results = task.parallel(targets, net.connect)
  local states = {}
  for i, result in ipairs(results) do states[i] = result.state end
  return table.concat(states, " ")
end

function calls.winrm()
  local winrm = require "winrm"
  local powershell = require "powershell"
  local line = powershell.command_line(powershell.wrap(powershell.command("Get-CsSite", {})))
  local result = assert(winrm.run({ address = a[1], port = tonumber(a[2]), user = a[3],
    password = a[4], ca_file = a[5] }, line))
  return "status " .. result.status
end

local call = assert(calls[primitive], "no such primitive: " .. tostring(primitive))
task.run(function()
  if prepare[primitive] then prepare[primitive]() end
  local started = task.now()
  print("ok " .. call())
  local ended, times = task.now(), {}
  for i = 1, runs do
    started = task.now()
    call()
    ended = task.now()
    times[i] = ("%.2f"):format((ended - started) * 1000)
  end
  print("times " .. table.concat(times, " "))
  print(("window %.6f %.6f"):format(started, ended))
end)
