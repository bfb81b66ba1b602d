--- cmdlet — runs a PowerShell cmdlet on a Windows server of the inventory and returns its
-- output as Lua tables:
--
--   local cmdlet = require "cmdlet"
--   local sites = cmdlet(host, "Get-CsSite", {Identity = "Site2"})   -- = cmdlet.invoke
--
-- host is an inventory entry: {name=, transport="ssh"|"sim", ...}. The transport decides
-- how the script travels; the script itself (modules/powershell.lua) is the same for all:
--   ssh  address= (default name), port=22, user=, key_file=, passphrase=, agent=,
--        password=, known_hosts=, host_key_policy=, timeout= (connect), command_timeout=
--        passphrase and password are credential references (runbook.secrets).
--        One connection per host is kept and reused; tasks that run commands on the same
--        host at the same time get one connection each.
--   winrm address= (default name), port= (5986; 5985 for http), scheme="https"|"http"
--        (http only when set), auth="ntlm"|"basic"|"kerberos", user=, password=, ca_file=,
--        timeout= (per HTTP exchange), command_timeout=, operation_timeout=,
--        max_envelope_size=, allow_unencrypted= (http: unsealed), ccache= (Kerberos)
--        (modules/winrm.lua). One shell per host for the run, its one command a persistent
--        PowerShell (modules/pssession.lua); one shell per command for a host that cannot
--        keep one.
--   sim  state_file= : the Lync emulator in-process, registered by the lab plug-in
--        (modules/lab/init.lua) when an inventory has a lab table.
--   local powershell= "powershell" (default), "pwsh" or a path the installation lists
--        (runbook.process.read_programs()), command_timeout= : PowerShell on this machine,
--        started without a shell (runbook.process), with runbook's arguments only.
--
-- A PowerShell error raises "[cmdlet] Set-CsSite on fe1.contoso.com failed: <Microsoft's
-- message> (<category>)" (a runbook.failure of cause "command"); cmdlet.try returns nil,
-- record instead. Transport failures (timeout, auth, host key...) raise "[cmdlet] could not
-- run … on …" with their cause from runbook.failure's list; try returns them as a record
-- with transport = true and cause, which no caller may read as a domain verdict.
--
-- While planning and inside a read-only task (a step's hosts, check, verify) a script runs
-- only when runbook.reads proves it a read — an instance of a registered read template, or
-- only cmdlets and parameters on the read allow-list (docs/security.md) — for invoke, try
-- and evaluate alike; anything else refuses before it is sent. The proof, a
-- read permit for the exact command line, goes to the transport (options.read_permit): ssh
-- exec, process.run and WinRM's HTTP requests refuse without it (runtime/permit.h).
local failure = require "runbook.failure"
local i18n = require "runbook.i18n"
local phase = require "runbook.phase"
local powershell = require "powershell"
local pssession = require "pssession"
local reads = require "powershell.reads"
local say = require "cmdlet_messages"     -- a failure said in en, de and fr
local task = require "runbook.task"

local M = {}

local transports = {}
local kept = { generation = nil, answers = {}, under_way = {}, asking = 0 }   -- reads kept
                                                                         -- per phase (below)

local function host_name(host)
  return tostring(host.name or host.address)
end
local pools = {}   -- ssh: user, address, port and identity options -> idle sessions

-- A passphrase or password is a credential reference (env:NAME, file:PATH, prompt) or a
-- Secret; its value is revealed only here, where it is handed to libssh2.
local function reveal(reference, label)
  if reference == nil then return nil end
  -- loaded on first use: only hosts with credentials need it
  local secrets = require "runbook.secrets"
  return secrets.resolve(reference, label):reveal()
end

local function ssh_options(host)
  local name = host_name(host)
  return { host = host.address or host.name, port = host.port or 22, user = host.user,
           key_file = host.key_file, agent = host.agent, agent_socket = host.agent_socket,
           passphrase = reveal(host.passphrase, "the key passphrase for " .. name),
           password = reveal(host.password, "the SSH password for " .. name),
           known_hosts = host.known_hosts, host_key_policy = host.host_key_policy,
           timeout = host.timeout }
end

-- Runs a command line over SSH on a pooled session (opened on first use).
function transports.ssh(host, command_line, options)
  -- loaded on first use: libssh2 (docs/architecture.md)
  local ssh = require "runbook.ssh"
  local o = ssh_options(host)
  local key = table.concat({ tostring(o.user), o.host, o.port, tostring(o.key_file),
                             tostring(o.known_hosts), tostring(o.host_key_policy),
                             tostring(o.agent), tostring(o.agent_socket) }, "\0")
  local idle = pools[key] or {}
  pools[key] = idle
  local session = table.remove(idle)
  if not session then
    local err, code
    session, err, code = ssh.session(o)
    if not session then return nil, err, code end
  end
  local result, err, code = session:exec(command_line, { timeout = options.timeout
                                                         or host.command_timeout,
                                                         stdin = options.stdin,
                                                         read_permit = options.read_permit })
  if result then idle[#idle + 1] = session else session:close() end
  return result, err, code
end

-- A persistent PowerShell over SSH (modules/pssession.lua): its own connection, one exec
-- channel running the session's command -> channel, nil, nil, the SSH session.
local function ssh_open_process(host, command, options)
  -- loaded on first use: libssh2 (docs/architecture.md)
  local ssh = require "runbook.ssh"
  local session, err, code = ssh.session(ssh_options(host))
  if not session then return nil, err, code end
  local channel
  channel, err, code = session:process(command, options)
  if not channel then session:close(); return nil, err, code end
  return channel, nil, nil, session
end

-- The options modules/winrm.lua takes for an inventory host.
local function winrm_options(host)
  local name = host_name(host)
  return { name = name, address = host.address or host.name, port = host.port,
           scheme = host.scheme, auth = host.auth, user = host.user,
           password = reveal(host.password, "the WinRM password for " .. name),
           ca_file = host.ca_file, timeout = host.timeout,
           allow_unencrypted = host.allow_unencrypted, ccache = host.ccache,
           command_timeout = host.command_timeout,
           operation_timeout = host.operation_timeout,
           max_envelope_size = host.max_envelope_size }
end

-- A persistent PowerShell over WinRM (modules/pssession.lua): one connection, one shell and
-- one command running the session's command line -> channel. Its connection carries only
-- that command's exchange in every mode, so it is opened with the session's read permit
-- always (not only while mutation is refused): its Receives go on in read-only tasks too.
local function winrm_open_process(host, command, options)
  -- loaded on first use: libcurl and GSS-API (docs/architecture.md)
  local winrm = require "winrm"
  local permit = options.read_permit
  if not permit then
    local why
    -- loaded on first use: only hosts reached over WinRM need it outside a plan
    permit, why = require("runbook.permit").read("powershell-session", command)
    if not permit then
      return nil, "no read permit for the session's command line: " .. tostring(why), "protocol"
    end
  end
  return winrm.open_process(winrm_options(host), command, { read_permit = permit })
end

-- Transports that keep one PowerShell per host for the run: name -> opener (pssession).
local session_openers = { ssh = ssh_open_process, winrm = winrm_open_process }

-- One remote shell per command over WS-Management (modules/winrm.lua).
function transports.winrm(host, command_line, options)
  -- loaded on first use: libcurl and GSS-API (docs/architecture.md)
  local winrm = require "winrm"
  return winrm.run(winrm_options(host), command_line, options)
end

-- The program the local transport starts: host.powershell names one of the read programs
-- (runbook.process's closed set: "powershell", "pwsh", and what the installation lists),
-- as a string or a list of one; the arguments are runbook's own. An inventory is data: it
-- may choose among PowerShells, never name another program or add arguments, in a run as
-- much as in a plan.
local function local_program(host, process)
  local given = host.powershell or "powershell"
  local chosen = given
  if type(given) == "table" and #given == 1 then chosen = given[1] end
  local programs = process.read_programs()
  for _, program in ipairs(programs) do
    if chosen == program then return program end
  end
  local shown = ("%q"):format(tostring(given))
  if type(given) == "table" then
    local items = {}
    for i, item in ipairs(given) do items[i] = ("%q"):format(tostring(item)) end
    shown = "{ " .. table.concat(items, ", ") .. " }"
  end
  error(("[cmdlet] %s: powershell = %s is not a PowerShell runbook starts: name one of %s "
         .. "(the arguments are runbook's own; an installation lists other paths in "
         .. "read-programs beside runbook.process, docs/transports.md)")
        :format(host_name(host), shown, table.concat(programs, ", ")), 0)
end

-- PowerShell on this machine (runbook on the management server itself): the command line's
-- words after "powershell" go to the chosen program, started without any shell.
transports["local"] = function(host, command_line, options)
  -- loaded on first use: a C module of its own (docs/architecture.md)
  local process = require "runbook.process"
  local argv = { local_program(host, process) }
  local first = true
  for word in command_line:gmatch("%S+") do
    if not first then argv[#argv + 1] = word end
    first = false
  end
  return process.run(argv, { stdin = options.stdin, read_permit = options.read_permit,
                             timeout = options.timeout or host.command_timeout })
end


--- ssh_options(host) -> the options runbook.ssh.session takes for an inventory host
M.ssh_options = ssh_options

--- register_transport(name, fn): fn(host, command_line, options) -> {stdout=, stderr=,
-- status=} | nil, message, code. options: timeout= (seconds), stdin= (text for the
-- command's standard input, or nil), read_permit= (when the command is a proven read).
function M.register_transport(name, fn)
  transports[name] = fn
end

--- close_all(): closes every persistent PowerShell session and every pooled SSH
-- connection (at the end of a run, also after Ctrl-C: task.at_exit).
function M.close_all()
  kept.answers = {}
  pssession.close_all()
  for key, idle in pairs(pools) do
    for _, session in ipairs(idle) do session:close() end
    pools[key] = nil
  end
end
task.at_exit(M.close_all)

--- is_mutating(name) -> whether the cmdlet may change something (not on the read allow-list).
function M.is_mutating(name)
  return not reads.is_read_cmdlet(name)
end

-- While planning or inside a read-only task: the read permit for the command line (kind
-- "powershell"; "powershell-frame" for a script written into a session), or the refusal
-- (raised at the caller of invoke/try/evaluate). Otherwise nil: nothing to prove.
local function permit_or_refuse(host, label, kind, command_line, stdin)
  local ok, refusal = pcall(task.check_mutation, ("run %s on %s"):format(label, host_name(host)))
  if ok then return nil end
  -- loaded on first use: only reads while planning need a permit
  local permit, why = require("runbook.permit").read(kind, command_line, stdin)
  if permit then return permit end
  error(("[cmdlet] %s (not a read: %s)"):format(refusal, why), 0)
end

local function transport_failure(err, code)
  return nil, { message = err, category = code, transport = true,
                cause = failure.cause_of_code(code) }
end

-- Over the host's persistent session when its transport keeps one -> list | nil, record;
-- nothing (no value) when the host is served one process per command.
local function run_in_session(host, label, pipeline, options)
  local opener = session_openers[host.transport or "ssh"]
  local session = opener and pssession.get(host, opener)
  if not session then return end
  local frame = powershell.session_frame(powershell.session_script(pipeline))
  local read_permit = permit_or_refuse(host, label, "powershell-frame", frame)
  local result, err, code, ended = session:call(frame, { timeout = (options or {}).timeout,
                                                         read_permit = read_permit })
  if result then return powershell.parse(result) end
  if not ended then return transport_failure(err, code) end
  pssession.fall_back(host, ended ~= "" and ("the server said: " .. ended)
                              or "the server ended it at once")
end

-- ------------------------------------------------------------- reads kept per phase
-- A read asked with options.cache (lync's Get-CsSite, Get-CsPool, Get-CsWindowsService) is
-- sent once per host per phase (runbook.phase: a step of the plan, the preflight, a step of
-- the run or of the rollback); later asks in the phase get a copy of its answer. Any script
-- that is not a proven read, to any host, forgets them all before and after it is sent: a
-- change invalidates what was read. Waits never ask with cache.
local function kept_answers()
  if kept.generation ~= phase.generation() then
    kept.generation, kept.answers, kept.under_way = phase.generation(), {}, {}
  end
  return kept.answers
end

local function copy(value)
  if type(value) ~= "table" then return value end
  local out = {}
  for key, item in pairs(value) do out[key] = copy(item) end
  return setmetatable(out, getmetatable(value))
end

-- Forgets every kept read (and every one under way) when the pipeline may change something.
local function forget_if_change(pipeline)
  if next(kept.answers) == nil and kept.asking == 0 then return end
  local frame = powershell.session_frame(powershell.session_script(pipeline))
  if not reads.verify("powershell-frame", frame) then kept.answers, kept.under_way = {}, {} end
end

local send

--- server_key(host) -> which server, over what, as whom: every plain field of the
-- inventory entry (credential references, never secrets), as one string.
function M.server_key(host)
  local parts = {}
  for field, value in pairs(host) do
    if type(value) == "string" or type(value) == "number" or type(value) == "boolean" then
      parts[#parts + 1] = field .. "=" .. tostring(value)
    end
  end
  table.sort(parts)
  return table.concat(parts, "\0")
end

local server_key = M.server_key

-- A read asked with options.cache: the answer kept for this phase, else sent and kept,
-- unless a change was sent meanwhile.
-- The same read asked again while it is under way (32 Edge servers' checks asking the Front
-- End at once) waits for that one's answer instead of queueing a copy in the session.
local function run_kept(host, label, pipeline, options)
  if phase.generation() == 0 then return send(host, label, pipeline, options) end  -- no run
  local answers, key = kept_answers(), server_key(host) .. "\0\0" .. pipeline
  if answers[key] then return copy(answers[key]) end
  local asking, under_way = kept.under_way[key], kept.under_way
  if not asking then
    local finished = false   -- a transport that never waits ends it inside spawn
    asking = task.spawn(function()
      kept.asking = kept.asking + 1
      local outcome = table.pack(pcall(send, host, label, pipeline, options))
      kept.asking, finished = kept.asking - 1, true
      if under_way[key] == asking then under_way[key] = nil end
      if not outcome[1] then error(outcome[2], 0) end
      if outcome[2] and kept.answers == answers then answers[key] = copy(outcome[2]) end
      return outcome[2], outcome[3]
    end)
    if not finished then under_way[key] = asking end
  end
  local ok, results, record = asking:join()
  if not ok then error(results, 0) end
  return copy(results), record
end

-- Sends a pipeline (PowerShell text built by modules/powershell.lua) and parses the answer,
-- or answers a read kept for this phase.
local function run(host, label, pipeline, options)
  if options and options.cache then return run_kept(host, label, pipeline, options) end
  forget_if_change(pipeline)
  local answer = table.pack(send(host, label, pipeline, options))
  forget_if_change(pipeline)
  return table.unpack(answer, 1, answer.n)
end

-- Sends a pipeline and parses the answer.
function send(host, label, pipeline, options)
  assert(type(host) == "table", "[cmdlet] host must be an inventory entry (a table)")
  local transport = transports[host.transport or "ssh"]
  if not transport then
    error(("[cmdlet] transport %q of %s is not available: use ssh, winrm, local or sim")
          :format(tostring(host.transport), host_name(host)), 3)
  end
  local answer = table.pack(run_in_session(host, label, pipeline, options))
  if answer.n > 0 then return table.unpack(answer, 1, answer.n) end
  -- the answer comes framed: what a cmdlet writes to the screen around it is no parse error
  local boundary = powershell.new_boundary()
  local command_line, stdin = powershell.invocation(powershell.command_script(pipeline,
                                                                              boundary))
  local read_permit = permit_or_refuse(host, label, "powershell", command_line, stdin)
  local result, err, code = transport(host, command_line, { timeout = (options or {}).timeout,
                                                           stdin = stdin,
                                                           read_permit = read_permit })
  if not result then return transport_failure(err, code) end
  return powershell.parse_framed(result, boundary)
end

--- raise(host, label, record): raises the failure a try's record describes — the transport's
-- cause when the server could not be asked (never a domain verdict), else "command".
function M.raise(host, label, record)
  if record.transport then
    failure.raise(record.cause, say("could_not_run", label, host_name(host),
      i18n.verbatim(record.message), record.cause))
  end
  failure.raise("command", say("failed", label, host_name(host), i18n.verbatim(record.message),
    tostring(record.category)))
end

--- try(host, name, parameters, options) -> list of objects | nil, error record
-- The record: {message=, category=, FullyQualifiedErrorId=} or, when the transport
-- failed, {message=, category=<code>, transport=true}.
function M.try(host, name, parameters, options)
  local pipeline = powershell.command(name, parameters or {})
  if options and options.project then     -- the output shaped on the server
    -- loaded on first use: only projected reads need it
    pipeline = require("powershell.projection").pipeline(pipeline, options.project)
  end
  return run(host, name, pipeline, options)
end

--- invoke(host, name, parameters, options) -> list of objects; raises on failure.
-- options: timeout= (seconds for the command), project= (the fields of a
-- powershell.projection: each object shaped into plain data on the server).
function M.invoke(host, name, parameters, options)
  local results, record = M.try(host, name, parameters, options)
  if not results then M.raise(host, name, record) end
  return results
end

--- open_sessions(hosts): starts opening the persistent session of every host whose
-- transport keeps one, all at once, without waiting (pssession's warm): a run's checks then
-- find them open or opening, and one session start lies on the critical path, not one per
-- step that meets a new host. Failures are answered to the first call to that host.
function M.open_sessions(hosts)
  for _, host in ipairs(hosts) do
    local opener = session_openers[host.transport or "ssh"]
    local session = opener and pssession.get(host, opener)
    if session then session:warm() end
  end
end

--- try_script(host, label, script, options) -> list | nil, record: several statements in one
-- round trip (lync's stop of every service of a server, with a result per service); the
-- script must come from code, never from inventory values (use powershell.literal).
function M.try_script(host, label, script, options)
  return run(host, label, script, options)
end

--- evaluate(host, expression, options) -> list; raises. For probes that are not a plain
-- cmdlet call, such as "(Get-Command -Name 'Set-CsSite').Parameters.Keys". While planning
-- and in checks it runs only what runbook.reads proves a read, like invoke.
-- The expression must come from code, never from inventory values (use powershell.literal).
function M.evaluate(host, expression, options)
  local results, record = run(host, expression, expression, options)
  if not results then M.raise(host, expression, record) end
  return results
end

return setmetatable(M, { __call = function(_, ...) return M.invoke(...) end })
