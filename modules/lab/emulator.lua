--- lab.emulator — a Lync Server 2013 Management Shell stand-in for the tests and the
-- embedded lab: the only emulated part of the Windows side.
--
-- Written once, mounted twice: behind a real sshd as the forced command
-- (tests/lab/lync-emulator) and in-process as the `sim` transport (modules/cmdlet.lua).
-- Both hand it the command line `powershell -NoProfile -NonInteractive -EncodedCommand
-- <base64 UTF-16LE>`; it decodes the script, parses it with powershell.parser (the restricted
-- grammar modules/powershell.lua generates), evaluates it against the state of one
-- emulated server and answers {stdout=, stderr=, status=} as powershell.exe would.
--
-- The state of one emulated server lives in a JSON file that tests read and write
-- (default_state() shows every field): sites, pools, Windows services per computer,
-- CMS replicas, which name Set-CsSite's federation route parameter has, and fault
-- injection (denied cmdlets, services that refuse to stop, replicas that never catch up).
-- Output shapes follow Windows PowerShell 5.1's ConvertTo-Json of the Lync objects:
-- service Status as the ServiceControllerStatus number, dates as "/Date(ms)/".
local cjson = require "cjson"
local powershell = require "powershell"
local psparse = require "powershell.parser"
local cmdlets = require "lab.emulator_cmdlets"

local M = {}

--- default_state(server, options) -> a fresh state for an emulated server.
-- options: edge_servers (list of FQDNs, default edge1/edge2.contoso.com), sites,
-- route_parameter ("XmppFederationRoute" | "XmppExternalFederationRoute").
function M.default_state(server, options)
  options = options or {}
  local edges = options.edge_servers or { "edge1.contoso.com", "edge2.contoso.com" }
  local state = {
    server = server or "fe1.contoso.com",
    route_parameter = options.route_parameter or "XmppFederationRoute",
    denied = {},            -- cmdlet names answered with access denied ("*": all)
    replication_delay = 2,  -- status polls until a replica reports the latest change
    sites = {
      { Identity = "Site:Site1", SiteId = 1, DisplayName = "Site1", Kind = "Central",
        route = "EdgeServer:edgepool1.contoso.com" },
      { Identity = "Site:Site2", SiteId = 2, DisplayName = "Site2", Kind = "Central" },
    },
    pools = {
      { Identity = "fepool1.contoso.com", Site = "Site:Site1",
        Services = { "Registrar:fepool1.contoso.com", "UserServer:fepool1.contoso.com" },
        Computers = {} },
      { Identity = "edgepool1.contoso.com", Site = "Site:Site1",
        Services = { "EdgeServer:edgepool1.contoso.com" }, Computers = { edges[1] } },
      { Identity = "edgepool2.contoso.com", Site = "Site:Site2",
        Services = { "EdgeServer:edgepool2.contoso.com" }, Computers = { edges[2] } },
    },
    services = {},   -- computer FQDN -> list of {Name=, DisplayName=, Status=, refuse_stop=}
    replicas = {},   -- list of {ReplicaFqdn=, UpToDate=, pending=, stuck=, LastStatusReport=}
    clock = 1700000000,
  }
  state.pools[1].Computers = { state.server }
  for _, computer in ipairs({ state.server, table.unpack(edges) }) do
    state.services[computer] = M.edge_services()
    state.replicas[#state.replicas + 1] = { ReplicaFqdn = computer, UpToDate = true,
                                            pending = 0, LastStatusReport = state.clock }
  end
  return state
end

--- edge_services() -> the Windows services of a Lync 2013 Edge server, all running.
function M.edge_services()
  local list = {}
  for _, pair in ipairs {
    { "REPLICA", "Lync Server Replica Replicator Agent" },
    { "RTCDATAPROXY", "Lync Server Audio/Video Authentication" },
    { "RTCMEDIARELAY", "Lync Server Audio/Video Edge" },
    { "RTCMRAUTH", "Lync Server Audio/Video Authentication" },
    { "RTCSRV", "Lync Server Access Edge" },
    { "RTCCLSAGT", "Lync Server Centralized Logging Service Agent" },
    { "RTCXMPPTGWPX", "Lync Server XMPP Translating Gateway Proxy" },
  } do
    list[#list + 1] = { Name = pair[1], DisplayName = pair[2], Status = "Running" }
  end
  return list
end

function M.load_state(path)
  local file, err = io.open(path, "rb")
  if not file then error("[lab.emulator] cannot read state " .. tostring(err), 0) end
  local text = file:read("a")
  file:close()
  return cjson.decode(text)
end

-- This process's id (the emulator runs as several processes per server: sessions, single
-- commands, the test itself), so that two writers never share a temporary file.
local function process_id()
  local file = io.open("/proc/self/stat", "rb")
  local pid = file and file:read("l"):match("^(%d+)")
  if file then file:close() end
  return pid or tostring(math.random(1 << 30))
end

--- save_state(path, state): atomically (a reader never sees half a file, and two writers
-- never write into one temporary file: the last rename wins whole).
function M.save_state(path, state)
  local temporary = ("%s.%s.tmp"):format(path, process_id())
  local file = assert(io.open(temporary, "wb"))
  file:write(cjson.encode(state))
  file:close()
  assert(os.rename(temporary, path))
end

-- --------------------------------------------------------------- costs and counters

--- What an emulated server charges, in seconds of waiting (not CPU): starting a PowerShell
-- process, and the Lync module's first use in a process. Assumptions, the same for every
-- tool the bench compares (docs/transports.md, "What the emulated servers cost"):
-- powershell.exe -NoProfile takes about half a second to start on a server, and importing
-- the Lync module is reported at 3-30 s; 3 is the low end.
M.DEFAULT_COSTS = { process_start = 0.5, module_load = 3 }

-- "A,B" -> {process_start = A, module_load = B}; "default" -> M.DEFAULT_COSTS; else nil.
local function parse_costs(text)
  text = tostring(text or ""):match("^%s*(.-)%s*$")
  if text == "default" then
    return { process_start = M.DEFAULT_COSTS.process_start,
             module_load = M.DEFAULT_COSTS.module_load }
  end
  local start, load = text:match("^([%d.]+)%s*,%s*([%d.]+)$")
  if not start or not tonumber(start) or not tonumber(load) then return nil end
  return { process_start = tonumber(start), module_load = tonumber(load) }
end

--- costs(state_dir) -> {process_start=, module_load=}: $LYNC_EMULATOR_COSTS ("0.5,3" or
-- "default"), else STATE_DIR/costs (the same text: the lab scripts write
-- ${LYNC_EMULATOR_COSTS:-default} there, since sshd gives a forced command no environment
-- of the test's), else nothing (a bare emulator: the local transport). The test suite runs
-- with "0,0" (tests/support.lua), the bench with the defaults.
function M.costs(state_dir)
  local costs = parse_costs(os.getenv("LYNC_EMULATOR_COSTS"))
  if costs then return costs end
  local file = state_dir and io.open(state_dir .. "/costs", "rb")
  if file then
    costs = parse_costs(file:read("a"))
    file:close()
    if costs then return costs end
  end
  return { process_start = 0, module_load = 0 }
end

--- counters_path(state_path) -> the file where the server's counters accumulate: one line
-- per event ("process", "script", "cmdlet NAME", "session"), appended in one write, so that
-- concurrent processes of one server never mix their lines.
function M.counters_path(state_path)
  return (state_path:gsub("%.json$", "")) .. ".counters"
end

function M.count(state_path, event)
  local file = io.open(M.counters_path(state_path), "ab")
  if not file then return end
  file:setvbuf("full")
  file:write(event, "\n")
  file:close()
end

--- counters(state_path) -> {processes=, sessions=, scripts=, cmdlets=, by_cmdlet={name=n}}
function M.counters(state_path)
  local result = { processes = 0, sessions = 0, scripts = 0, cmdlets = 0, by_cmdlet = {} }
  local file = io.open(M.counters_path(state_path), "rb")
  if not file then return result end
  for line in file:lines() do
    if line == "process" then result.processes = result.processes + 1
    elseif line == "session" then result.sessions = result.sessions + 1
    elseif line == "script" then result.scripts = result.scripts + 1
    else
      local name = line:match("^cmdlet (.+)$")
      if name then
        result.cmdlets = result.cmdlets + 1
        result.by_cmdlet[name] = (result.by_cmdlet[name] or 0) + 1
      end
    end
  end
  file:close()
  return result
end

--- start_process(state_path, costs, wait) -> the emulated PowerShell process of one server:
-- counted, and charged its start (wait(seconds) is how this front end waits).
function M.start_process(state_path, costs, wait)
  local process = { state_path = state_path, costs = costs, module_loaded = false,
                    wait = function(seconds) if seconds > 0 then wait(seconds) end end }
  M.count(state_path, "process")
  process.wait(costs.process_start)
  return process
end

-- --------------------------------------------------------------- evaluation

local function ps_error(message, category, id)
  error({ ps_error = true, message = message, category = category, id = id }, 0)
end
M.ps_error = ps_error

-- An ErrorRecord as $_ shows it inside catch.
local function error_record(err)
  return { Exception = { Message = err.message },
           CategoryInfo = { Category = err.category },
           FullyQualifiedErrorId = err.id }
end

local evaluate, run_statements

-- The text Out-Default writes for an object of the output (the scripts runbook sends output
-- strings, or JSON when a test sends a bare cmdlet).
local function text_of(item)
  if type(item) == "string" then return item end
  if item == nil then return "" end
  if type(item) == "table" then return cmdlets.to_json(item, true) end
  return tostring(item)
end

local function member(object, name)
  if type(object) ~= "table" then return nil end
  if object.__keys and name == "Keys" then return object.__keys end
  local special = cmdlets.special_member(object, name)
  if special ~= nil then return special end
  local value = object[name]
  if value == nil then   -- PowerShell member names are case-insensitive
    for key, item in pairs(object) do
      if type(key) == "string" and key:lower() == name:lower() then return item end
    end
  end
  return value
end

-- Invoke-Expression: the string is parsed and run here, in the caller's scope.
local function invoke_expression(context, node)
  local text = evaluate(context, node.named.Command or node.positional[1])
  local ok, tree = pcall(psparse.parse, tostring(text or ""))
  if not ok then
    ps_error(type(tree) == "table" and tree.message or tostring(tree), "ParserError",
             "ParseException,Microsoft.PowerShell.Commands.InvokeExpressionCommand")
  end
  return run_statements(context, tree.body, true)
end

-- What a real server pays for a cmdlet in this process: the Lync module loads on the first
-- *-Cs* cmdlet a PowerShell process runs (M.costs); every call is counted. state.hang =
-- "Cmdlet-Name": that cmdlet answers 3 s late (a server that stops answering; tests).
local function charge_cmdlet(context, name)
  local process = context.process
  if not process then return end
  M.count(process.state_path, "cmdlet " .. name)
  if context.state.hang == name then process.wait(3) end   -- a server that stops answering
  if name:find("%-Cs") and not process.module_loaded then
    process.module_loaded = true
    process.wait(process.costs.module_load)
  end
end

-- --------------------------------------------------------------- Get-Service, WaitForStatus
-- Windows PowerShell 5.1's Get-Service returns ServiceController objects; their method
-- WaitForStatus(desiredStatus, timeout) "waits for the service to reach the specified status
-- or for the specified time-out to expire", polling every 250 ms, and throws
-- System.ServiceProcess.TimeoutException then (ServiceController.WaitForStatus, .NET
-- reference). Here the poll re-reads the server's state file, which another process (a
-- change, a test) may write meanwhile; without a process (the in-process sim) there is no
-- time to wait in, so a status not reached times out at once.
local SERVICE_STATUS = { Stopped = 1, StartPending = 2, StopPending = 3, Running = 4,
                         ContinuePending = 5, PausePending = 6, Paused = 7 }

local function service_controller(service, computer)
  local status = SERVICE_STATUS[service.Status] and service.Status or "Stopped"
  return { __service = true, __computer = computer, Name = service.Name,
           DisplayName = service.DisplayName, MachineName = computer,
           Status = cmdlets.enum("System.ServiceProcess.ServiceControllerStatus",
                                 SERVICE_STATUS[status], status) }
end

local function find_service(state, computer, name)
  for _, service in ipairs(state.services[computer] or {}) do
    if service.Name:lower() == tostring(name):lower() then return service end
  end
end

local function get_service(context, named)
  local computer = named.ComputerName or context.state.server
  if not context.state.services[computer] then
    ps_error(("Cannot open Service Control Manager on computer '%s'. This operation might "
              .. "require other privileges."):format(computer), "InvalidOperation",
             "CouldNotOpenServiceManager,Microsoft.PowerShell.Commands.GetServiceCommand")
  end
  local names = named.Name
  if type(names) ~= "table" then names = { names } end
  local list = {}
  for i, name in ipairs(names) do
    local service = find_service(context.state, computer, name)
    if not service then
      ps_error(("Cannot find any service with service name '%s'."):format(tostring(name)),
               "ObjectNotFound",
               "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand")
    end
    list[i] = service_controller(service, computer)
  end
  return list
end

-- "[d.]hh:mm:ss[.fff]" -> seconds, as [TimeSpan] converts the string
local function timespan_seconds(text)
  local days, h, m, sec = tostring(text):match("^(%d*)%.?(%d+):(%d+):([%d.]+)$")
  if not h then
    ps_error(('Cannot convert argument "timeout", with value: "%s", for "WaitForStatus" to '
              .. 'type "System.TimeSpan".'):format(tostring(text)), "NotSpecified",
             "MethodArgumentConversionInvalidCastArgument")
  end
  return (tonumber(days) or 0) * 86400 + tonumber(h) * 3600 + tonumber(m) * 60 + tonumber(sec)
end

-- The server's state as it is now: what this script changed is written first.
local function reread_state(context)
  local path = context.process.state_path
  if context.changed then M.save_state(path, context.state); context.changed = false end
  local fresh = M.load_state(path)
  for key in pairs(context.state) do context.state[key] = nil end
  for key, value in pairs(fresh) do context.state[key] = value end
end

local function wait_for_status(context, controller, args)
  local desired = type(args[1]) == "table" and args[1].__name or tostring(args[1])
  if not SERVICE_STATUS[desired] then
    ps_error(('Cannot convert argument "desiredStatus", with value: "%s", for "WaitForStatus" '
              .. 'to type "System.ServiceProcess.ServiceControllerStatus".'):format(desired),
             "NotSpecified", "MethodArgumentConversionInvalidCastArgument")
  end
  local limit, waited = timespan_seconds(args[2]), 0
  while true do
    local service = find_service(context.state, controller.__computer, controller.Name)
    local status = service and service.Status or "Stopped"
    controller.Status = service_controller(service or controller, controller.__computer).Status
    if status == desired then return nil end
    if not context.process or waited >= limit then
      ps_error('Exception calling "WaitForStatus" with "2" argument(s): "Time out has expired '
               .. 'and the operation has not been completed."', "NotSpecified",
               "TimeoutException")
    end
    context.process.wait(0.25)
    waited = waited + 0.25
    reread_state(context)
  end
end

local BUILTIN = { ["get-service"] = get_service }

local function call_command(context, node)
  if node.name:lower() == "invoke-expression" then return invoke_expression(context, node) end
  charge_cmdlet(context, node.name)
  local impl = BUILTIN[node.name:lower()] or cmdlets.find(node.name)
  if not impl then
    ps_error(("The term '%s' is not recognized as the name of a cmdlet, function, script "
              .. "file, or operable program. Check the spelling of the name, or if a path "
              .. "was included, verify that the path is correct and try again."):format(
              node.name), "ObjectNotFound", "CommandNotFoundException")
  end
  local named, positional = {}, {}
  for _, key in ipairs(node.order) do
    local value = evaluate(context, node.named[key])
    if value == nil then value = cjson.null end   -- -Name $null: given, and empty
    named[key] = value
  end
  for i, arg in ipairs(node.positional) do positional[i] = evaluate(context, arg) end
  return impl(context, named, positional, node.name)
end

-- ForEach-Object { … } after a pipe: the block once per input object, as $_.
local function for_each(context, command, inputs)
  local block = command.positional[1] or command.named.Process
  if command.name:lower() ~= "foreach-object" or #command.positional + #command.order ~= 1
     or not block or block.kind ~= "scriptblock" then
    ps_error(("The emulator takes only ForEach-Object { … } after a pipe, not %s.")
             :format(command.name), "NotImplemented", "EmulatorPipeline")
  end
  local results, saved = {}, context.variables["_"]
  for _, item in ipairs(inputs) do
    context.variables["_"] = item
    for _, out in ipairs(run_statements(context, block.body, true)) do
      results[#results + 1] = out
    end
  end
  context.variables["_"] = saved
  return results
end

-- Output of one statement: a list of objects (a command may write several).
local function outputs(context, node)
  if node.kind == "command" then return call_command(context, node) end
  if node.kind == "pipeline" then
    local items = outputs(context, node.elements[1])
    for i = 2, #node.elements do items = for_each(context, node.elements[i], items) end
    return items
  end
  local value = evaluate(context, node)
  if value == nil then return {} end
  return { value }
end

-- The .NET members the stdin bootstrap and the command script of modules/powershell.lua
-- use; type names as PowerShell resolves them, with or without "System.".
local UTF8 = { __dotnet = "System.Text.UTF8Encoding" }
local CONSOLE_OUT = { __dotnet = "System.IO.TextWriter" }   -- [Console]::Out: the stdout
local STATIC = {
  ["text.encoding::utf8"] = function() return UTF8 end,
  ["console::out"] = function() return CONSOLE_OUT end,
  ["convert::tobase64string"] = function(bytes)
    return powershell.base64(type(bytes) == "table" and bytes.__bytes or "")
  end,
  ["convert::frombase64string"] = function(text)
    local bytes = powershell.unbase64(tostring(text or ""):gsub("%s", ""))
    if not bytes then
      ps_error('Exception calling "FromBase64String" with "1" argument(s): "The input is '
               .. 'not a valid Base-64 string as it contains a non-base 64 character, more '
               .. 'than two padding characters, or an illegal character among the padding '
               .. 'characters. "', "NotSpecified", "FormatException")
    end
    return { __bytes = bytes }
  end,
}

local function static(node, args)
  local type_name = node.type:lower():gsub("^system%.", "")
  local impl = STATIC[type_name .. "::" .. node.name:lower()]
  if impl then return impl(table.unpack(args or {})) end
  ps_error(("Unable to find type [%s]."):format(node.type), "InvalidOperation",
           "TypeNotFound")
end

local function call_method(context, object, name, args)
  local lower = name:lower()
  if lower == "tostring" then return object ~= nil and tostring(object) or "" end
  if type(object) == "table" and object.__service and lower == "waitforstatus" then
    return wait_for_status(context, object, args)
  end
  if object == UTF8 and lower == "getstring" and type(args[1]) == "table" and args[1].__bytes then
    return args[1].__bytes
  end
  if object == UTF8 and lower == "getbytes" then return { __bytes = tostring(args[1] or "") } end
  if object == CONSOLE_OUT and lower == "writeline" then
    context.write_host(tostring(args[1] or "") .. "\r\n")
    return nil
  end
  ps_error("Method invocation failed because the object does not contain a method named '"
           .. name .. "'.", "InvalidOperation", "MethodNotFound")
end

-- $input: the lines of the process's stdin, read on first use.
local function input_lines(context)
  if not context.input then
    local text = context.stdin
    if type(text) == "function" then text = text() end
    context.input = { __array = true }
    for line in (text or ""):gmatch("[^\r\n]+") do context.input[#context.input + 1] = line end
  end
  return context.input
end

function evaluate(context, node)
  local kind = node.kind
  if kind == "literal" then return node.value
  elseif kind == "variable" then
    local name = node.name:lower()
    if name == "true" then return true elseif name == "false" then return false
    elseif name == "null" then return nil elseif name == "input" then
      return input_lines(context)
    end
    return context.variables[name]
  elseif kind == "array" then
    local list = { __array = true }
    local collected = run_statements(context, node.body, true)
    for _, item in ipairs(collected) do
      if type(item) == "table" and item.__array then
        for _, inner in ipairs(item) do list[#list + 1] = inner end
      else
        list[#list + 1] = item
      end
    end
    return list
  elseif kind == "list" then
    local list = { __array = true }
    for i, item in ipairs(node.items) do list[i] = evaluate(context, item) end
    return list
  elseif kind == "hashtable" then
    local object = { __order = {} }
    for _, pair in ipairs(node.pairs) do
      object[pair.key] = evaluate(context, pair.value)
      object.__order[#object.__order + 1] = pair.key
    end
    return object
  elseif kind == "paren" then
    local list = outputs(context, node.inner)
    if #list == 1 then return list[1] end
    list.__array = true
    return list
  elseif kind == "cast" then
    return cmdlets.cast(node.type, evaluate(context, node.value))
  elseif kind == "scriptblock" then
    return { __scriptblock = node }
  elseif kind == "member" then
    return member(evaluate(context, node.object), node.name)
  elseif kind == "static" then
    return static(node)
  elseif kind == "call" then
    local args = {}
    for i, arg in ipairs(node.args or {}) do args[i] = evaluate(context, arg) end
    if node.type then return static(node, args) end
    return call_method(context, evaluate(context, node.object), node.name, args)
  elseif kind == "join" then
    local value = evaluate(context, node.value)
    if type(value) ~= "table" or not value.__array then return tostring(value or "") end
    local parts = {}
    for i, item in ipairs(value) do parts[i] = tostring(item) end
    return table.concat(parts)
  end
  return outputs(context, node)[1]
end

-- Runs statements; collect=true returns their output, otherwise it goes to context.output.
function run_statements(context, body, collect)
  local collected = {}
  for _, node in ipairs(body) do
    if node.kind == "assign" then
      local list = outputs(context, node.value)
      local value = list[1]
      if #list > 1 then value = list; list.__array = true end
      context.variables[node.name:lower()] = value
    elseif node.kind == "exit" then
      error({ exit = true, code = node.code and evaluate(context, node.code) or 0 }, 0)
    elseif node.kind == "try" then
      local ok, err = pcall(run_statements, context, node.body, collect)
      if ok then
        for _, item in ipairs(err) do collected[#collected + 1] = item end
      elseif type(err) == "table" and err.ps_error then
        context.variables["_"] = error_record(err)
        local caught = run_statements(context, node.catch, collect)
        for _, item in ipairs(caught) do collected[#collected + 1] = item end
      else
        error(err, 0)
      end
    else
      for _, item in ipairs(outputs(context, node)) do
        if collect then collected[#collected + 1] = item
        else
          context.output[#context.output + 1] = item
          context.write_host(text_of(item) .. "\r\n")   -- Out-Default, in order
        end
      end
    end
  end
  return collected
end

-- --------------------------------------------------------------- entry points

local function decode_command_line(command_line)
  local words = {}
  for word in command_line:gmatch("%S+") do words[#words + 1] = word end
  local program = (words[1] or ""):lower()
  if program ~= "powershell" and program ~= "powershell.exe" then
    return nil, ("'%s' is not recognized as an internal or external command,\r\noperable "
                 .. "program or batch file."):format(words[1] or "")
  end
  for i = 2, #words - 1 do
    if words[i]:lower() == "-encodedcommand" then
      local bytes = powershell.unbase64(words[i + 1])
      local script = bytes and powershell.from_utf16le(bytes)
      if not script then return nil, "Cannot process the command because the value "
                                      .. "specified with -EncodedCommand is not properly "
                                      .. "encoded. The value must be Base64 encoded." end
      return script
    end
  end
  return nil, "this emulator only runs powershell -EncodedCommand"
end

--- run_script(script, state, stdin, process) -> {stdout=, stderr=, status=}, changed
-- stdin: the process's input, a string or a function that reads it (only when the
-- script asks for $input, as a real process would block on it only then).
-- process (optional): the emulated PowerShell process (M.start_process) that is charged
-- and counted for the script and its cmdlets.
function M.run_script(script, state, stdin, process)
  if process then M.count(process.state_path, "script") end
  local console = {}   -- what the process writes to stdout, in order: objects and host text
  local context = { variables = {}, output = {}, state = state, changed = false,
                    stdin = stdin, process = process,
                    write_host = function(text) console[#console + 1] = text end }
  local ok, err = pcall(function()
    local tree = psparse.parse(script)
    run_statements(context, tree.body, false)
  end)
  local stdout = table.concat(console)
  if ok then return { stdout = stdout, stderr = "", status = 0 }, context.changed, context end
  if type(err) == "table" and err.exit then
    return { stdout = stdout, stderr = "", status = math.tointeger(err.code) or 1 },
           context.changed, context
  end
  if type(err) == "table" and (err.ps_error or err.parse_error) then
    local text = err.message .. "\r\n"
    if err.ps_error then
      text = ("%s\r\n    + CategoryInfo          : %s\r\n    + FullyQualifiedErrorId : %s\r\n")
             :format(err.message, err.category, err.id)
    end
    context.error = err
    return { stdout = stdout, stderr = text, status = 1 }, context.changed, context
  end
  error(err, 0)   -- a bug in the emulator: let it show
end

--- run_session_script(script, state_path, process) -> status, json, console: one script of a
-- persistent session (powershell.session_script), against the server's state as it is now
-- (re-read for every script: a test may change it between two). The answer is what the
-- script left in $status and $json, or the error record of what it did not catch; console
-- is what it wrote to the screen meanwhile (a status report), which precedes the frame.
function M.run_session_script(script, state_path, process)
  local state = M.load_state(state_path)
  local result, changed, context = M.run_script(script, state, nil, process)
  if changed then M.save_state(state_path, state) end
  local variables = context.variables
  if variables.json ~= nil and result.status == 0 then
    return math.tointeger(variables.status) or 1, tostring(variables.json), result.stdout
  end
  local err = context.error or { message = result.stderr, category = "NotSpecified",
                                 id = "runbook.emulator" }
  return 1, cjson.encode({ message = err.message, category = err.category or "ParserError",
                           FullyQualifiedErrorId = err.id or "ParseException" }), result.stdout
end

--- session_of(command_line) -> the boundary when the command line starts a persistent
-- session (powershell.session_command), else nil.
function M.session_of(command_line)
  local script = decode_command_line(command_line)
  return script and powershell.session_boundary(script)
end

--- run_command_line(command_line, state_path, stdin, process) -> {stdout=, stderr=, status=}
-- Loads the state, runs the script, saves the state if a cmdlet changed it.
function M.run_command_line(command_line, state_path, stdin, process)
  local script, err = decode_command_line(command_line)
  if not script then return { stdout = "", stderr = err .. "\r\n", status = 1 } end
  local state = M.load_state(state_path)
  local result, changed = M.run_script(script, state, stdin, process)
  if changed then M.save_state(state_path, state) end
  return result
end

return M
