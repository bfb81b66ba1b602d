--- lab.network — port states and XMPP servers of a simulated topology, for the embedded lab and
-- for tests of runbooks: the same interface as runbook.net (connect, open) so that code
-- written for the real network runs unchanged, and xmpp.probe{net = sim} probes simulated
-- servers through the real probe and the real XML parser.
--
--   local sim = require("lab.network").new {
--     hosts = { ["192.0.2.21"] = { name = "edge1.contoso.com",
--                                  services = { [5269] = "xmpp" },   -- listening now
--                                  firewall = { [5269] = "drop" },   -- drop|reject|reset
--                                  xmpp = { domain = "contoso.com",
--                                           certificate = { "contoso.com" } } } },
--     perimeter = { [5269] = "drop" },   -- rules only checks from outside see (vantage)
--   }
--   sim.connect{host=, port=}            -> {state=, reason=, rtt=0, host=, port=, address=}
--   sim.open{host=, port=}               -> simulated socket | nil, message, code
--   sim.stop(host, port) / sim.start(host, port [, kind]) / sim.firewall(host, port, rule)
--   sim.from("vantage")                  -> the same topology seen from outside the perimeter
-- Rules: a port is open only while its service runs; a firewall rule "drop" makes it
-- filtered (timeout), "reject" filtered (icmp-admin-prohibited), "reset" closed.
-- Unknown hosts are unreachable. Nothing here touches the network.
local M = {}

local NS = "xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'"

local function check_target(target)
  if type(target) ~= "table" or type(target.host) ~= "string" then
    error("[lab.network] expects {host=, port=}", 3)
  end
  if math.type(target.port) ~= "integer" or target.port < 1 or target.port > 65535 then
    error("[lab.network] port must be between 1 and 65535", 3)
  end
end

-- A scripted XMPP server on a simulated socket: answers the stream header with features,
-- <starttls/> with <proceed/>, and presents config.certificate after "TLS".
local function xmpp_peer(config, tls)
  local features = tls and "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>"
    .. "</stream:features>"
    or "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
    .. "</starttls><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>"
  return function(data)
    if data:find("<stream:stream", 1, true) then
      return "<?xml version='1.0'?><stream:stream " .. NS .. " from='" .. config.domain .. "'>"
        .. features
    elseif data:find("<starttls", 1, true) then
      return "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    end
    return ""
  end
end

local Socket = {}
Socket.__index = Socket

local function new_socket(host, config, tls)
  return setmetatable({ host = host, config = config, tls = tls, pending = "", open = true,
                        answer = xmpp_peer(config, tls) }, Socket)
end

function Socket:send(data)
  if not self.open then error("[lab.network] socket is closed", 2) end
  self.pending = self.pending .. self.answer(data)
  return true
end

function Socket:receive(max_bytes)
  if not self.open then error("[lab.network] socket is closed", 2) end
  if #self.pending == 0 then
    return nil, ("lab.network: %s (simulated) sent nothing more"):format(self.host), "timeout"
  end
  local data = self.pending:sub(1, max_bytes)
  self.pending = self.pending:sub(max_bytes + 1)
  return data
end

function Socket:starttls(options)
  local names = self.config.certificate or {}
  local trusted = self.config.trusted ~= false
  local stream = new_socket(self.host, self.config, true)
  function stream.certificate()
    return { verified = trusted, verify_error = trusted and "ok" or "self-signed certificate",
             dns_names = names, subject_cn = names[1], version = "TLSv1.3",
             cipher = "TLS_AES_128_GCM_SHA256", servername = options and options.servername }
  end
  return stream
end

function Socket:close() self.open = false end

function M.new(topology)
  assert(type(topology) == "table", "[lab.network] new(topology): topology must be a table")
  local hosts = topology.hosts or {}
  local perimeter = topology.perimeter or {}
  local function host_of(address)
    local host = hosts[address]
    if host then host.services = host.services or {}; host.firewall = host.firewall or {} end
    return host
  end

  local function make_view(outside)
    local sim = { simulated = true, outside = outside }

    function sim.connect(target)
      check_target(target)
      local host = host_of(target.host)
      local result = { host = target.host, port = target.port, address = target.host, rtt = 0,
                       from = outside and "vantage (simulated)" or "inside (simulated)" }
      local rule = outside and perimeter[target.port] or nil
      if host and not rule then rule = host.firewall[target.port] end
      if not host then
        result.state, result.reason = "unreachable", "no-route"
      elseif rule == "drop" then
        result.state, result.reason, result.rtt = "filtered", "timeout", target.timeout or 5
      elseif rule == "reject" then
        result.state, result.reason = "filtered", "icmp-admin-prohibited"
      elseif rule == "reset" or not host.services[target.port] then
        result.state, result.reason = "closed", "conn-refused"
      else
        result.state, result.reason = "open", "syn-ack"
      end
      return result
    end

    function sim.open(target)
      local result = sim.connect(target)
      if result.state ~= "open" then
        return nil, ("lab.network: cannot connect to %s:%d (simulated): port %s (%s)"):format(
          target.host, target.port, result.state, result.reason),
          result.state == "closed" and "refused" or result.reason == "timeout" and "timeout"
          or "unreachable"
      end
      local host = host_of(target.host)
      return new_socket(target.host, host.xmpp or { domain = host.name or target.host })
    end

    function sim.from(where)
      return make_view(where == "vantage" or where == "outside")
    end
    return sim
  end

  local sim = make_view(false)
  local function known(address)
    local host = host_of(address)
    if not host then
      error("[lab.network] no host " .. tostring(address) .. " in the topology", 3)
    end
    return host
  end
  function sim.start(address, port, kind) known(address).services[port] = kind or true end
  function sim.stop(address, port) known(address).services[port] = nil end
  function sim.firewall(address, port, rule)
    if rule ~= nil and rule ~= "drop" and rule ~= "reject" and rule ~= "reset" then
      error("[lab.network] firewall rule must be drop, reject, reset or nil", 2)
    end
    known(address).firewall[port] = rule
  end
  function sim.perimeter(port, rule) perimeter[port] = rule end
  return sim
end

return M
