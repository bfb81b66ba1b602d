--- lab.emulator_cmdlets — the cmdlets the Lync emulator answers, over one server's state
-- (see lab.emulator.default_state), plus Get-Command and ConvertTo-Json.
--
-- Each cmdlet declares its parameters; binding is case-insensitive like PowerShell's and an
-- unknown parameter is PowerShell's NamedParameterNotFound error. Output objects are built
-- with object{} (ordered properties) and array{} so ConvertTo-Json keeps their shape.
local cjson = require "cjson"

local M = {}

local function ps_error(message, category, id)
  error({ ps_error = true, message = message, category = category, id = id }, 0)
end

-- object{"Name", value, ...} -> an object whose properties keep their order.
local function object(list)
  local o = { __order = {} }
  for i = 1, #list, 2 do
    o.__order[#o.__order + 1] = list[i]
    o[list[i]] = list[i + 1]
  end
  return o
end

local function array(list)
  local a = { __array = true }
  for i, item in ipairs(list or {}) do a[i] = item end
  return a
end

-- --------------------------------------------------------------- values
-- Values as Windows PowerShell 5.1 holds them, so that ConvertTo-Json writes what it writes
-- on a real server and a cast ([string], [long]) gives what PowerShell's conversions give
-- (docs/emulator.md names the source of each):
--   enum(type, number, name)  an enum (ServiceControllerStatus): JSON its number, [string]
--                        its name
--   date(seconds)        a DateTime: JSON "\/Date(ms)\/", .Ticks, [string] M/d/yyyy h:mm:ss tt
--   cim(class, list)     a CIM instance (the DnsServer module's records): its properties when
--                        it is an item of the output, {CimClass, CimInstanceProperties,
--                        CimSystemProperties} when it is a property of another object
--   text(text, list)     an object whose ToString() is text (an IPAddress, a Lync Computer)

function M.enum(type, number, name) return { __enum = type, __value = number, __name = name } end
function M.date(seconds) return { __date = seconds } end

function M.cim(class, list)
  local o = object(list)
  o.__cim = class
  return o
end

function M.text(text, list)
  local o = object(list or {})
  o.__text = text
  return o
end

local EPOCH_TICKS = 621355968000000000      -- DateTime(1970, 1, 1).Ticks

local function date_text(seconds)          -- en-US, as [string] of a DateTime writes it
  local t = os.date("!*t", math.floor(seconds))
  local hour = t.hour % 12 == 0 and 12 or t.hour % 12
  return ("%d/%d/%d %d:%02d:%02d %s"):format(t.month, t.day, t.year, hour, t.min, t.sec,
                                             t.hour < 12 and "AM" or "PM")
end

--- to_string(value) -> the text PowerShell's [string] conversion gives
function M.to_string(value)
  if value == nil or value == cjson.null then return "" end
  local kind = type(value)
  if kind == "string" then return value end
  if kind == "boolean" then return value and "True" or "False" end
  if kind == "number" then
    return math.type(value) == "integer" and tostring(value) or ("%.15g"):format(value)
  end
  if value.__enum then return value.__name or tostring(value.__value) end
  if value.__date then return date_text(value.__date) end
  if value.__text then return value.__text end
  if value.__cim then return value.__cim end
  if value.__array then
    local parts = {}
    for i, item in ipairs(value) do parts[i] = M.to_string(item) end
    return table.concat(parts, " ")              -- $OFS
  end
  return "System.Collections.Hashtable"
end

local function to_integer(value)
  if type(value) == "table" and value.__enum then return value.__value end
  if value == nil or value == cjson.null then return 0 end
  if value == true then return 1 elseif value == false then return 0 end
  local number = tonumber(value)
  if not number then
    error({ ps_error = true, message = ('Cannot convert value "%s" to type "System.Int64".')
      :format(M.to_string(value)), category = "InvalidArgument",
      id = "InvalidCastFromStringToInteger" }, 0)
  end
  return math.tointeger(number) or math.floor(number + 0.5)
end

--- cast(type_name, value) -> the value converted as [type_name] converts it
function M.cast(type_name, value)
  local name = type_name:lower():gsub("^system%.", "")
  if name == "string" then return M.to_string(value) end
  if name == "string[]" then
    local list = { __array = true }
    if value == nil or value == cjson.null then return list end
    local items = type(value) == "table" and value.__array and value or { value }
    for i, item in ipairs(items) do list[i] = M.to_string(item) end
    return list
  end
  if name == "long" or name == "int" or name == "int32" or name == "int64" then
    return to_integer(value)
  end
  if name == "bool" or name == "boolean" then
    return not (value == nil or value == cjson.null or value == false or value == 0
                or value == "")
  end
  return value                                      -- [pscustomobject], [ordered]: as is
end

--- member(value, name) -> what value.Name is for the emulator's special values (nil: none)
function M.special_member(value, name)
  if value.__date and name:lower() == "ticks" then
    return EPOCH_TICKS + math.floor(value.__date * 10000000)
  end
  if value.__enum and name:lower() == "value__" then return value.__value end
end

-- --------------------------------------------------------------- ConvertTo-Json

-- A CIM instance nested in another object: ConvertTo-Json sees the .NET CimInstance, not
-- PowerShell's adapted view (PowerShell/PowerShell#24554): its CimClass, its properties as
-- CimProperty objects (written by their ToString() past the depth) and its system
-- properties. The adapted members (IPv4Address, DomainName, Port …) are not there.
local function raw_cim(value)
  local properties = { __array = true }
  for _, key in ipairs(value.__order) do
    properties[#properties + 1] = ("%s = %s"):format(key, M.to_string(value[key]))
  end
  return object { "CimClass", "ROOT/Microsoft/Windows/DNS:" .. value.__cim,
                  "CimInstanceProperties", properties,
                  "CimSystemProperties", object { "Namespace", "root/Microsoft/Windows/DNS",
                    "ServerName", "", "ClassName", value.__cim, "Path", cjson.null } }
end

local function encode(value, out, depth)
  local kind = type(value)
  if value == nil or value == cjson.null then out[#out + 1] = "null"
  elseif kind == "boolean" then out[#out + 1] = value and "true" or "false"
  elseif kind == "number" then
    out[#out + 1] = math.type(value) == "integer" and tostring(value) or ("%.17g"):format(value)
  elseif kind == "string" then out[#out + 1] = cjson.encode(value)
  elseif value.__enum then out[#out + 1] = tostring(value.__value)
  elseif value.__date then
    out[#out + 1] = cjson.encode(("/Date(%d)/"):format(math.floor(value.__date * 1000)))
  elseif value.__cim and depth > 1 then encode(raw_cim(value), out, depth)
  elseif value.__array then
    out[#out + 1] = "["
    for i, item in ipairs(value) do
      if i > 1 then out[#out + 1] = "," end
      encode(item, out, depth)       -- the items of an array are at the array's depth
    end
    out[#out + 1] = "]"
  else
    local keys = value.__order
    if not keys then
      keys = {}
      for key in pairs(value) do
        if type(key) == "string" and not key:match("^__") then keys[#keys + 1] = key end
      end
      table.sort(keys)
    end
    out[#out + 1] = "{"
    for i, key in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = cjson.encode(key) .. ":"
      encode(value[key], out, depth + 1)
    end
    out[#out + 1] = "}"
  end
end

function M.to_json(value)
  local out = {}
  encode(value, out, 1)
  return table.concat(out)
end

-- --------------------------------------------------------------- binding

local COMMON = { "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction",
                 "ErrorVariable", "WarningVariable", "InformationVariable", "OutVariable",
                 "OutBuffer", "PipelineVariable" }

-- Binds named and positional arguments to the declared parameters (names case-insensitive).
local function bind(spec, named, positional, cmdlet)
  local by_lower, args = {}, {}
  for _, name in ipairs(spec.parameters) do by_lower[name:lower()] = name end
  for _, name in ipairs(COMMON) do by_lower[name:lower()] = name end
  for key, value in pairs(named) do
    local canonical = by_lower[key:lower()]
    if not canonical then
      ps_error(("A parameter cannot be found that matches parameter name '%s'."):format(key),
               "InvalidArgument", "NamedParameterNotFound," .. spec.class)
    end
    args[canonical] = value
  end
  for i, value in ipairs(positional) do
    local name = spec.positional and spec.positional[i]
    if not name or args[name] ~= nil then
      ps_error(("A positional parameter cannot be found that accepts argument '%s'.")
               :format(tostring(value)), "InvalidArgument",
               "PositionalParameterNotFound," .. spec.class)
    end
    args[name] = value
  end
  for _, name in ipairs(spec.mandatory or {}) do
    if args[name] == nil then
      ps_error(("Cannot process command because of one or more missing mandatory "
                .. "parameters: %s."):format(name), "InvalidArgument",
               "MissingMandatoryParameter," .. spec.class)
    end
  end
  args.__cmdlet = cmdlet
  return args
end

local function check_access(state, name, class)
  local denied = state.denied or {}
  for _, entry in ipairs(denied) do
    if entry == "*" or entry:lower() == name:lower() then
      ps_error("Access is denied.", "PermissionDenied", "UnauthorizedAccessException," .. class)
    end
  end
end

-- --------------------------------------------------------------- topology

-- A site by its name or its SiteId. The Get-CsSite and Set-CsSite references say "Do not
-- use the format \"site:Redmond\"" for -Identity: such an identity names no site here (what
-- a real server answers to it is not documented: docs/emulator.md).
local function find_site(state, identity)
  local wanted = tostring(identity):lower()
  if wanted:match("^site:") then return nil end
  for _, site in ipairs(state.sites) do
    if site.Identity:lower():gsub("^site:", "") == wanted then return site end
    if tonumber(site.SiteId) and tonumber(site.SiteId) == tonumber(wanted) then return site end
  end
end

-- The site a pool's or service's Site names ("Site:Site1"), which is no -Identity.
local function site_of_pool(state, site)
  return find_site(state, tostring(site):gsub("^[Ss][Ii][Tt][Ee]:", ""))
end

local function site_object(state, site)
  local pools = {}
  for _, pool in ipairs(state.pools) do
    if pool.Site == site.Identity then pools[#pools + 1] = pool.Identity end
  end
  return object { "Identity", site.Identity, "SiteId", site.SiteId,
                  "Services", array(site.Services), "Pools", array(pools),
                  "FederationRoute", site.FederationRoute,
                  state.route_parameter, site.route,
                  "Description", site.Description, "DisplayName", site.DisplayName,
                  "SiteName", site.DisplayName, "Kind", site.Kind or "Central",
                  "ParentSite", site.ParentSite }
end

local function edge_service_exists(state, identity)
  for _, pool in ipairs(state.pools) do
    for _, service in ipairs(pool.Services) do
      if service:lower() == identity:lower() then return true end
    end
  end
  return false
end

local function mark_replicas_stale(context)
  local state = context.state
  state.clock = (state.clock or 0) + 1
  for _, replica in ipairs(state.replicas) do
    replica.UpToDate = false
    replica.pending = state.replication_delay or 2
  end
end

local function get_site(context, args)
  if args.Identity == nil then
    local list = {}
    for i, site in ipairs(context.state.sites) do list[i] = site_object(context.state, site) end
    return list
  end
  local site = find_site(context.state, args.Identity)
  if not site then
    ps_error(('Cannot get "Site" "%s" because it does not exist.'):format(args.Identity),
             "ObjectNotFound", "ItemNotFound,Microsoft.Rtc.Management.Xds.GetSiteCmdlet")
  end
  return { site_object(context.state, site) }
end

-- Export-CsConfiguration -FileName: the exports are kept in the state (what the tests read).
local function export_configuration(context, args)
  local state = context.state
  state.exports = state.exports or {}
  state.exports[#state.exports + 1] = { file = tostring(args.FileName), clock = state.clock }
  context.changed = true
  return {}
end

local function set_site(context, args)
  local state = context.state
  local site = find_site(state, args.Identity)
  if not site then
    ps_error(('Cannot set "Site" "%s" because it does not exist.'):format(args.Identity),
             "ObjectNotFound", "ItemNotFound,Microsoft.Rtc.Management.Xds.SetSiteCmdlet")
  end
  local route = args[state.route_parameter]
  if route == cjson.null then
    site.route = nil                                  -- -XmppFederationRoute $null
  elseif route ~= nil then
    local identity = tostring(route)
    if state.route_parameter == "XmppExternalFederationRoute" then
      identity = "EdgeServer:" .. identity:gsub("^[Ee]dge[Ss]erver:", "")
    end
    if not edge_service_exists(state, identity) then
      ps_error(('Cannot find service "%s": the XMPP federation route must be an Edge Server '
                .. 'service in the topology.'):format(route), "InvalidArgument",
               "InvalidServiceIdentity,Microsoft.Rtc.Management.Xds.SetSiteCmdlet")
    end
    site.route = route
  end
  for _, field in ipairs { "Description", "DisplayName" } do
    if args[field] ~= nil then site[field] = args[field] end
  end
  mark_replicas_stale(context)
  context.changed = true
  return {}
end

-- A pool's Computers are objects ("an array of objects representing each computer in the
-- pool", Get-CsPool.md, Example 2); their properties are not documented (docs/emulator.md).
local function pool_object(pool)
  local computers = {}
  for i, fqdn in ipairs(pool.Computers or {}) do
    computers[i] = M.text(fqdn, { "Fqdn", fqdn, "Pool", pool.Identity })
  end
  return object { "Identity", pool.Identity, "Services", array(pool.Services),
                  "Computers", array(computers), "Fqdn", pool.Identity,
                  "Site", pool.Site }
end

local function get_pool(context, args)
  local list = {}
  for _, pool in ipairs(context.state.pools) do
    if args.Identity == nil or pool.Identity:lower() == tostring(args.Identity):lower() then
      list[#list + 1] = pool_object(pool)
    end
  end
  if args.Identity ~= nil and #list == 0 then
    ps_error(('Cannot get "Pool" "%s" because it does not exist.'):format(args.Identity),
             "ObjectNotFound", "ItemNotFound,Microsoft.Rtc.Management.Xds.GetPoolCmdlet")
  end
  return list
end

local function get_service(context, args)
  local list = {}
  for _, pool in ipairs(context.state.pools) do
    for _, service in ipairs(pool.Services) do
      local role = service:match("^([^:]+):")
      local wanted = (args.Identity == nil or service:lower() == args.Identity:lower())
        and (args.PoolFqdn == nil or pool.Identity:lower() == args.PoolFqdn:lower())
        and (not args.EdgeServer or role == "EdgeServer")
        and (not args.Registrar or role == "Registrar")
      if wanted then
        local site = site_of_pool(context.state, pool.Site)
        local fields = { "Identity", service, "PoolFqdn", pool.Identity,
                         "SiteId", site and site.Identity or pool.Site, "Role", role }
        if role == "EdgeServer" then
          for _, extra in ipairs { { "AccessEdgeInternalSipPort", 5061 },
                                   { "AccessEdgeExternalSipPort", 5061 },
                                   { "DataPsomInternalPort", 8057 },
                                   { "MediaRelayAuthEdgePort", 5062 } } do
            fields[#fields + 1], fields[#fields + 2] = extra[1], extra[2]
          end
        end
        list[#list + 1] = object(fields)
      end
    end
  end
  return list
end

-- --------------------------------------------------------------- Windows services

local STATUS = { Stopped = 1, StartPending = 2, StopPending = 3, Running = 4 }

local function services_of(context, args)
  local computer = args.ComputerName or context.state.server
  local services = context.state.services[computer]
  if not services then
    ps_error(("Cannot open Service Control Manager on computer '%s'. This operation might "
              .. "require other privileges."):format(computer), "InvalidOperation",
             "CouldNotOpenServiceManager")
  end
  if args.Name == nil then return services, computer end
  for _, service in ipairs(services) do
    if service.Name:lower() == tostring(args.Name):lower() then return { service }, computer end
  end
  ps_error(("Cannot find any service with service name '%s'."):format(args.Name),
           "ObjectNotFound", "NoServiceFoundForGivenName")
end

local function get_windows_service(context, args)
  local list = {}
  for i, service in ipairs((services_of(context, args))) do
    local status = STATUS[service.Status] and service.Status or "Stopped"
    local fields = { "Status", M.enum("System.ServiceProcess.ServiceControllerStatus",
                                      STATUS[status], status), "Name", service.Name,
                     "DisplayName", service.DisplayName }
    if not args.ExcludeActivityLevel then
      fields[#fields + 1], fields[#fields + 2] = "ActivityLevel", service.ActivityLevel or ""
    end
    list[i] = object(fields)
  end
  return list
end

-- Without -NoWait, "control will not be returned until the command has completed and a status
-- report has been written to the screen" (Stop-/Start-CsWindowsService.md, -NoWait): host
-- text on stdout, outside the pipeline's objects, a line per service as it changed. Its
-- wording is not sourced (docs/emulator.md).
local function status_report(context, args, service, computer)
  if args.NoWait or not context.write_host then return end
  context.write_host(("Service %s (%s) on %s: %s\r\n"):format(service.Name,
    service.DisplayName or service.Name, computer, service.Status))
end

local function change_services(context, args, target)
  local services, computer = services_of(context, args)
  for _, service in ipairs(services) do
    local refuses = target == "Stopped" and service.refuse_stop
                    or target == "Running" and service.refuse_start
    if refuses then
      local verb = target == "Stopped" and "stop" or "start"
      ps_error(("Service '%s (%s)' cannot be %s due to the following error: Cannot %s "
                .. "%s service on computer '%s'."):format(service.DisplayName, service.Name,
                verb == "stop" and "stopped" or "started", verb, service.Name, computer),
               verb == "stop" and "CloseError" or "OpenError",
               verb == "stop" and "CouldNotStopService" or "CouldNotStartService")
    end
    service.Status = target
    context.changed = true
    status_report(context, args, service, computer)
  end
  return {}
end

-- --------------------------------------------------------------- CMS replication

local function date(seconds) return M.date(seconds) end

local function replicas_of(context, args)
  local list = {}
  for _, replica in ipairs(context.state.replicas) do
    if args.ReplicaFqdn == nil or replica.ReplicaFqdn:lower() == args.ReplicaFqdn:lower() then
      list[#list + 1] = replica
    end
  end
  return list
end

-- -CentralManagementStoreStatus: where the CMS master is ("both ActiveMasterFQDN and
-- ActiveFileTransferAgents … pointing to the FQDN of CMS_Pool; if they are empty, the Central
-- Management Server is not available", Microsoft's pool failover page for Lync 2013).
local function cms_status(state)
  local cms = state.cms or {}
  local master = cms.ActiveMasterFqdn
  if master == nil then
    for _, pool in ipairs(state.pools) do
      for _, service in ipairs(pool.Services) do
        if service:match("^Registrar:") and not master then master = pool.Identity end
      end
    end
  end
  if master == cjson.null then master = nil end
  return { object { "ActiveMasterFqdn", master or cjson.null,
    "ActiveFileTransferAgents",
    array(master and (cms.ActiveFileTransferAgents or { master }) or {}),
    "ActiveReplicas", array {} } }
end

-- Each poll brings a stale replica one step closer to reporting the latest change.
local function get_replication_status(context, args)
  if args.CentralManagementStoreStatus then return cms_status(context.state) end
  local state, list = context.state, {}
  for _, replica in ipairs(replicas_of(context, args)) do
    if not replica.UpToDate and not replica.stuck then
      replica.pending = (replica.pending or 1) - 1
      if replica.pending <= 0 then
        replica.UpToDate = true
        replica.LastStatusReport = state.clock
      end
      context.changed = true
    end
    list[#list + 1] = object { "UpToDate", replica.UpToDate,
                              "ReplicaFqdn", replica.ReplicaFqdn,
                              "LastStatusReport", date(replica.LastStatusReport or 0),
                              "LastUpdateCreation", date(state.clock or 0),
                              "ProductVersion", "5.0.8308.0" }
  end
  return list
end

local function invoke_replication(context, args)
  for _, replica in ipairs(replicas_of(context, args)) do
    if not replica.UpToDate then replica.pending = math.min(replica.pending or 1, 1) end
  end
  context.changed = true
  return {}
end

-- --------------------------------------------------------------- XMPP prerequisites
-- Defaults when a state names none: one allowed partner, federation allowed, Lync 2013, an
-- Access Edge certificate for contoso.com valid for a year from now.

local XMPP_PARTNER_CLASS =
  "Microsoft.Rtc.Management.WritableConfig.Settings.XmppFederation.GetXmppAllowedPartnerCmdlet"

local function xmpp_partners(context, args)
  local list = {}
  for _, partner in ipairs(context.state.xmpp_partners or { { Identity = "jabber.example" } }) do
    if args.Identity == nil or partner.Identity:lower() == tostring(args.Identity):lower() then
      list[#list + 1] = object { "Identity", partner.Identity, "Domain", partner.Identity,
        "PartnerType", M.enum("PartnerType", 0, partner.PartnerType or "Federated") }
    end
  end
  if args.Identity ~= nil and #list == 0 then
    ps_error(('Cannot get "XmppAllowedPartner" "%s" because it does not exist.'):format(
      args.Identity), "ObjectNotFound", "ItemNotFound," .. XMPP_PARTNER_CLASS)
  end
  return list
end

local function access_edge_configuration(context)
  local config = context.state.access_edge or {}
  local allowed = config.AllowFederatedUsers
  if allowed == nil then allowed = true end
  return { object { "Identity", "Global", "AllowFederatedUsers", allowed,
                    "AllowOutsideUsers", config.AllowOutsideUsers ~= false,
                    "EnablePartnerDiscovery", config.EnablePartnerDiscovery == true } }
end

-- Get-CsExternalAccessPolicy: the policies of state.external_access_policies, by default a
-- Global policy that allows federation and XMPP (Set-CsExternalAccessPolicy.md: each
-- Enable* property's "default value is False"; this default is a deployed XMPP estate, as
-- the other defaults here). -Identity takes "Global", "Site:Redmond" or a per-user name.
local EXTERNAL_ACCESS_CLASS =
  "Microsoft.Rtc.Management.WritableConfig.Policy.ExternalAccess.ExternalAccessPolicy"

local function external_access_policies(context, args)
  local list = {}
  for _, policy in ipairs(context.state.external_access_policies
      or { { Identity = "Global", EnableFederationAccess = true, EnableXmppAccess = true } }) do
    local identity = tostring(policy.Identity)
    if args.Identity == nil or identity:lower() == tostring(args.Identity):lower()
       or identity:lower() == ("tag:" .. tostring(args.Identity)):lower() then
      list[#list + 1] = object { "Identity", identity, "Description", policy.Description or "",
        "EnableFederationAccess", policy.EnableFederationAccess == true,
        "EnableXmppAccess", policy.EnableXmppAccess == true,
        "EnablePublicCloudAccess", policy.EnablePublicCloudAccess == true,
        "EnablePublicCloudAudioVideoAccess", policy.EnablePublicCloudAudioVideoAccess == true,
        "EnableOutsideAccess", policy.EnableOutsideAccess == true }
    end
  end
  if args.Identity ~= nil and #list == 0 then
    ps_error(('Cannot get "ExternalAccessPolicy" "%s" because it does not exist.'):format(
      args.Identity), "ObjectNotFound", "ItemNotFound," .. EXTERNAL_ACCESS_CLASS)
  end
  return list
end

local function certificates(context, args)
  local clock = context.state.clock or 0
  local list = {}
  for _, cert in ipairs(context.state.certificates or { { Use = "AccessEdgeExternal",
      Subject = "CN=sip.contoso.com", AlternativeNames = { "sip.contoso.com", "contoso.com",
      "xmpp.contoso.com" }, NotAfter = os.time() + 365 * 86400 } }) do
    local types = type(args.Type) == "table" and args.Type or { args.Type }
    local wanted = args.Type == nil
    for _, t in ipairs(types) do wanted = wanted or tostring(t):lower() == cert.Use:lower() end
    if wanted then
      list[#list + 1] = object { "Issuer", cert.Issuer or "CN=Contoso Issuing CA",
        "NotAfter", M.date(cert.NotAfter), "NotBefore", M.date(cert.NotBefore or clock - 86400),
        "SerialNumber", cert.SerialNumber or "1A2B", "Subject", cert.Subject,
        "AlternativeNames", array(cert.AlternativeNames),
        "Thumbprint", cert.Thumbprint or "0123456789ABCDEF0123456789ABCDEF01234567",
        "Use", M.enum("CertType", 0, cert.Use) }
    end
  end
  return list
end

-- Test-NetConnection -ComputerName -Port: the properties of Example 3 of its reference
-- (nettcpip/Test-NetConnection.md: ComputerName, RemoteAddress, RemotePort, InterfaceAlias,
-- SourceAddress, TcpTestSucceeded), TcpTestSucceeded false when state.unreachable lists
-- "host:port"; a failed test also warns on the screen (its wording, from users'
-- transcripts, is not in Microsoft's page) and pings (PingSucceeded).
local function test_net_connection(context, args)
  local target, port = tostring(args.ComputerName), math.tointeger(tonumber(args.Port)) or 0
  local blocked = false
  for _, entry in ipairs(context.state.unreachable or {}) do
    if entry:lower() == (target .. ":" .. port):lower() then blocked = true end
  end
  local fields = { "ComputerName", target, "RemoteAddress", M.text(target),
                   "RemotePort", port, "InterfaceAlias", "Ethernet",
                   "SourceAddress", M.text(context.state.source_address or "10.0.1.11") }
  if blocked then
    if context.write_host then
      context.write_host(("WARNING: TCP connect to (%s : %d) failed\r\n"):format(target, port))
    end
    fields[#fields + 1], fields[#fields + 2] = "PingSucceeded", false
  end
  fields[#fields + 1], fields[#fields + 2] = "TcpTestSucceeded", not blocked
  return { object(fields) }
end

local function server_version(context)
  return { context.state.version
    or "Microsoft Lync Server 2013 (5.0.8308.0): Volume license key installed." }
end

-- --------------------------------------------------------------- the table

local SPECS

-- One Get-Command result; -Name takes string[] (a missing name is the error PowerShell
-- writes, terminating under the wrapper's $ErrorActionPreference = 'Stop').
local function command_object(context, name)
  local spec = SPECS[tostring(name):lower()]
  if not spec then
    ps_error(("The term '%s' is not recognized as the name of a cmdlet, function, script "
              .. "file, or operable program."):format(tostring(name)), "ObjectNotFound",
             "CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand")
  end
  local keys = array()
  local parameters = spec.parameters
  if spec.name == "Set-CsSite" then
    parameters = { "Identity", "Instance", "Description", "DisplayName", "FederationRoute",
                   context.state.route_parameter, "Force", "WhatIf", "Confirm" }
  end
  for _, parameter in ipairs(parameters) do keys[#keys + 1] = parameter end
  for _, parameter in ipairs(COMMON) do keys[#keys + 1] = parameter end
  return object { "Name", spec.name, "CommandType", "Cmdlet", "Parameters", { __keys = keys } }
end

local function get_command(context, args)
  local names = type(args.Name) == "table" and args.Name or { args.Name }
  local found = {}
  for i, name in ipairs(names) do found[i] = command_object(context, name) end
  return found
end

local function convert_to_json(_, args)
  return { M.to_json(args.InputObject) }
end

local function spec(name, class, parameters, impl, extra)
  local s = { name = name, class = class, parameters = parameters, impl = impl }
  for key, value in pairs(extra or {}) do s[key] = value end
  return s
end

local SHOULD = { "Force", "WhatIf", "Confirm" }
local function with(list, more)
  local out = { table.unpack(list) }
  for _, item in ipairs(more) do out[#out + 1] = item end
  return out
end

SPECS = {}
for _, s in ipairs {
  spec("Get-CsSite", "Microsoft.Rtc.Management.Xds.GetSiteCmdlet",
       { "Identity", "Filter", "LocalStore" }, get_site, { positional = { "Identity" } }),
  spec("Set-CsSite", "Microsoft.Rtc.Management.Xds.SetSiteCmdlet",
       with({ "Identity", "Instance", "Description", "DisplayName", "FederationRoute" }, SHOULD),
       set_site, { positional = { "Identity" }, mandatory = { "Identity" }, mutates = true }),
  spec("Get-CsPool", "Microsoft.Rtc.Management.Xds.GetPoolCmdlet",
       { "Identity", "Filter", "LocalStore" }, get_pool, { positional = { "Identity" } }),
  spec("Get-CsService", "Microsoft.Rtc.Management.Xds.GetServiceCmdlet",
       { "Identity", "PoolFqdn", "EdgeServer", "Registrar", "CentralManagement",
         "LocalStore" }, get_service, { positional = { "Identity" } }),
  spec("Get-CsWindowsService", "Microsoft.Rtc.Management.Deployment.Core.GetCsWindowsService",
       { "Name", "ComputerName", "ExcludeActivityLevel", "Report" }, get_windows_service,
       { positional = { "Name" } }),
  spec("Stop-CsWindowsService", "Microsoft.Rtc.Management.Deployment.Core.StopCsWindowsService",
       with({ "Name", "ComputerName", "Graceful", "NoWait", "Report", "InputObject" }, SHOULD),
       function(context, args) return change_services(context, args, "Stopped") end,
       { positional = { "Name" }, mutates = true }),
  spec("Start-CsWindowsService",
       "Microsoft.Rtc.Management.Deployment.Core.StartCsWindowsService",
       with({ "Name", "ComputerName", "NoWait", "Report", "InputObject" }, SHOULD),
       function(context, args) return change_services(context, args, "Running") end,
       { positional = { "Name" }, mutates = true }),
  spec("Get-CsManagementStoreReplicationStatus",
       "Microsoft.Rtc.Management.Xds.GetReplicationStatusCmdlet",
       { "ReplicaFqdn", "CentralManagementStoreStatus" }, get_replication_status,
       { positional = { "ReplicaFqdn" } }),
  spec("Invoke-CsManagementStoreReplication",
       "Microsoft.Rtc.Management.Xds.InvokeReplicationCmdlet",
       with({ "ReplicaFqdn" }, SHOULD), invoke_replication, { mutates = true }),
  spec("Get-CsXmppAllowedPartner", XMPP_PARTNER_CLASS,
       { "Identity", "Filter", "LocalStore" }, xmpp_partners, { positional = { "Identity" } }),
  spec("Get-CsAccessEdgeConfiguration",
       "Microsoft.Rtc.Management.WritableConfig.Policy.Edge.GetAccessEdgeConfigurationCmdlet",
       { "Identity", "Filter", "LocalStore" }, access_edge_configuration,
       { positional = { "Identity" } }),
  spec("Get-CsExternalAccessPolicy", EXTERNAL_ACCESS_CLASS,
       { "Identity", "Filter", "LocalStore" }, external_access_policies,
       { positional = { "Identity" } }),
  spec("Get-CsCertificate", "Microsoft.Rtc.Management.Deployment.GetCertificateCmdlet",
       { "Type", "NetportId", "Report", "Identity" }, certificates),
  spec("Test-NetConnection", "Test-NetConnection",
       { "ComputerName", "Port", "InformationLevel", "CommonTCPPort" }, test_net_connection,
       { positional = { "ComputerName" }, builtin = true }),
  spec("Get-CsServerVersion", "Microsoft.Rtc.Management.Deployment.GetServerVersionCmdlet",
       {}, server_version),
  spec("Export-CsConfiguration", "Microsoft.Rtc.Management.Xds.ExportConfigurationCmdlet",
       { "FileName", "LocalStore", "AsBytes" }, export_configuration,
       { mandatory = { "FileName" }, mutates = true }),
  spec("Get-Command", "Microsoft.PowerShell.Commands.GetCommandCommand",
       { "Name", "Module", "CommandType" }, get_command,
       { positional = { "Name" }, builtin = true }),
  spec("ConvertTo-Json", "Microsoft.PowerShell.Commands.ConvertToJsonCommand",
       { "InputObject", "Depth", "Compress" }, convert_to_json,
       { positional = { "InputObject" }, builtin = true }),
} do SPECS[s.name:lower()] = s end
for _, s in ipairs(require("lab.emulator_dns").specs(spec, with, SHOULD,
    { ps_error = ps_error, object = object, array = array, cim = M.cim, text = M.text,
      enum = M.enum })) do
  SPECS[s.name:lower()] = s
end

-- Every call of a cmdlet that changes something, counted in state.applied by the cmdlet and
-- what it was given ("Set-CsSite Site2 …"): tests read it to prove that a run, however
-- often killed and resumed, applied no change twice.
local function count_applied(state, name, args)
  local words = { name }
  for _, key in ipairs { "Identity", "ComputerName", "Name", "ReplicaFqdn" } do
    if args[key] ~= nil then words[#words + 1] = tostring(args[key]) end
  end
  local what = table.concat(words, " ")
  state.applied = state.applied or {}
  state.applied[what] = (state.applied[what] or 0) + 1
end

-- An injected failure of one call (state.fail_call = {cmdlet=, computer=, at=}): the
-- at-th call of that changing cmdlet (on that computer, when one is named) fails after it
-- took effect or not — before, so that the call changes nothing, as a refused one would.
-- The count lives in the state, which the failing call saves (context.changed).
local function injected_failure(context, s, args)
  local fail = context.state.fail_call
  if not fail or fail.cmdlet:lower() ~= s.name:lower() then return end
  if fail.computer and tostring(args.ComputerName or ""):lower() ~= fail.computer:lower() then
    return
  end
  fail.seen = (fail.seen or 0) + 1
  context.changed = true
  if fail.seen == fail.at then
    ps_error(("%s failed on call %d (injected fault)"):format(s.name, fail.at),
      "InvalidOperation", "InjectedFault," .. s.class)
  end
end

--- find(name) -> function(context, named, positional, name) -> outputs, or nil
function M.find(name)
  local s = SPECS[name:lower()]
  if not s then return nil end
  return function(context, named, positional)
    if not s.builtin then check_access(context.state, s.name, s.class) end
    local parameters = s.parameters
    if s.name == "Set-CsSite" then
      parameters = with(parameters, { context.state.route_parameter })
    end
    local args = bind({ parameters = parameters, positional = s.positional,
                        mandatory = s.mandatory, class = s.class }, named, positional, s.name)
    if s.mutates then injected_failure(context, s, args) end
    local outputs = s.impl(context, args)
    if s.mutates then count_applied(context.state, s.name, args) end
    return outputs
  end
end

return M
