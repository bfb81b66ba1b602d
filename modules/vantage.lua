--- vantage — port checks made from a host outside the perimeter, through SSH: the vantage
-- host opens the TCP connection (direct-tcpip), so the answer is what the Internet sees,
-- not what the operator's laptop sees. Same connect{} as runbook.net:
--   open      the vantage host's connect succeeded (the tunnel opened)
--   closed    the vantage host's connect failed at once ("connect failed": a RST, or an ICMP
--             error — SSH does not say which)
--   filtered  no answer within the timeout (a firewall drops the traffic)
-- The XMPP probe's TLS cannot run through the tunnel yet: open() says so, and the runbooks
-- probe from this host instead, saying where from.
local ssh_config_of = nil   -- set lazily: the cmdlet layer's SSH options of an inventory host

local M = {}

local function now() return require("runbook.task.core").now() end

--- new(host) -> vantage net; host is an inventory host table (transport "ssh": address,
-- port, user, key_file, known_hosts, …), as for cmdlets.
function M.new(host)
  local ssh = require "runbook.ssh"
  local idle = {}
  local name = host.name or host.address
  local function session()
    local s = table.remove(idle)
    if s then return s end
    ssh_config_of = ssh_config_of or require("cmdlet").ssh_options
    local opened, message, code = ssh.session(ssh_config_of(host))
    if not opened then
      error(("[vantage] cannot reach the vantage host %s: %s"):format(name, message), 0)
    end
    return opened
  end
  local v = { name = name }

  function v.connect(target)
    local s, started = session(), now()
    local result = { host = target.host, port = target.port, address = target.host,
                     from = "vantage host " .. name }
    local tunnel, message, code = s:tunnel(target.host, target.port,
                                           { timeout = target.timeout or 5 })
    result.rtt = now() - started
    if tunnel then
      tunnel:close()
      idle[#idle + 1] = s
      result.state, result.reason = "open", "tunnel-open"
    elseif code == "refused" and tostring(message):find("prohibited", 1, true) then
      s:close()
      error(("[vantage] %s refuses to open connections for us: allow TCP forwarding "
        .. "(AllowTcpForwarding yes) for this account"):format(name), 0)
    elseif code == "refused" then
      idle[#idle + 1] = s
      result.state, result.reason = "closed", "connect-failed"
    elseif code == "timeout" then
      s:close()
      result.state, result.reason = "filtered", "timeout"
    else
      s:close()
      error(("[vantage] checking %s:%d from %s failed: %s"):format(target.host, target.port,
        name, tostring(message)), 0)
    end
    return result
  end

  function v.open()
    return nil, "TLS cannot pass the SSH tunnel of the vantage host yet", "unsupported"
  end

  return v
end

return M
