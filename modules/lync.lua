--- lync — typed helpers over the Lync Server 2013 cmdlets the failover runbook needs:
-- sites, pools and Edge servers, the XMPP federation route of a site, the Windows services
-- of an Edge server, Central Management Store replication, topology discovery.
--
-- Every function takes the inventory host to run on first (modules/cmdlet.lua). Failures
-- raise "[lync] ..." naming the object and the host. Waits poll with task.sleep between
-- attempts and end with an error that lists what was still not there.
--
-- Documentation drift: Microsoft's failover procedure says Set-CsSite
-- -XmppExternalFederationRoute <Edge pool FQDN>; the cmdlet reference says
-- -XmppFederationRoute <"EdgeServer:" .. FQDN>. federation_route_parameter(host) asks the
-- server which one its Set-CsSite has (cached per host) and the setters use that one.
local cmdlet = require "cmdlet"
local failure = require "runbook.failure"
local powershell = require "powershell"
local progress = require "runbook.progress"
local reads = require "powershell.reads"
local task = require "runbook.task"

local M = {}

-- What each read keeps of the objects, shaped into plain data on the server
-- (powershell.projection): enums by name, lists of strings, dates as .NET ticks.
local PROJECT = {
  ["Get-CsSite"] = { { "Identity", "Identity" }, { "SiteId", "SiteId", "int" },
    { "DisplayName", "DisplayName" }, { "Pools", "Pools", "strings" },
    { "XmppFederationRoute", "XmppFederationRoute" },
    { "XmppExternalFederationRoute", "XmppExternalFederationRoute" } },
  ["Get-CsPool"] = { { "Identity", "Identity" }, { "Site", "Site" },
    { "Services", "Services", "strings" }, { "Computers", "Computers", "strings" } },
  ["Get-CsService"] = { { "Identity", "Identity" }, { "PoolFqdn", "PoolFqdn" },
    { "Role", "Role" } },
  ["Get-CsWindowsService"] = { { "Name", "Name" }, { "DisplayName", "DisplayName" },
    { "Status", "Status" } },
  ["Get-CsManagementStoreReplicationStatus"] = { { "ReplicaFqdn", "ReplicaFqdn" },
    { "UpToDate", "UpToDate", "bool" },
    { "LastStatusReport", "LastStatusReport.Ticks", "int" },
    { "LastUpdateCreation", "LastUpdateCreation.Ticks", "int" } },
  ["Get-CsXmppAllowedPartner"] = { { "Identity", "Identity" } },
  ["Test-NetConnection"] = { { "RemoteAddress", "RemoteAddress" },
    { "TcpTestSucceeded", "TcpTestSucceeded", "bool" } },
  CmsStatus = { { "ActiveMasterFqdn", "ActiveMasterFqdn" },
    { "ActiveFileTransferAgents", "ActiveFileTransferAgents", "strings" } },
  ["Get-CsAccessEdgeConfiguration"] = { { "Identity", "Identity" },
    { "AllowFederatedUsers", "AllowFederatedUsers", "bool" } },
  ["Get-CsExternalAccessPolicy"] = { { "Identity", "Identity" },
    { "EnableXmppAccess", "EnableXmppAccess", "bool" } },
  ["Get-CsCertificate"] = { { "Use", "Use" }, { "Subject", "Subject" },
    { "AlternativeNames", "AlternativeNames", "strings" },
    { "NotAfter", "NotAfter.Ticks", "int" }, { "Thumbprint", "Thumbprint" } },
}

-- The reads below, registered so that plan and checks prove them by construction
-- (runbook.reads: each call is exactly powershell.command of the cmdlet with these values,
-- followed by its projection).
local ROUTE_PARAMETERS_PROBE = "(Get-Command -Name 'Set-CsSite').Parameters.Keys"
for name, parameters in pairs {
  ["Get-CsSite"] = { Identity = "string" }, ["Get-CsPool"] = { Identity = "string" },
  ["Get-CsService"] = { EdgeServer = "switch", PoolFqdn = "string" },
  ["Get-CsWindowsService"] = { ComputerName = "string" },
  ["Get-CsManagementStoreReplicationStatus"] = { ReplicaFqdn = "string" },
  ["Get-CsXmppAllowedPartner"] = {}, ["Get-CsAccessEdgeConfiguration"] = {},
  ["Get-CsExternalAccessPolicy"] = {},
  ["Get-CsCertificate"] = { Type = "strings" }, ["Get-CsServerVersion"] = {},
  ["Test-NetConnection"] = { ComputerName = "string", Port = "integer" },
} do
  reads.template { cmdlet = name, parameters = parameters, project = PROJECT[name] }
end
reads.template { cmdlet = "Get-CsManagementStoreReplicationStatus",
                 parameters = { CentralManagementStoreStatus = "switch" },
                 project = PROJECT.CmsStatus }
reads.template { script = ROUTE_PARAMETERS_PROBE }

-- The reads the cmdlet layer keeps per host per phase (cmdlet.lua, "reads kept per phase"):
-- asked by many checks of one step, changed only by a change, which forgets them.
local KEPT = { ["Get-CsSite"] = true, ["Get-CsPool"] = true, ["Get-CsWindowsService"] = true }

-- A read of the Lync cmdlets, its output shaped on the server; fresh: never a kept answer
-- (a wait's poll).
local function read(host, name, parameters, fresh)
  return cmdlet(host, name, parameters, { project = PROJECT[name],
                                          cache = KEPT[name] and not fresh })
end

-- A projected string field: '' is what [string] makes of $null.
local function present(value)
  if value == nil or value == "" then return nil end
  return value
end

-- monotonic seconds from the loop when the core has them
local now = require("runbook.task.core").now or os.time

local function host_name(host) return tostring(host.name or host.address) end

-- The -Identity Get-CsSite and Set-CsSite take: the site's name (or its SiteId). Both
-- references say "Do not use the format \"site:Redmond\"" (docs/emulator.md), although
-- Get-CsSite's own objects carry Identity "Site:Redmond": the prefix is dropped here.
local function site_identity(site)
  return (tostring(site):gsub("^[Ss][Ii][Tt][Ee]:", ""))
end
M.site_identity = site_identity

--- sites(host) -> list of Get-CsSite objects
function M.sites(host)
  return read(host, "Get-CsSite", {})
end

--- site(host, name) -> the Get-CsSite object of "Site2" (or of Identity "Site:Site2", or of
-- its SiteId); raises if missing. Found in the list of every site, which a phase reads once
-- (one round trip for all the sites a step asks about).
function M.site(host, name)
  local wanted = site_identity(name):lower()
  for _, site in ipairs(M.sites(host)) do
    if site_identity(site.Identity or ""):lower() == wanted or tostring(site.SiteId) == wanted
    then return site end
  end
  failure.raise("not-found", ("[lync] site '%s' not found on %s (Get-CsSite lists %s)")
    :format(name, host_name(host), M.identities(M.sites(host))))
end

--- identities(objects) -> "A, B" of their Identity fields, or "none"
function M.identities(objects)
  local names = {}
  for i, object in ipairs(objects) do names[i] = tostring(object.Identity) end
  return #names > 0 and table.concat(names, ", ") or "none"
end

--- pools(host) -> list of Get-CsPool objects; pool(host, fqdn) -> one, raises if missing.
function M.pools(host)
  return read(host, "Get-CsPool", {})
end

function M.pool(host, fqdn)
  local wanted = tostring(fqdn):lower()
  for _, pool in ipairs(M.pools(host)) do
    if tostring(pool.Identity):lower() == wanted then return pool end
  end
  failure.raise("not-found", ("[lync] pool '%s' not found on %s (Get-CsPool lists %s)")
    :format(fqdn, host_name(host), M.identities(M.pools(host))))
end

--- edge_services(host [, pool_fqdn]) -> Get-CsService -EdgeServer objects
function M.edge_services(host, pool_fqdn)
  return read(host, "Get-CsService", { EdgeServer = true, PoolFqdn = pool_fqdn })
end

--- edge_servers_of(host, pool_fqdn) -> list of the Edge servers' FQDNs in that pool.
function M.edge_servers_of(host, pool_fqdn)
  local pool = M.pool(host, pool_fqdn)
  local is_edge = false
  for _, service in ipairs(pool.Services or {}) do
    if service:match("^EdgeServer:") then is_edge = true end
  end
  if not is_edge then
    failure.raise("not-found", ("[lync] pool '%s' on %s is not an Edge pool (services: %s)")
      :format(pool_fqdn, host_name(host), table.concat(pool.Services or {}, ", ")))
  end
  return pool.Computers or {}
end

-- --------------------------------------------------------------- federation route

local ROUTE_PARAMETERS = { "XmppFederationRoute", "XmppExternalFederationRoute" }
-- Which parameter a server's Set-CsSite has does not change during a run: kept by the
-- server's identity (cmdlet.server_key: every plain field of its inventory entry), not by
-- table, since each phase of a run may hand over another table for the same server.
local route_parameter_cache = {}

--- federation_route_parameter(host) -> "XmppFederationRoute" | "XmppExternalFederationRoute"
-- Probes (Get-Command Set-CsSite).Parameters.Keys once per host.
function M.federation_route_parameter(host)
  local key = cmdlet.server_key(host)
  if route_parameter_cache[key] then return route_parameter_cache[key] end
  local keys = cmdlet.evaluate(host, ROUTE_PARAMETERS_PROBE, { cache = true })
  local offered = {}
  for _, parameter in ipairs(keys) do offered[parameter] = true end
  for _, name in ipairs(ROUTE_PARAMETERS) do
    if offered[name] then
      route_parameter_cache[key] = name
      return name
    end
  end
  error(("[lync] Set-CsSite on %s has neither -XmppFederationRoute nor "
         .. "-XmppExternalFederationRoute: is this Lync Server 2013 with XMPP federation?")
        :format(host_name(host)), 2)
end

-- The value the parameter takes for an Edge pool: an identity or a bare FQDN.
local function route_value(parameter, edge_pool)
  local fqdn = edge_pool:gsub("^[Ee]dge[Ss]erver:", "")
  if parameter == "XmppFederationRoute" then return "EdgeServer:" .. fqdn end
  return fqdn
end

local function same_route(a, b)
  if a == nil or b == nil then return a == b end
  return a:gsub("^[Ee]dge[Ss]erver:", ""):lower() == b:gsub("^[Ee]dge[Ss]erver:", ""):lower()
end

--- federation_route(host, site) -> the Edge pool FQDN the site's XMPP traffic uses (or
-- nil), and the parameter name the server uses.
function M.federation_route(host, site)
  local parameter = M.federation_route_parameter(host)
  local value = present(M.site(host, site)[parameter])
  return value and (value:gsub("^[Ee]dge[Ss]erver:", "")) or nil, parameter
end

--- route_change(host, site, edge_pool) -> {parameter=, value=, command=}: what
-- set_federation_route would run, for plans.
function M.route_change(host, site, edge_pool)
  local parameter = M.federation_route_parameter(host)
  local value = route_value(parameter, edge_pool)
  return { parameter = parameter, value = value,
           command = ("Set-CsSite -Identity %s -%s %s"):format(site_identity(site), parameter,
                                                               value) }
end

--- set_federation_route(host, site, edge_pool) -> {parameter=, value=, previous=}
-- Sets the route with whichever parameter the server has, then reads it back.
function M.set_federation_route(host, site, edge_pool)
  local change = M.route_change(host, site, edge_pool)
  local previous = M.federation_route(host, site)
  cmdlet(host, "Set-CsSite", { Identity = site_identity(site),
                               [change.parameter] = change.value })
  local current = present(M.site(host, site)[change.parameter])
  if not same_route(current, change.value) then
    error(("[lync] the XMPP federation route of %s on %s is %s after setting it to %s")
          :format(site_identity(site), host_name(host), tostring(current), change.value), 2)
  end
  return { parameter = change.parameter, value = change.value, previous = previous }
end

--- clear_federation_route(host, site): the site routes no XMPP federation any more
-- (Set-CsSite -<parameter> $null) — what rollback restores when a site had no route.
function M.clear_federation_route(host, site)
  local parameter = M.federation_route_parameter(host)
  cmdlet(host, "Set-CsSite", { Identity = site_identity(site),
                               [parameter] = powershell.null })
  local left = present(M.site(host, site)[parameter])
  if left ~= nil then
    error(("[lync] the XMPP federation route of %s on %s is still %s after clearing it")
          :format(site_identity(site), host_name(host), tostring(left)), 2)
  end
end

-- --------------------------------------------------------------- Windows services

-- Windows PowerShell 5.1 writes ServiceControllerStatus as a number; newer hosts a name.
local STATUS = { [1] = "Stopped", [2] = "StartPending", [3] = "StopPending", [4] = "Running",
                 [5] = "ContinuePending", [6] = "PausePending", [7] = "Paused" }

local function status_name(value)
  return STATUS[value] or tostring(value)
end

--- services(host, {computer=, names=}) -> list of {Name=, DisplayName=, Status="Running"|...}
-- (options.fresh: asked again, never the answer kept for this phase)
function M.services(host, options)
  options = options or {}
  local list = read(host, "Get-CsWindowsService", { ComputerName = options.computer },
                    options.fresh)
  local wanted
  if options.names then
    wanted = {}
    for _, name in ipairs(options.names) do wanted[name:upper()] = true end
  end
  local out = {}
  for _, service in ipairs(list) do
    if not wanted or wanted[service.Name:upper()] then
      out[#out + 1] = { Name = service.Name, DisplayName = service.DisplayName,
                        Status = status_name(service.Status) }
    end
  end
  return out
end

-- A TimeSpan as PowerShell converts it from a string: [d.]hh:mm:ss.fff
local function timespan(seconds)
  local whole = math.floor(seconds)
  local days, rest = whole // 86400, whole % 86400
  local text = ("%02d:%02d:%02d.%03d"):format(rest // 3600, rest % 3600 // 60, rest % 60,
    math.floor((seconds - whole) * 1000 + 0.5))
  return days > 0 and (days .. "." .. text) or text
end

-- The wait a server runs itself: ServiceController.WaitForStatus polls the service every
-- 250 ms and throws System.ServiceProcess.TimeoutException when the time passes; one round
-- trip, which returns when the state holds. Each service gets the timeout; they change in
-- parallel on the server, so the wait ends about when the slowest does.
-- The wait is a read the plan guard can prove: the command by its template, the rest by
-- the one shape below, whose only variable parts are the state and the timeout.
reads.template { cmdlet = "Get-Service", parameters = { Name = "strings", ComputerName = "string" },
  tail = "^ | ForEach%-Object { %$_%.WaitForStatus%('%a+', '[%d%.:]+'%); %[pscustomobject%]@{ "
    .. "Name = %[string%]%$_%.Name; Status = %[string%]%$_%.Status } }$" }

local function wait_script(names, computer, state, timeout)
  return powershell.command("Get-Service", { Name = names, ComputerName = computer })
    .. (" | ForEach-Object { $_.WaitForStatus(%s, %s); [pscustomobject]@{ Name = "
        .. "[string]$_.Name; Status = [string]$_.Status } }"):format(powershell.literal(state),
        powershell.literal(timespan(timeout)))
end

-- The services (of names, or all) not in state, as "NAME (Status)", read afresh.
local function behind_of(host, state, options)
  local behind, shown, services = {}, {}, M.services(host, { computer = options.computer,
    names = options.names, fresh = true })
  for _, service in ipairs(services) do
    if service.Status ~= state then
      behind[#behind + 1] = ("%s (%s)"):format(service.Name, service.Status)
      shown[#shown + 1] = service.Name .. "=" .. service.Status
    end
  end
  return behind, shown, services
end

--- wait_services(host, state, {computer=, names=, timeout=60})
-- Waits until every service (or every named one) is in state ("Running", "Stopped"), on the
-- server: one script (wait_script) that returns when the state holds or its timeout passed;
-- then the ones still behind are read once and named. (runbook.progress shows the wait.)
function M.wait_services(host, state, options)
  options = options or {}
  local limit = options.timeout or 60
  local name = options.computer or host_name(host)
  return progress.during({ what = "services-" .. state:lower(), host = name, subject = name,
                           limit = limit }, function(meter)
    local names = options.names
    if not names then
      names = {}
      local ready, shown = 0, {}
      for i, service in ipairs(M.services(host, { computer = options.computer })) do
        names[i] = service.Name
        if service.Status == state then ready = ready + 1 end
        shown[#shown + 1] = service.Name .. "=" .. service.Status
      end
      -- what the meter shows while the server waits (the wait is one round trip)
      meter:update(ready, #names, table.concat(shown, ", "))
    end
    local waited, record
    if #names > 0 then
      waited, record = cmdlet.try_script(host, "WaitForStatus",
        wait_script(names, options.computer, state, limit),
        { timeout = limit + (host.command_timeout or 60) })
    end
    if waited then
      meter:update(#waited, #names, "")
      return true
    end
    if record and record.transport then cmdlet.raise(host, "WaitForStatus", record) end
    local behind, shown, services = behind_of(host, state, options)
    meter:update(#services - #behind, #services, table.concat(shown, ", "))
    if #behind == 0 and #services > 0 then return true end
    error(("[lync] services on %s not %s within %g s: %s"):format(name, state, limit,
          #behind > 0 and table.concat(behind, ", ") or "none found"), 0)
  end)
end

-- One script for every service of the server (cmdlet.try_script): each stop (start) in its
-- own try, so each service has its result {Name=, Error=, Category=}; the errors, joined,
-- are the failure of the call.
local function change_script(verb, names, computer)
  local parts = {}
  for i, name in ipairs(names) do
    local quoted = powershell.literal(name)
    parts[i] = ("try { %s; [pscustomobject]@{ Name = %s; Error = ''; Category = '' } } "
      .. "catch { [pscustomobject]@{ Name = %s; Error = [string]$_.Exception.Message; "
      .. "Category = [string]$_.CategoryInfo.Category } }"):format(
      powershell.command(verb, { Name = name, ComputerName = computer }), quoted, quoted)
  end
  return table.concat(parts, "\n")
end

local function change_services(host, verb, state, options)
  options = options or {}
  local names = options.names
  if not names then
    names = {}
    for _, service in ipairs(M.services(host, { computer = options.computer })) do
      names[#names + 1] = service.Name
    end
  end
  if #names > 0 then
    local results, record = cmdlet.try_script(host, verb,
      change_script(verb, names, options.computer))
    if not results then cmdlet.raise(host, verb, record) end
    local errors, category = {}, nil
    for _, result in ipairs(results) do
      if result.Error ~= nil and result.Error ~= "" then
        errors[#errors + 1] = result.Error
        category = category or result.Category
      end
    end
    if #errors > 0 then
      cmdlet.raise(host, verb, { message = table.concat(errors, "; "), category = category })
    end
  end
  M.wait_services(host, state, { computer = options.computer, names = names,
                                 timeout = options.timeout })
end

--- stop_services(host, {computer=, names=, timeout=}) / start_services(...)
-- Stops (starts) the Lync services, then waits until all reached the state.
function M.stop_services(host, options)
  change_services(host, "Stop-CsWindowsService", "Stopped", options)
end

function M.start_services(host, options)
  change_services(host, "Start-CsWindowsService", "Running", options)
end

-- --------------------------------------------------------------- CMS replication

-- .NET ticks (100 ns since 0001-01-01, as the projection reads a DateTime) -> seconds since
-- the epoch; 0 (no date) -> nil.
local function seconds(ticks)
  if type(ticks) ~= "number" or ticks == 0 then return nil end
  return (ticks - 621355968000000000) / 10000000
end

--- replication_status(host [, fqdn]) -> list of {ReplicaFqdn=, UpToDate=, LastStatusReport=}
function M.replication_status(host, fqdn)
  local out = {}
  for _, replica in ipairs(read(host, "Get-CsManagementStoreReplicationStatus",
                                { ReplicaFqdn = fqdn })) do
    out[#out + 1] = { ReplicaFqdn = replica.ReplicaFqdn, UpToDate = replica.UpToDate,
                      LastStatusReport = seconds(replica.LastStatusReport),
                      LastUpdateCreation = seconds(replica.LastUpdateCreation) }
  end
  return out
end

--- wait_until_replicated(host, replicas, {timeout=300, interval=5, invoke=true})
-- Waits until every replica FQDN reports UpToDate on the CMS host; with invoke (the
-- default) asks for replication first (Invoke-CsManagementStoreReplication).
function M.wait_until_replicated(host, replicas, options)
  options = options or {}
  if options.invoke ~= false then
    for _, fqdn in ipairs(replicas) do
      cmdlet(host, "Invoke-CsManagementStoreReplication", { ReplicaFqdn = fqdn })
    end
  end
  local deadline = now() + (options.timeout or 300)
  return progress.during({ what = "cms-replication", host = host_name(host),
                           limit = options.timeout or 300, total = #replicas }, function(meter)
    while true do
      local status, behind = {}, {}
      for _, replica in ipairs(M.replication_status(host)) do
        status[replica.ReplicaFqdn:lower()] = replica
      end
      for _, fqdn in ipairs(replicas) do
        local replica = status[fqdn:lower()]
        if not replica then behind[#behind + 1] = fqdn .. " (not a replica)"
        elseif not replica.UpToDate then behind[#behind + 1] = fqdn end
      end
      meter:update(#replicas - #behind, #replicas, { behind = behind })
      if #behind == 0 then return true end
      if now() >= deadline then
        error(("[lync] CMS replication to %s not up to date within %g s (asked %s)"):format(
              table.concat(behind, ", "), options.timeout or 300, host_name(host)), 0)
      end
      task.sleep(options.interval or 5)
    end
  end)
end

-- --------------------------------------------------------------- XMPP prerequisites

--- xmpp_partners(host) -> the Identities of the XMPP allowed partners (Get-CsXmppAllowedPartner)
function M.xmpp_partners(host)
  local list = {}
  for i, partner in ipairs(read(host, "Get-CsXmppAllowedPartner", {})) do
    list[i] = partner.Identity
  end
  return list
end

--- federation_allowed(host) -> Get-CsAccessEdgeConfiguration's AllowFederatedUsers (global)
function M.federation_allowed(host)
  local config = read(host, "Get-CsAccessEdgeConfiguration", {})[1]
  return config ~= nil and config.AllowFederatedUsers == true
end

--- xmpp_access_policies(host) -> allowing, denying: the Identities of the external access
-- policies whose EnableXmppAccess is True, and of the others (Get-CsExternalAccessPolicy;
-- Set-CsExternalAccessPolicy.md, -EnableXmppAccess: "whether the user is allowed to
-- communicate with users who have SIP accounts with a federated XMPP … partner")
function M.xmpp_access_policies(host)
  local allowing, denying = {}, {}
  for _, policy in ipairs(read(host, "Get-CsExternalAccessPolicy", {})) do
    local list = policy.EnableXmppAccess == true and allowing or denying
    list[#list + 1] = policy.Identity
  end
  return allowing, denying
end

--- certificates(host, use) -> the Lync certificates of that computer for a use
-- ("AccessEdgeExternal"): {Use=, Subject=, AlternativeNames={...}, NotAfter=seconds}
function M.certificates(host, use)
  local list = {}
  for i, cert in ipairs(read(host, "Get-CsCertificate", { Type = { use } })) do
    cert.NotAfter = seconds(cert.NotAfter)
    list[i] = cert
  end
  return list
end

--- cms_master(host) -> the FQDN of the Central Management Store's active master, or nil
-- when none answers (Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus)
function M.cms_master(host)
  local status = cmdlet(host, "Get-CsManagementStoreReplicationStatus",
    { CentralManagementStoreStatus = true }, { project = PROJECT.CmsStatus })[1] or {}
  local master = status.ActiveMasterFqdn
  return master ~= nil and master ~= "" and master or nil
end

--- tcp_test(host, target, port) -> succeeded, remote address: a TCP connect made by the
-- server itself (Test-NetConnection -ComputerName -Port), so that a port is checked from where
-- the traffic starts: 23456 from the Front End, 5269 outbound from the Access Edge.
function M.tcp_test(host, target, port)
  local result = read(host, "Test-NetConnection", { ComputerName = target, Port = port })[1]
  return result ~= nil and result.TcpTestSucceeded == true, result and result.RemoteAddress
end

-- The products by major version (Get-CsServerVersion returns the base version, "5.0.8308").
local PRODUCTS = { [5] = "Lync Server 2013", [6] = "Skype for Business Server 2015",
                   [7] = "Skype for Business Server 2019" }

--- warm(hosts): each host's PowerShell started and its Lync module loaded (a Get-CsServerVersion
-- whose answer nobody waits for), in the background: what the run asks them next finds
-- both ready. A failure here is the next call's to report, so it is dropped.
function M.warm(hosts)
  for _, host in ipairs(hosts) do
    task.spawn(function() pcall(M.server_version, host) end)
  end
end

--- server_version(host) -> {text=, major=, product=} of that computer (Get-CsServerVersion)
function M.server_version(host)
  local text = tostring(cmdlet(host, "Get-CsServerVersion", {})[1] or "")
  local major = tonumber(text:match("%((%d+)%.%d+%.%d+") or text:match("(%d+)%.%d+%.%d+"))
  return { text = text, major = major, product = major and PRODUCTS[major] }
end

-- --------------------------------------------------------------- topology

--- topology(host) -> {sites = {name -> {identity=, route=, pools={fqdn...}}},
--                     edge_pools = {fqdn -> {site=, servers={fqdn...}}}, route_parameter=}
-- so an inventory need not retype server lists.
function M.topology(host)
  local parameter = M.federation_route_parameter(host)
  local topology = { sites = {}, edge_pools = {}, route_parameter = parameter }
  for _, site in ipairs(M.sites(host)) do
    local name = site.Identity:gsub("^Site:", "")
    topology.sites[name] = { identity = site.Identity, pools = site.Pools or {},
                             route = present(site[parameter]) and
                                     (site[parameter]:gsub("^EdgeServer:", "")) or nil }
  end
  for _, pool in ipairs(M.pools(host)) do
    for _, service in ipairs(pool.Services or {}) do
      if service:match("^EdgeServer:") then
        topology.edge_pools[pool.Identity] = { site = (pool.Site or ""):gsub("^Site:", ""),
                                               servers = pool.Computers or {} }
      end
    end
  end
  return topology
end

return M
