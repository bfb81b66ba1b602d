--- xmpp — a server-to-server federation probe (RFC 6120, RFC 6125), stage by stage, so an
-- operator sees exactly where federation with a domain breaks:
--   resolve      _xmpp-server._tcp.<domain> SRV in priority, then weight order; without SRV
--                records the domain's own A/AAAA on 5269 (RFC 6120 §3.2.1)
--   connect      TCP to each target in that order until one opens (net.connect states)
--   stream       the s2s stream header is answered with <stream:features>
--   starttls     STARTTLS is offered and the server says <proceed/>
--   tls          the TLS handshake with SNI = the domain completes
--   certificate  the chain verifies (ca_file or the system's trust) and the certificate
--                names the domain (RFC 6125 §6.4: subjectAltName dNSName, a wildcard only
--                as the whole left-most label; the subject CN only without any dNSName)
--   features     the stream restarted over TLS offers dialback or SASL EXTERNAL
-- probe{...} returns {ok=, domain=, failed=stage|nil, target=, <stage>={ok=, detail=}...};
-- stages after the first failure are {ok=false, skipped=true, detail=}. Every read is
-- bounded in bytes and time: a silent, garbage-spewing or endless server fails its stage.
-- Conventions: net failures are stage results, never errors; misuse raises "[xmpp] ...".
local net = require "runbook.net"
local xml = require "runbook.xml"
local task = require "runbook.task"

local M = {}

M.STAGES = { "resolve", "connect", "stream", "starttls", "tls", "certificate", "features" }
M.PORT = 5269
M.MAX_STREAM_BYTES = 65536     -- what one stage may read before it gives up

local NS_STREAM = "http://etherx.jabber.org/streams"
local NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
local NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
local NS_DIALBACK = "urn:xmpp:features:dialback"

-- ------------------------------------------------------------------ certificate names

-- A reference or presented name in canonical form (lowercase, no trailing dot), or nil when
-- it is not a plain letters-digits-hyphens DNS name (RFC 6125 §6.4.1; A-labels included).
local function canonical(name, allow_wildcard)
  if type(name) ~= "string" or #name == 0 or #name > 253 then return nil end
  name = name:lower():gsub("%.$", "")
  local pattern = allow_wildcard and "^[%w%-%.%*]+$" or "^[%w%-%.]+$"
  if not name:match(pattern) then return nil end
  for label in (name .. "."):gmatch("([^.]*)%.") do
    if #label == 0 or #label > 63 then return nil end
  end
  return name
end

-- Does one presented dNSName match the reference domain? RFC 6125 §6.4.3: "*" only as the
-- complete left-most label, matching exactly one label, never directly under a top-level
-- domain (no "*.com").
local function name_matches(presented, domain)
  presented = canonical(presented, true)
  if presented == nil then return false end
  if not presented:find("*", 1, true) then return presented == domain end
  local rest = presented:match("^%*%.(.+)$")
  if rest == nil or rest:find("*", 1, true) or not rest:find(".", 1, true) then return false end
  local first, parent = domain:match("^([^.]+)%.(.+)$")
  return first ~= nil and parent == rest
end

--- certificate_names(certificate, domain) -> matching name | nil, why
-- certificate: {dns_names={...}, subject_cn=} as runbook.tls reports it.
function M.certificate_names(certificate, domain)
  local reference = canonical(domain, false)
  if reference == nil then error("[xmpp] '" .. tostring(domain) .. "' is not a domain name", 2) end
  local names = certificate.dns_names or {}
  for _, presented in ipairs(names) do
    if name_matches(presented, reference) then return presented end
  end
  if #names == 0 and certificate.subject_cn and canonical(certificate.subject_cn, false)
      == reference then
    return certificate.subject_cn .. " (subject CN; the certificate has no subjectAltName)"
  end
  if #names == 0 then
    return nil, ("the certificate has no subjectAltName and its CN %q is not %s"):format(
      tostring(certificate.subject_cn), reference)
  end
  return nil, ("the certificate names %s, not %s"):format(table.concat(names, ", "), reference)
end

-- ------------------------------------------------------------------ resolution

-- The default resolver: runbook.dns with the system's servers (or dns_server).
local function dns_resolver(options)
  local ok, dns = pcall(require, "runbook.dns")
  if not ok then return nil end
  return function(name, rtype)
    local answer, message, code = dns.query { name = name, type = rtype, timeout = options.timeout,
      server = options.dns_server, port = options.dns_port }
    if not answer then return nil, message, code end
    local records = {}
    for _, record in ipairs(answer.records) do
      if record.type == rtype then records[#records + 1] = record end
    end
    return records
  end
end

-- SRV records in the order to try them: priority ascending, then weight descending
-- (a probe wants a reproducible order, not RFC 2782's random draw), then target.
local function srv_order(records)
  table.sort(records, function(a, b)
    if a.priority ~= b.priority then return a.priority < b.priority end
    if a.weight ~= b.weight then return a.weight > b.weight end
    return a.target < b.target
  end)
  return records
end

-- Addresses of a host name: A first, then AAAA.
local function addresses_of(resolve, host, port, targets, notes)
  for _, rtype in ipairs { "A", "AAAA" } do
    local records, message = resolve(host, rtype)
    if records == nil then notes[#notes + 1] = ("%s %s: %s"):format(host, rtype, message) end
    for _, record in ipairs(records or {}) do
      targets[#targets + 1] = { host = record.address, port = port, name = host }
    end
  end
end

-- The resolve stage: -> targets, detail | nil, detail
local function resolve_targets(options)
  if options.targets then
    local list = {}
    for i, target in ipairs(options.targets) do
      list[i] = { host = target.host, port = target.port or M.PORT, name = target.host }
    end
    return list, ("%d target(s) given, no DNS lookup"):format(#list)
  end
  local resolve = options.resolver or dns_resolver(options)
  if resolve == nil then
    return nil, "no resolver: runbook.dns is not available; pass targets= or resolver="
  end
  local service = "_xmpp-server._tcp." .. options.domain
  local srv, message = resolve(service, "SRV")
  local targets, notes = {}, {}
  if srv == nil then return nil, ("SRV %s failed: %s"):format(service, tostring(message)) end
  if #srv == 1 and (srv[1].target == "." or srv[1].target == "") then
    return nil, service .. " says the service is decidedly not available (target \".\")"
  end
  for _, record in ipairs(srv_order(srv)) do
    addresses_of(resolve, record.target:gsub("%.$", ""), record.port, targets, notes)
  end
  local how = ("SRV %s: %d record(s)"):format(service, #srv)
  if #srv == 0 then
    how = ("no SRV record for %s; falling back to %s:%d (RFC 6120 §3.2.1)"):format(service,
      options.domain, M.PORT)
    addresses_of(resolve, options.domain, M.PORT, targets, notes)
  end
  if #targets == 0 then
    local why = #notes > 0 and (": " .. table.concat(notes, "; ")) or ""
    return nil, how .. "; no addresses" .. why
  end
  local shown = {}
  for i, target in ipairs(targets) do shown[i] = ("%s:%d"):format(target.host, target.port) end
  return targets, how .. " -> " .. table.concat(shown, ", ")
end

-- ------------------------------------------------------------------ the stream

local function stream_header(domain)
  return "<?xml version='1.0'?><stream:stream xmlns='jabber:server'" ..
    " xmlns:stream='" .. NS_STREAM .. "' xmlns:db='jabber:server:dialback'" ..
    " to='" .. domain .. "' version='1.0'>"
end

-- Reads from conn through parser until done(event) says so. -> event | nil, message, code
-- Bounded: M.MAX_STREAM_BYTES in all, and whatever time the caller's task.timeout allows.
local function read_until(conn, parser, done)
  local total = 0
  while true do
    local data, message, code = conn:receive(16384, { timeout = 3600 })
    if data == nil then return nil, message, code end
    total = total + #data
    if total > M.MAX_STREAM_BYTES then
      return nil, ("read %d bytes without the expected answer (limit %d)"):format(total,
        M.MAX_STREAM_BYTES), "limit"
    end
    local events, parse_message, parse_code = parser:feed(data)
    if events == nil then return nil, "not an XMPP stream: " .. parse_message, parse_code end
    for _, event in ipairs(events) do
      if event.depth == 1 and event.type == "start" and
          (event.namespace ~= NS_STREAM or event.name ~= "stream") then
        return nil, ("not an XMPP stream: the root element is <%s xmlns='%s'>"):format(
          event.name, tostring(event.namespace)), "protocol"
      end
      if event.depth == 2 and event.type == "start" and event.namespace == NS_STREAM
          and event.name == "error" then
        return nil, "the server sent a stream error", "protocol"
      end
      if done(event) then return event end
    end
  end
end

-- Runs fn within seconds; -> fn's results | nil, "... timed out", "timeout"
local function within(seconds, what, fn, ...)
  local results = table.pack(task.timeout(seconds, fn, ...))
  if results[1] then return table.unpack(results, 2, results.n) end
  if results[2] == "timeout" then
    return nil, ("no answer to %s within %g s"):format(what, seconds), "timeout"
  end
  error(results[2], 0)
end

-- Sends the stream header and reads <stream:features>. -> {starttls=, required=,
-- dialback=, mechanisms={...}} | nil, message, code
local function open_stream(conn, domain, timeout)
  local parser = xml.parser()
  local ok, message, code = conn:send(stream_header(domain), { timeout = timeout })
  if not ok then return nil, message, code end
  local features = { mechanisms = {} }
  local in_mechanism
  local last, read_message, read_code = within(timeout, "the stream header", read_until, conn,
    parser, function(event)
      if event.type == "start" and event.depth == 3 then
        if event.namespace == NS_TLS and event.name == "starttls" then features.starttls = true end
        if event.namespace == NS_DIALBACK and event.name == "dialback" then
          features.dialback = true
        end
      elseif event.type == "start" and event.depth == 4 and event.namespace == NS_TLS
          and event.name == "required" then
        features.required = true
      elseif event.type == "start" and event.namespace == NS_SASL and event.name == "mechanism" then
        in_mechanism = true
      elseif event.type == "text" and in_mechanism then
        features.mechanisms[#features.mechanisms + 1] = event.text
      elseif event.type == "end" and event.name == "mechanism" then
        in_mechanism = false
      end
      return event.type == "end" and event.depth == 2 and event.namespace == NS_STREAM
        and event.name == "features"
    end)
  if last == nil then return nil, read_message, read_code end
  return features, parser
end

local function describe_features(features)
  local offered = {}
  if features.starttls then offered[#offered + 1] = features.required and "STARTTLS (required)"
    or "STARTTLS" end
  if features.dialback then offered[#offered + 1] = "dialback" end
  for _, mechanism in ipairs(features.mechanisms) do
    offered[#offered + 1] = "SASL " .. mechanism
  end
  return #offered > 0 and table.concat(offered, ", ") or "nothing"
end

-- ------------------------------------------------------------------ the probe

local function connect_first(net, targets, timeout)
  local tried = {}
  for _, target in ipairs(targets) do
    local state = net.connect { host = target.host, port = target.port, timeout = timeout }
    tried[#tried + 1] = ("%s:%d %s (%s)"):format(state.address, state.port, state.state,
      state.reason)
    if state.state == "open" then
      local conn, message = net.open { host = target.host, port = target.port, timeout = timeout }
      if conn then
        tried[#tried] = ("%s:%d open, %.1f ms"):format(state.address, state.port, state.rtt * 1000)
        return conn, target, table.concat(tried, "; ")
      end
      tried[#tried] = tried[#tried] .. ", then " .. message
    end
  end
  local hint = ""
  for _, line in ipairs(tried) do
    if line:find(" filtered ", 1, true) then
      hint = "; filtered: a firewall drops or rejects the port on the way"
    end
  end
  return nil, nil, table.concat(tried, "; ") .. hint
end

-- Each stage function gets the probe state and returns ok, detail.
local stages = {}

function stages.resolve(p)
  local targets, detail = resolve_targets(p.options)
  p.targets = targets
  return targets ~= nil, detail
end

function stages.connect(p)
  local conn, target, detail = connect_first(p.options.net or net, p.targets, p.timeout)
  p.conn, p.result.target = conn, target and ("%s:%d"):format(target.host, target.port)
  return conn ~= nil, detail
end

function stages.stream(p)
  local features, message = open_stream(p.conn, p.domain, p.timeout)
  if not features then return false, message end
  p.features, p.parser = features, message
  return true, "features: " .. describe_features(features)
end

function stages.starttls(p)
  if not p.features.starttls then return false, "the server does not offer STARTTLS" end
  local ok, message = p.conn:send("<starttls xmlns='" .. NS_TLS .. "'/>", { timeout = p.timeout })
  if not ok then return false, message end
  local answer, read_message = within(p.timeout, "<starttls/>", read_until, p.conn, p.parser,
    function(event) return event.type == "start" and event.depth == 2 end)
  if not answer then return false, read_message end
  if answer.namespace == NS_TLS and answer.name == "proceed" then
    return true, "the server says <proceed/>"
  end
  return false, ("the server answered <%s/> instead of <proceed/>"):format(answer.name)
end

function stages.tls(p)
  local stream, message = p.conn:starttls { servername = p.domain, ca_file = p.options.ca_file,
    verify = false, timeout = p.timeout }
  if not stream then return false, message end
  p.conn = stream
  p.certificate = stream:certificate()
  return true, ("%s, %s, SNI %s"):format(p.certificate.version, p.certificate.cipher, p.domain)
end

function stages.certificate(p)
  local certificate = p.certificate
  local name, why = M.certificate_names(certificate, p.domain)
  p.result.certificate_names = certificate.dns_names
  if not certificate.verified then
    return false, ("the chain does not verify: %s%s"):format(certificate.verify_error,
      p.options.ca_file and (" (trusting " .. p.options.ca_file .. ")") or
      " (trusting the system's CAs; pass ca_file= for a private CA)")
  end
  if not name then return false, why end
  return true, ("verified; names %s"):format(name)
end

function stages.features(p)
  local features, message = open_stream(p.conn, p.domain, p.timeout)
  if not features then return false, message end
  p.result.dialback = features.dialback == true
  p.result.sasl_external = false
  for _, mechanism in ipairs(features.mechanisms) do
    if mechanism == "EXTERNAL" then p.result.sasl_external = true end
  end
  local detail = "after TLS: " .. describe_features(features)
  if not (p.result.dialback or p.result.sasl_external) then
    return false, detail .. ": neither dialback nor SASL EXTERNAL, no way to authenticate"
  end
  return true, detail
end

local function check_options(options)
  if type(options) ~= "table" then error("[xmpp] probe expects a table {domain=, ...}", 3) end
  if canonical(options.domain, false) == nil then
    error("[xmpp] probe: domain must be a DNS name, got " .. tostring(options.domain), 3)
  end
  if options.timeout ~= nil and (type(options.timeout) ~= "number" or options.timeout <= 0) then
    error("[xmpp] probe: timeout must be a positive number of seconds", 3)
  end
  if options.targets ~= nil and type(options.targets) ~= "table" then
    error("[xmpp] probe: targets must be a list of {host=, port=}", 3)
  end
end

local function run_probe(options)
  local p = { options = options, domain = canonical(options.domain, false),
              timeout = options.timeout or 5,
              result = { domain = options.domain, ok = true, from = options.from or "this host" } }
  for _, stage in ipairs(M.STAGES) do
    if p.result.failed then
      p.result[stage] = { ok = false, skipped = true,
                          detail = "not tried: the " .. p.result.failed .. " stage failed" }
    else
      local ok, detail = stages[stage](p)
      p.result[stage] = { ok = ok, detail = detail }
      if not ok then p.result.failed, p.result.ok = stage, false end
    end
  end
  if p.conn then p.conn:close() end
  return p.result
end

--- probe{domain=, targets=nil|{{host=, port=}}, resolver=nil|function(name, type) -> records,
--        timeout=5, ca_file=nil, dns_server=nil, dns_port=nil, net=nil} -> result (see the
--        header); net= replaces runbook.net (connect, open), e.g. by a netsim topology;
--        from= names where the checks are made (result.from; default "this host").
function M.probe(options)
  check_options(options)
  if task.current() then return run_probe(options) end
  return task.run(run_probe, options)
end

--- summary(result) -> one line per stage, for people
function M.summary(result)
  local lines = { ("XMPP s2s probe of %s from %s"):format(result.domain, result.from) }
  for _, stage in ipairs(M.STAGES) do
    local entry = result[stage]
    local mark = entry.skipped and "skip" or entry.ok and " ok " or "FAIL"
    lines[#lines + 1] = ("[%s] %-11s %s"):format(mark, stage, entry.detail)
  end
  return table.concat(lines, "\n")
end

return M
