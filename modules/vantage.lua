--- vantage — port checks and XMPP probes made from a host outside the perimeter, through SSH:
-- the vantage host opens the TCP connection (direct-tcpip), so the answer is what the
-- Internet sees, not what the operator's laptop sees. Same connect{} and open{} as
-- runbook.net, so xmpp.probe{net = vantage} runs the whole probe (STARTTLS and TLS included:
-- runbook.tls runs over the tunnel) from there. States of connect{}:
--   open         the vantage host's connect succeeded (the tunnel opened)
--   filtered     no answer within the timeout (reason "timeout": a firewall drops the SYN)
--   unknown      the vantage host's connect failed at once (reason "connect-failed"): a RST
--                (closed) or an ICMP error (filtered, unreachable). OpenSSH's sshd sends the
--                reason as strerror text ("Connection refused", "No route to host", or "open
--                failed") but libssh2 drops it, and strerror mixes RST and ICMP up anyway, so
--                without allow_commands the answer is honestly unknown, never "closed".
-- With allow_commands = true in the vantage host's inventory entry, such a failure is asked
-- again with one python3 command on the vantage host: a connect with the ICMP error queue
-- on, read as runtime/net.c reads its own (docs/verification.md): closed conn-refused (a
-- RST), filtered icmp-port-unreachable / icmp-admin-prohibited ... from A, unreachable
-- no-route, ...; no python3 there: unknown.
-- open{} that fails returns nil, "... port <state> (<reason>)", code ("refused" for closed,
-- "timeout", "unreachable", "unknown"), as net.open does.
-- Sessions: runbook.ssh runs one operation per session and libssh2 opens one channel at a
-- time per session, so checks in parallel use a pool of at most max_sessions (default 4)
-- SSH sessions, reused across checks; further checks wait their turn, so ports.check's 100
-- tasks cost a few logins, not 100 (sshd's MaxStartups would drop them).
-- Conventions: states are results; a vantage host that cannot be reached or refuses to
-- forward raises "[vantage] ...".
local core = require "runbook.task.core"
local reads = require "runbook.reads"

local M = {}

M.MAX_SESSIONS = 4

local ssh_config_of = nil   -- set lazily: the cmdlet layer's SSH options of an inventory host

-- ------------------------------------------------------------------ the session pool

-- Parks the running task until wake() lets it go: a "gate" task that sleeps until cancelled.
local function wait_turn(waiting)
  local gate = core.spawn(function() while true do core.sleep(3600) end end)
  waiting[#waiting + 1] = gate
  local ok, err = pcall(gate.join, gate)
  if not ok then                        -- this task was cancelled while waiting
    for i, other in ipairs(waiting) do
      if other == gate then table.remove(waiting, i) break end
    end
    gate:cancel()
    error(err, 0)
  end
end

local function wake(waiting)
  local gate = table.remove(waiting, 1)
  if gate then gate:cancel() end
end

-- A pool of at most max SSH sessions to one host: acquire() -> session, release(session).
local function pool_of(host, name, max)
  -- loaded on first use: libssh2 (docs/architecture.md)
  local ssh = require "runbook.ssh"
  local idle, waiting, pool = {}, {}, { count = 0, logins = 0, peak = 0 }
  local function open()
    pool.count, pool.logins = pool.count + 1, pool.logins + 1
    pool.peak = math.max(pool.peak, pool.count)
    -- loaded on first use: cmdlet's SSH options of an inventory host
    ssh_config_of = ssh_config_of or require("cmdlet").ssh_options
    local ok, session, message = pcall(ssh.session, ssh_config_of(host))
    if ok and session then return session end
    pool.count = pool.count - 1
    wake(waiting)
    error(("[vantage] cannot reach the vantage host %s: %s"):format(name,
      tostring(ok and message or session)), 0)
  end
  function pool.acquire()
    while true do
      local session = table.remove(idle)
      if session and session:is_connected() then return session end
      if session then session:close(); pool.count = pool.count - 1 end
      if not session and pool.count < max then return open() end
      if not session then wait_turn(waiting) end
    end
  end
  -- A session whose connection dropped (a timeout ends it) is closed, not kept.
  function pool.release(session)
    if session:is_connected() then idle[#idle + 1] = session
    else pcall(session.close, session); pool.count = pool.count - 1 end
    wake(waiting)
  end
  -- For a session lost without a task to close it nicely (a stream collected unclosed).
  function pool.discard(session)
    pcall(session.close, session)
    pool.count = pool.count - 1
    wake(waiting)
  end
  return pool
end

-- Runs fn(session, ...) on a pooled session, giving it back also when fn raises.
local function with_session(pool, fn, ...)
  local session = pool.acquire()
  local results = table.pack(pcall(fn, session, ...))
  pool.release(session)
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

-- ------------------------------------------------------------------ asking the host itself

-- Run by python3 on the vantage host: a connect with the ICMP error queue on (IP_RECVERR /
-- IPV6_RECVERR), as runtime/net.c makes it; prints "errno N" (Linux numbers, as here) and,
-- after an ICMP error, "icmp ORIGIN TYPE CODE SENDER", which net.explain reads as net.connect
-- would. No single quote inside: it goes in one on the command line.
local CONNECT_PY = [[
import errno,socket,struct,sys
h,p,t=sys.argv[1],int(sys.argv[2]),float(sys.argv[3])
v6=":" in h
s=socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
s.setsockopt(41 if v6 else 0,25 if v6 else 11,1)
s.settimeout(t)
try:
 e=s.connect_ex((h,p))
except socket.timeout:
 e=errno.ETIMEDOUT
print("errno",errno.ETIMEDOUT if e==errno.EAGAIN else e)
try:
 for l,y,d in s.recvmsg(1,512,socket.MSG_ERRQUEUE)[1]:
  o,ty,c=struct.unpack_from("=4xBBB",d)
  f=struct.unpack_from("=H",d,16)[0] if len(d)>=18 else 0
  a=socket.inet_ntop(f,d[20:24] if f==2 else d[24:40]) if f in(2,10) else "?"
  print("icmp",o,ty,c,a)
except OSError:
 pass
]]

-- The state the vantage host's own connect came to, from what CONNECT_PY printed.
local function read_connect(output)
  -- loaded on first use: only reading the probe's errno needs it
  local net = require "runbook.net"
  local origin, kind, code, sender = output:match("icmp (%d) (%d+) (%d+) (%S+)")
  if origin then
    return net.explain { origin = tonumber(origin), type = tonumber(kind),
                         code = tonumber(code), sender = sender }
  end
  local err = output:match("errno (%d+)")
  if err then return net.explain { errno = tonumber(err) } end
end

--- connect_command(address, port, timeout) -> the command line of the probe, for an IP
-- address only. runbook.reads rebuilds it to prove that a command is this probe (a read),
-- so that the probe also runs while planning and inside a check.
function M.connect_command(address, port, timeout)
  assert(tostring(address):match("^[%x%.:]+$"), "[vantage] the probe takes an IP address")
  return ("python3 -c '%s' %s %d %g"):format(CONNECT_PY, address, port, timeout)
end

-- The probe is a read (runbook.reads): exactly connect_command's text, with no stdin.
reads.register("vantage-connect", function(command, stdin)
  local host, port, timeout = command:match(" ([%x%.:]+) (%d+) ([%d%.]+)$")
  if stdin == nil and host and
     command == M.connect_command(host, tonumber(port), tonumber(timeout)) then
    return true, "probe"
  end
  return nil, "it is not the vantage host's connect probe"
end)

-- After an immediate "connect failed": state, reason, detail from the vantage host itself.
local function ask_host(session, target, timeout)
  if not tostring(target.host):match("^[%x%.:]+$") then
    return "unknown", "connect-failed", "not asked: the host is not an IP address"
  end
  local command = M.connect_command(target.host, target.port, timeout)
  local run, message = session:exec(command, { timeout = timeout + 10,
    -- loaded on first use: only the probe while planning needs it
    read_permit = require("runbook.permit").read("vantage-connect", command) })
  if not run then return "unknown", "connect-failed", "asking failed: " .. tostring(message) end
  local state, reason = read_connect(run.stdout)
  if state then
    return state, reason, "the vantage host's own connect (SSH does not pass on why the "
      .. "tunnel's failed)"
  end
  return "unknown", "connect-failed", "the vantage host could not say why (it needs python3): "
    .. (run.stdout .. run.stderr):gsub("%s+$", "")
end

-- ------------------------------------------------------------------ checks and streams

-- What a tunnel that did not open means: state, reason, detail. Raises when the vantage host
-- will not forward at all, or fails otherwise.
local function failure_state(session, v, target, message, code)
  if code == "refused" and tostring(message):find("prohibited", 1, true) then
    error(("[vantage] %s refuses to open connections for us: allow TCP forwarding "
      .. "(AllowTcpForwarding yes) for this account"):format(v.name), 0)
  elseif code == "refused" and tostring(message):find("(connect failed)", 1, true) then
    if v.allow_commands then return ask_host(session, target, target.timeout or 5) end
    return "unknown", "connect-failed", "the vantage host's connect failed at once; SSH does "
      .. "not say whether a RST (closed) or an ICMP error (filtered) stopped it: set "
      .. "allow_commands = true for the vantage host to ask it"
  elseif code == "timeout" then
    return "filtered", "timeout", "no answer within the timeout"
  end
  error(("[vantage] checking %s:%d from %s failed: %s"):format(target.host, target.port,
    v.name, tostring(message)), 0)
end

-- The state of one target from the vantage host, on a pooled session.
local function check(session, v, target)
  local result = { host = target.host, port = target.port, address = target.host, from = v.from }
  local started = core.now()
  local tunnel, message, code = session:tunnel(target.host, target.port,
                                               { timeout = target.timeout or 5 })
  result.rtt = core.now() - started
  if tunnel then
    tunnel:close()
    result.state, result.reason = "open", "tunnel-open"
  else
    result.state, result.reason, result.detail = failure_state(session, v, target, message, code)
  end
  return result
end

-- A TCP stream opened by the vantage host: send/receive/close like a runbook.socket, and
-- starttls, which runs runbook.tls over the tunnel. It holds its session until closed.
local Stream = {}
Stream.__index = Stream

function Stream:send(data, options) return self.tunnel:send(data, options) end
function Stream:receive(max, options) return self.tunnel:receive(max, options) end
function Stream:peer() return self.host, self.port end

function Stream:starttls(options)
  -- loaded on first use: OpenSSL (docs/architecture.md)
  return require("runbook.tls").wrap(self, options)
end

function Stream:close()
  if self.closed then return end
  self.closed = true
  pcall(self.tunnel.close, self.tunnel)
  self.pool.release(self.session)
end

-- Never closed (its task failed before closing it): the session goes, its slot is freed.
function Stream:__gc()
  if not self.closed then
    self.closed = true
    self.pool.discard(self.session)
  end
end

-- net.open's codes for the states of a connect that failed
local CODES = { closed = "refused", filtered = "unreachable", unreachable = "unreachable",
                unknown = "unknown" }

-- A tunnel to target on session, or nil, message, code with the state as net.open says it.
local function open_on(session, v, target)
  local tunnel, message, code = session:tunnel(target.host, target.port,
                                               { timeout = target.timeout or 5 })
  if tunnel then return tunnel end
  local state, reason = failure_state(session, v, target, message, code)
  return nil, ("vantage: cannot connect to %s:%d from %s: port %s (%s)"):format(target.host,
    target.port, v.from, state, reason), reason == "timeout" and "timeout" or CODES[state]
end

-- The stream to target, or nil, message, code like net.open.
local function open(v, target)
  local session = v.pool.acquire()
  local ok, tunnel, message, code = pcall(open_on, session, v, target)
  if ok and tunnel then
    return setmetatable({ tunnel = tunnel, session = session, pool = v.pool,
                          host = target.host, port = target.port }, Stream)
  end
  v.pool.release(session)
  if not ok then error(tunnel, 0) end
  return nil, message, code
end

--- new(host) -> vantage net; host is an inventory host table (transport "ssh": address,
-- port, user, key_file, known_hosts, …, as for cmdlets; allow_commands=, max_sessions=).
-- v.connect{host=, port=, timeout=} -> {state=, reason=, rtt=, from=, detail=...};
-- v.open{host=, port=, timeout=} -> stream | nil, message, code; v.stats() -> {logins=,
-- peak=} (SSH logins made, most sessions at once).
function M.new(host)
  local name = host.name or host.address
  local max = host.max_sessions or M.MAX_SESSIONS
  if math.type(max) ~= "integer" or max < 1 then
    error("[vantage] max_sessions of " .. tostring(name) .. " must be an integer >= 1", 2)
  end
  local v = { name = name, from = "vantage host " .. name, allow_commands = host.allow_commands,
              pool = pool_of(host, name, max) }
  function v.connect(target) return with_session(v.pool, check, v, target) end
  function v.open(target) return open(v, target) end
  function v.stats() return { logins = v.pool.logins, peak = v.pool.peak } end
  return v
end

return M
