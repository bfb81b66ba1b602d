--- xmpp — a server-to-server federation probe (RFC 6120, RFC 6125), stage by stage, so an
-- operator sees exactly where federation with a domain breaks:
--   resolve      _xmpp-server._tcp.<domain> SRV: priority ascending, within a priority a
--                weighted random draw (RFC 2782); without SRV records the domain's own
--                A/AAAA on 5269 (RFC 6120 §3.2.1)
--   connect      TCP to each target in that order until one opens (net.open; the state of
--                each target that does not, as net.connect names it)
--   stream       the s2s stream header is answered with <stream:features>
--   starttls     STARTTLS is offered and the server says <proceed/>
--   tls          the TLS handshake with SNI = the domain completes
--   certificate  the chain verifies (ca_file or the system's trust) and the certificate
--                names the domain (RFC 6120 §13.7.2.1, RFC 6125 §6: a DNS-ID, a wildcard
--                only as the whole left-most label; an SRV-ID _xmpp-server.<domain>; an
--                XmppAddr <domain>; the subject CN only without any of these or a URI-ID)
--   features     the stream restarted over TLS offers dialback (the <dialback/> feature,
--                or xmlns:db declared on the stream header: XEP-0220) or SASL EXTERNAL
-- probe{...} returns {ok=, domain=, failed=stage|nil, target=, <stage>={ok=, detail=}...};
-- stages after the first failure are {ok=false, skipped=true, detail=}. Every read is
-- bounded in bytes and time: a silent, garbage-spewing or endless server fails its stage;
-- the whole probe by its deadline (a failed stage then has reason = "deadline").
-- Conventions: net failures are stage results, never errors; misuse raises "[xmpp] ...".
local net = require "runbook.net"
local xml = require "runbook.xml"
local task = require "runbook.task"
local say = require "xmpp_messages"     -- the evidence, in en, de and fr

local M = {}

M.STAGES = { "resolve", "connect", "stream", "starttls", "tls", "certificate", "features" }
M.PORT = 5269
M.MAX_STREAM_BYTES = 65536     -- what one stage may read before it gives up
M.DEADLINE = 30                -- seconds the whole probe may take, unless deadline= says

local NS_STREAM = "http://etherx.jabber.org/streams"
local NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
local NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
local NS_DIALBACK = "urn:xmpp:features:dialback"
local NS_DIALBACK_STREAM = "jabber:server:dialback"

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

-- Does one presented DNS-ID match the reference domain? RFC 6125 §6.4.3: "*" only as the
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

-- Does one presented SRV-ID (RFC 4985) name the domain's XMPP server service? RFC 6125
-- §6.5.1 with RFC 6120 §13.7.1.2.1: "_xmpp-server." and then the domain; no wildcard.
local function srv_id_matches(presented, domain)
  local service, name = tostring(presented):match("^(_[^.]*)%.(.+)$")
  return service ~= nil and service:lower() == "_xmpp-server" and canonical(name, false) == domain
end

-- Does one presented XmppAddr name the domain? A server's is its bare domain (RFC 6120
-- §13.7.1.4), compared as a DNS name without wildcard; a U-label is not converted to the
-- A-label, so an internationalized domain must be presented as a DNS-ID or SRV-ID.
local function xmpp_address_matches(presented, domain)
  return canonical(presented, false) == domain
end

local function never() return false end

-- The identifier types of a certificate, in the order tried. Any of them presented means the
-- subject CN is not consulted (RFC 6125 §6.4.4). URI-IDs never match an XMPP server; nor do
-- otherNames runbook.tls could not read (another kind, or an SRV-ID or XmppAddr of the wrong
-- string type), and these keep the CN from counting too (stricter than RFC 6125).
local IDENTIFIER_TYPES = {
  { list = "dns_names", label = "", matches = name_matches },
  { list = "srv_names", label = "SRV-ID ", matches = srv_id_matches },
  { list = "xmpp_addresses", label = "XmppAddr ", matches = xmpp_address_matches },
  { list = "uri_names", label = "URI-ID ", matches = never },
  { list = "other_names", label = "otherName ", matches = never },
}

-- A presented name for a message: control characters (a NUL, a terminal escape) as \ddd.
local function printable(name)
  return (tostring(name):gsub("%c", function(c) return ("\\%d"):format(c:byte()) end))
end

-- Every identifier the certificate presents, labelled by its type, for messages and reports.
local function presented_names(certificate)
  local presented = {}
  for _, kind in ipairs(IDENTIFIER_TYPES) do
    for _, name in ipairs(certificate[kind.list] or {}) do
      presented[#presented + 1] = kind.label .. printable(name)
    end
  end
  return presented
end

--- certificate_names(certificate, domain) -> matching name | nil, why
-- certificate: {dns_names=, srv_names=, xmpp_addresses=, uri_names=, other_names=,
-- subject_cn=} as runbook.tls reports it (missing lists count as empty). A DNS-ID match is
-- returned as presented; the others with " (SRV-ID)", " (XmppAddr)" or " (subject CN; ...)"
-- after it.
function M.certificate_names(certificate, domain)
  local reference = canonical(domain, false)
  if reference == nil then error("[xmpp] '" .. tostring(domain) .. "' is not a domain name", 2) end
  for _, kind in ipairs(IDENTIFIER_TYPES) do
    for _, name in ipairs(certificate[kind.list] or {}) do
      if kind.matches(name, reference) then
        return kind.label == "" and name or ("%s (%s)"):format(name, kind.label:sub(1, -2))
      end
    end
  end
  local presented, cn = presented_names(certificate), certificate.subject_cn
  local cn_is_domain = cn ~= nil and canonical(cn, false) == reference
  if #presented == 0 and cn_is_domain then
    return cn .. " (subject CN; the certificate presents no subjectAltName identifier)"
  elseif #presented == 0 then
    return nil, ("the certificate presents no subjectAltName identifier and its CN %q is not "
      .. "%s"):format(printable(cn), reference)
  end
  return nil, ("the certificate names %s, not %s%s"):format(table.concat(presented, ", "),
    reference, cn_is_domain and (" (its subject CN is, but RFC 6125 §6.4.4 ignores the CN"
    .. " when the certificate presents a subjectAltName identifier)") or "")
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

-- Appends the records of one priority to ordered as RFC 2782 draws them: each next one with
-- a probability proportional to its weight (zero weights first in line, so they are drawn
-- only by a 0). random(low, high) -> an integer in [low, high], both included.
local function draw_by_weight(group, random, ordered)
  table.sort(group, function(a, b)         -- a fixed line-up, so a given draw is reproducible
    if (a.weight == 0) ~= (b.weight == 0) then return a.weight == 0 end
    if a.target ~= b.target then return a.target < b.target end
    return a.port < b.port
  end)
  while #group > 0 do
    local total, running = 0, 0
    for _, record in ipairs(group) do total = total + record.weight end
    local drawn, chosen = random(0, total), #group
    for i, record in ipairs(group) do
      running = running + record.weight
      if running >= drawn then chosen = i; break end
    end
    ordered[#ordered + 1] = table.remove(group, chosen)
  end
end

-- SRV records in the order to try them (RFC 2782): priority ascending; within a priority,
-- the weighted random draw above.
local function srv_order(records, random)
  local groups, priorities = {}, {}
  for _, record in ipairs(records) do
    if not groups[record.priority] then
      groups[record.priority] = {}
      priorities[#priorities + 1] = record.priority
    end
    table.insert(groups[record.priority], record)
  end
  table.sort(priorities)
  local ordered = {}
  for _, priority in ipairs(priorities) do draw_by_weight(groups[priority], random, ordered) end
  return ordered
end

-- The addresses of hosts ({{host=, port=}, ...}, in the order to try them) into targets:
-- each host's A records, then its AAAA. Every lookup is asked at once: one round trip to
-- the DNS server for them all, not two per host one after the other.
local function addresses_of(resolve, hosts, targets, notes)
  local lookups = {}
  for _, host in ipairs(hosts) do
    lookups[#lookups + 1] = { host = host.host, port = host.port, rtype = "A" }
    lookups[#lookups + 1] = { host = host.host, port = host.port, rtype = "AAAA" }
  end
  local answers, failures = task.parallel(lookups, function(lookup)
    return table.pack(resolve(lookup.host, lookup.rtype))
  end)
  if failures[1] then error(failures[1].error, 0) end
  for i, lookup in ipairs(lookups) do
    local records, message = answers[i][1], answers[i][2]
    if records == nil then
      notes[#notes + 1] = ("%s %s: %s"):format(lookup.host, lookup.rtype, message)
    end
    for _, record in ipairs(records or {}) do
      targets[#targets + 1] = { host = record.address, port = lookup.port, name = lookup.host }
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
    return list, say("targets_given", #list)
  end
  local resolve = options.resolver or dns_resolver(options)
  if resolve == nil then
    return nil, "no resolver: runbook.dns is not available; pass targets= or resolver="
  end
  local service = "_xmpp-server._tcp." .. options.domain
  local srv, message = resolve(service, "SRV")
  local targets, notes = {}, {}
  if srv == nil then return nil, say("srv_failed", service, tostring(message)) end
  if #srv == 1 and (srv[1].target == "." or srv[1].target == "") then
    return nil, say("srv_decidedly", service)
  end
  local hosts = {}
  for i, record in ipairs(srv_order(srv, options.random or math.random)) do
    hosts[i] = { host = record.target:gsub("%.$", ""), port = record.port }
  end
  local how = say("srv_records", service, #srv)
  if #srv == 0 then
    how = say("srv_fallback", service, options.domain, M.PORT)
    hosts[1] = { host = options.domain, port = M.PORT }
  end
  addresses_of(resolve, hosts, targets, notes)
  if #targets == 0 then
    local why = #notes > 0 and (": " .. table.concat(notes, "; ")) or ""
    return nil, say("no_addresses", how, why)
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

-- Reads from conn through parser until done(event) says so. -> event, the chunk that held
-- it | nil, message, code
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
      if done(event) then return event, data end
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

-- Does the stream header declare the dialback namespace (XEP-0220: a server that supports
-- dialback does, under any prefix)?
local function declares_dialback(header)
  for _, uri in pairs(header.namespaces or {}) do
    if uri == NS_DIALBACK_STREAM then return true end
  end
  return false
end

-- Notes in features what one event of the stream header or <stream:features> offers.
local function note_feature(features, event)
  if event.type == "start" and event.depth == 1 then
    features.dialback_declared = declares_dialback(event)
  elseif event.type == "start" and event.depth == 3 then
    if event.namespace == NS_TLS and event.name == "starttls" then features.starttls = true end
    if event.namespace == NS_DIALBACK and event.name == "dialback" then features.dialback = true end
  elseif event.type == "start" and event.depth == 4 and event.namespace == NS_TLS
      and event.name == "required" then
    features.required = true
  elseif event.type == "start" and event.namespace == NS_SASL and event.name == "mechanism" then
    features.in_mechanism = true
  elseif event.type == "text" and features.in_mechanism then
    features.mechanisms[#features.mechanisms + 1] = event.text
  elseif event.type == "end" and event.name == "mechanism" then
    features.in_mechanism = false
  end
end

-- Sends the stream header and reads <stream:features>. -> {starttls=, required=,
-- dialback= (the feature), dialback_declared= (xmlns:db), mechanisms={...}}, parser | nil,
-- message, code
local function open_stream(conn, domain, timeout)
  local parser = xml.parser()
  local ok, message, code = conn:send(stream_header(domain), { timeout = timeout })
  if not ok then return nil, message, code end
  local features = { mechanisms = {} }
  local last, read_message, read_code = within(timeout, "the stream header", read_until, conn,
    parser, function(event)
      note_feature(features, event)
      return event.type == "end" and event.depth == 2 and event.namespace == NS_STREAM
        and event.name == "features"
    end)
  if last == nil then return nil, read_message, read_code end
  features.in_mechanism = nil
  return features, parser
end

local function describe_features(features)
  local offered = {}
  if features.starttls then offered[#offered + 1] = features.required and "STARTTLS (required)"
    or "STARTTLS" end
  if features.dialback then offered[#offered + 1] = "dialback"
  elseif features.dialback_declared then
    offered[#offered + 1] = say("dialback_declared")
  end
  for _, mechanism in ipairs(features.mechanisms) do
    offered[#offered + 1] = "SASL " .. mechanism
  end
  return #offered > 0 and table.concat(offered, ", ") or say("nothing")
end

-- ------------------------------------------------------------------ the probe

-- What a failed net.open says about the port, in net.connect's words ("closed
-- (conn-refused)", "filtered (timeout)", ...), or else the message itself.
local function state_of(message)
  return tostring(message):match(": port (%a+ %(.*%))$") or tostring(message)
end

-- Opens the first target that answers, one TCP connection each, noting in tried what each
-- one did (so that a deadline in the middle still tells). -> conn, target | nil
local function connect_first(opener, targets, timeout, tried)
  for _, target in ipairs(targets) do
    local address, started = ("%s:%d"):format(target.host, target.port), task.now()
    tried[#tried + 1] = say("no_answer_yet", address)
    local conn, message = opener.open { host = target.host, port = target.port, timeout = timeout }
    if conn then
      tried[#tried] = say("open", address, (task.now() - started) * 1000)
      return conn, target
    end
    tried[#tried] = address .. " " .. state_of(message)
  end
end

-- The connect stage's detail: every target tried, those not tried, and a firewall hint.
local function describe_connects(p)
  local detail, untried = table.concat(p.tried, "; "), #p.targets - #p.tried
  if untried > 0 and not p.conn then
    detail = detail .. say("more_untried", untried)
  end
  if not p.conn and detail:find(" filtered ", 1, true) then
    detail = detail .. say("firewall")
  end
  return detail
end

-- What the chunk holding <proceed/> carries after that element (its end tag, if any, and
-- whitespace left out), or nil: a server that speaks after <proceed/> does not speak TLS, and
-- those bytes, read already, would never reach the handshake.
local function bytes_after_proceed(chunk)
  local rest = chunk and chunk:match("<[%w_:]*proceed%f[%s/>][^>]*>(.*)$")
  rest = rest and rest:gsub("^%s*</[%w_:]*proceed%s*>", ""):gsub("^%s+", "")
  if rest and #rest > 0 then return rest end
end

-- Each stage function gets the probe state and returns ok, detail.
local stages = {}

function stages.resolve(p)
  local targets, detail = resolve_targets(p.options)
  p.targets = targets
  return targets ~= nil, detail
end

function stages.connect(p)
  p.tried = {}
  local conn, target = connect_first(p.options.net or net, p.targets, p.timeout, p.tried)
  p.conn, p.result.target = conn, target and ("%s:%d"):format(target.host, target.port)
  return conn ~= nil, describe_connects(p)
end

function stages.stream(p)
  local features, message = open_stream(p.conn, p.domain, p.timeout)
  if not features then return false, message end
  p.features, p.parser = features, message
  return true, say("features", describe_features(features))
end

function stages.starttls(p)
  if not p.features.starttls then return false, say("no_starttls") end
  local ok, message = p.conn:send("<starttls xmlns='" .. NS_TLS .. "'/>", { timeout = p.timeout })
  if not ok then return false, message end
  local answer, read_message = within(p.timeout, "<starttls/>", read_until, p.conn, p.parser,
    function(event) return event.type == "start" and event.depth == 2 end)
  if not answer then return false, read_message end
  if answer.namespace == NS_TLS and answer.name == "proceed" then
    p.after_proceed = bytes_after_proceed(read_message)
    return true, say("proceed")
  end
  return false, say("not_proceed", answer.name)
end

function stages.tls(p)
  if p.after_proceed then         -- read with <proceed/>: TLS would wait for them in vain
    return false, ("tls: handshake with %s failed: the server sent %d bytes after <proceed/>"
      .. " that are not TLS (a TLS server speaks only after the ClientHello)"):format(p.domain,
      #p.after_proceed)
  end
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
  p.result.certificate_names = presented_names(certificate)
  if not certificate.verified then
    return false, say("not_verified", certificate.verify_error,
      p.options.ca_file and say("trusting", p.options.ca_file) or say("trusting_system"))
  end
  if not name then return false, why end
  return true, say("verified", name)
end

function stages.features(p)
  local features, message = open_stream(p.conn, p.domain, p.timeout)
  if not features then return false, message end
  p.result.dialback_feature = features.dialback == true
  p.result.dialback_declared = features.dialback_declared == true
  p.result.dialback = p.result.dialback_feature or p.result.dialback_declared
  p.result.sasl_external = false
  for _, mechanism in ipairs(features.mechanisms) do
    if mechanism == "EXTERNAL" then p.result.sasl_external = true end
  end
  local detail = say("after_tls", describe_features(features))
  if not (p.result.dialback or p.result.sasl_external) then
    return false, say("no_auth", detail)
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
  if options.deadline ~= nil and (type(options.deadline) ~= "number" or options.deadline <= 0)
  then
    error("[xmpp] probe: deadline must be a positive number of seconds", 3)
  end
  if options.targets ~= nil and type(options.targets) ~= "table" then
    error("[xmpp] probe: targets must be a list of {host=, port=}", 3)
  end
  if options.random ~= nil and type(options.random) ~= "function" then
    error("[xmpp] probe: random must be a function(low, high) -> integer", 3)
  end
end

-- A stage that the probe's deadline stopped ("during") or left no time for ("before").
local function deadline_passed(p, stage, when)
  local detail = say("deadline_" .. when, p.deadline)
  if stage == "connect" and p.tried then detail = detail .. ": " .. describe_connects(p) end
  return false, detail, "deadline"
end

-- Runs one stage within what is left of the deadline. -> ok, detail, reason
local function run_stage(p, stage)
  local left = p.ends - task.now()
  if left <= 0 then return deadline_passed(p, stage, "before") end
  local results = table.pack(task.timeout(left, stages[stage], p))
  if results[1] then return results[2], results[3] end
  if results[2] ~= "timeout" then error(results[2], 0) end
  return deadline_passed(p, stage, "during")
end

local function run_probe(options)
  local p = { options = options, domain = canonical(options.domain, false),
              timeout = options.timeout or 5, deadline = options.deadline or M.DEADLINE,
              result = { domain = options.domain, ok = true,
                         from = options.from or say("this_host") } }
  p.ends = task.now() + p.deadline
  for _, stage in ipairs(M.STAGES) do
    if p.result.failed then
      p.result[stage] = { ok = false, skipped = true,
                          detail = say("not_tried", p.result.failed) }
    else
      local ok, detail, reason = run_stage(p, stage)
      p.result[stage] = { ok = ok, detail = detail, reason = reason }
      if not ok then p.result.failed, p.result.ok = stage, false end
    end
  end
  if p.conn then p.conn:close() end
  return p.result
end

--- probe{domain=, targets=nil|{{host=, port=}}, resolver=nil|function(name, type) -> records,
--        timeout=5, deadline=M.DEADLINE, ca_file=nil, dns_server=nil, dns_port=nil,
--        net=nil, random=nil} -> result (see the header). timeout bounds each connect and
--        read, deadline the whole probe; net= replaces runbook.net (the probe calls open
--        only), e.g. by a netsim topology; random(low, high) replaces math.random in the
--        SRV draw; from= names where the checks are made (result.from; default "this host").
-- result.dialback is true when the stream over TLS offers the <dialback/> feature
-- (result.dialback_feature) or declares xmlns:db (result.dialback_declared).
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
