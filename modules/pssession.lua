--- pssession — one PowerShell per host per run. A Windows server pays seconds for every
-- PowerShell process and again for the Lync module's first use in it; a session starts one
-- process per host (powershell.session_command: a loop reading one script per line) and
-- sends it every script of the run — plan, preflight, steps, verify, rollback:
--
--   local session = pssession.get(host, opener)    -- opener(host, command, options)
--   local frame = powershell.session_frame(powershell.session_script(pipeline))
--   local result, err, code, ended = session:call(frame, {timeout=, read_permit=})
--     -- {stdout = JSON, stderr = "", status = 0|1}, what powershell.parse reads
--   pssession.close_all()                          -- every session, at the end of the run
--
-- The opener is the transport's (modules/cmdlet.lua registers ssh's, an exec channel, and
-- winrm's, one shell and one command fed by Send and read by Receive): it starts the
-- command and returns a channel with send(data, {read_permit=, timeout=}),
-- receive(max, {timeout=}), stderr() and close(). Answers travel in frames only the session
-- knows the boundary of (powershell.find_frame), so what a cmdlet prints around them is
-- noise, never a parse error.
--
-- The plan guarantee holds per script: while planning and in a read-only task each frame
-- carries a read permit for exactly its bytes (kind "powershell-frame", verified by
-- runbook.reads and checked in C by the channel's send); the session's own command line
-- has one of kind "powershell-session". No permit covers the session as a whole.
--
-- A lost connection is re-opened once per call. A read is sent again on the new session; a
-- change that may have reached the server is never sent again: the call fails with cause
-- "closed" and says so, and the next check reads the state afresh. A host whose server ends
-- the session's process at once (a forced command, a JEA endpoint in no-language mode) is
-- served one process per command from then on: get() returns nil for it, and -v says why.
local powershell = require "powershell"
local reads = require "runbook.reads"
require "powershell.reads"   -- registers the "powershell-frame" verifier this module asks
local say = require "runbook.say"
local task = require "runbook.task"

local M = {}

local sessions = {}       -- host key -> session
local per_command = {}    -- host key -> why the host is served one process per command

local Session = {}
Session.__index = Session

local function random_boundary()
  local file = assert(io.open("/dev/urandom", "rb"))
  local bytes = file:read(16)
  file:close()
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- A permit for what is about to be written, while mutation is refused; nil otherwise (or
-- when the proof fails: the C side then refuses, naming what it was asked to send).
local function permit_while_read_only(kind, text)
  if pcall(task.check_mutation, "write to a PowerShell session") then return nil end
  -- loaded on first use: only reads while planning need a permit
  return (require("runbook.permit").read(kind, text))
end

-- Reads until the buffer holds what find(buffer, from) finds; -> its results | nil, err, code
function Session:read_until(find, timeout)
  while true do
    local found = table.pack(find(self.buffer, self.from))
    if found[1] ~= nil then return table.unpack(found, 1, found.n) end
    local data, err, code = self.channel:receive(65536, { timeout = timeout })
    if not data then return nil, err, code end
    self.buffer = self.buffer .. data
  end
end

-- Drops the connection (the server's process ends with its input).
function Session:drop()
  if self.channel then pcall(self.channel.close, self.channel) end
  if self.ssh then pcall(self.ssh.close, self.ssh) end
  self.channel, self.ssh, self.buffer, self.from = nil, nil, "", 1
end

-- Starts the session's process and waits for its "ready" line.
-- -> true | nil, message, code, ended (ended: the server ended the process at once)
function Session:open()
  local boundary = random_boundary()
  local command = powershell.session_command(boundary)
  local channel, err, code, ssh = self.opener(self.host, command, {
    timeout = self.host.timeout or 30,
    read_permit = permit_while_read_only("powershell-session", command) })
  if not channel then return nil, err, code end
  self.channel, self.ssh, self.boundary, self.buffer, self.from = channel, ssh, boundary, "", 1
  local ready = boundary .. " ready"
  local found, read_err, read_code = self:read_until(function(buffer)
    local at = buffer:find(ready, 1, true)
    return at and at + #ready or nil
  end, self.host.command_timeout or 60)   -- a process start: a command's time, not a login's
  if not found then
    local said = channel:stderr():match("^%s*([^\r\n]*)") or ""
    self:drop()
    return nil, read_err, read_code, read_code == "closed" and said or nil
  end
  self.from = found
  self.opened = (self.opened or 0) + 1
  return true
end

-- One script over the open session -> result | nil, message, code, sent (sent: its bytes
-- may have reached the server).
function Session:exchange(frame, permit, timeout)
  local sent, err, code = self.channel:send(frame, { read_permit = permit, timeout = timeout })
  if not sent then return nil, err, code, true end
  local status, json, next_from = self:read_until(function(buffer, from)
    return powershell.find_frame(buffer, self.boundary, from)
  end, timeout)
  if status == nil then return nil, json, next_from, true end
  self.buffer, self.from = self.buffer:sub(next_from), 1
  if status == false then
    return nil, ("a PowerShell session frame runbook cannot read: %q"):format(json:sub(1, 80)),
           "protocol", true
  end
  return { stdout = json, stderr = "", status = status }
end

--- session:warm(): starts opening the session in a task of its own and returns at once, so
-- that the sessions of several hosts start together (a run opens every host's up front:
-- cmdlet.open_sessions). The first call waits for it; when the open failed, that call
-- answers its failure instead of trying again (a host that does not answer costs its
-- timeout once).
function Session:warm()
  if self.channel or self.last then return end
  self.last = task.spawn(function()
    local ok, err, code, ended = self:open()
    if not ok then self.warm_failure = { err, code, ended } end
  end)
end

-- The call itself, with one re-open of a lost session; runs alone on the session.
function Session:call_alone(frame, options)
  local failed = self.warm_failure
  if failed then
    self.warm_failure = nil
    return nil, failed[1], failed[2], failed[3]
  end
  local permit = options.read_permit
  local resendable = reads.verify("powershell-frame", frame) and true or false
  local timeout = options.timeout or self.host.command_timeout
  local last_err, last_code, tries
  for attempt = 1, 2 do   -- the first try, and once more on a re-opened session
    if not self.channel then
      local ok, err, code, ended = self:open()
      if not ok then
        if not self.opened then return nil, err, code, ended end   -- as one command's would
        return nil, ("%s: the PowerShell session was lost and could not be re-opened: %s")
          :format(self.label, tostring(err)), code
      end
    end
    local result, err, code, sent = self:exchange(frame, permit, timeout)
    if result then return result end
    self:drop()
    last_err, last_code, tries = err, code, attempt
    if sent and not resendable then
      return nil, ("%s: the connection was lost while a change was running (%s); runbook "
        .. "does not send a change twice: the next check reads the state again"):format(
        self.label, tostring(err)), code
    end
    if code == "timeout" or code == "limit" then break end   -- not a loss: not tried again
  end
  if tries == 1 then return nil, ("%s: %s"):format(self.label, tostring(last_err)), last_code end
  return nil, ("%s: the PowerShell session was lost twice: %s"):format(self.label,
    tostring(last_err)), last_code
end

--- session:call(frame, {timeout=, read_permit=}) -> {stdout=, stderr=, status=}
--   | nil, message, code [, ended]
-- ended (the server's first words) when the server ended the session's process at once:
-- the caller serves the host one process per command (fall_back). Calls of several tasks
-- on one host take turns (one script at a time in the process).
function Session:call(frame, options)
  local previous = self.last
  local turn = task.spawn(function()
    if previous then previous:join() end
    return self:call_alone(frame, options or {})
  end)
  self.last = turn
  local outcome = table.pack(turn:join())
  if not outcome[1] then error(outcome[2], 0) end
  local result, err, code, ended = table.unpack(outcome, 2, outcome.n)
  if ended ~= nil then return nil, err, code, ended end
  return result, err, code
end

-- What tells two inventory entries' sessions apart: where, as whom, and how it is proven.
local KEY_FIELDS = { "transport", "address", "name", "port", "user", "key_file", "passphrase",
                     "password", "agent", "agent_socket", "known_hosts", "host_key_policy",
                     "scheme", "auth", "ca_file", "ccache", "allow_unencrypted" }

--- key(host) -> the identity of a host's session (credential references, never secrets).
function M.key(host)
  local parts = {}
  for i, field in ipairs(KEY_FIELDS) do parts[i] = tostring(host[field]) end
  return table.concat(parts, "\0")
end

--- get(host, opener) -> the host's session, or nil when the host is served one process per
-- command (host.session == false in the inventory, or its server ended a session at once).
function M.get(host, opener)
  local key = M.key(host)
  if host.session == false or per_command[key] then return nil end
  local session = sessions[key]
  if not session then
    session = setmetatable({ host = host, opener = opener, buffer = "", from = 1,
                             label = tostring(host.name or host.address) }, Session)
    sessions[key] = session
  end
  return session
end

--- fall_back(host, why): the host is served one process per command from now on.
function M.fall_back(host, why)
  local key = M.key(host)
  per_command[key] = why
  sessions[key] = nil
  if say.verbose then
    say.note(("%s: no persistent PowerShell session (%s): one PowerShell process per "
              .. "command"):format(tostring(host.name or host.address), why))
  end
end

--- mode(host) -> "session", "per-command" and why, or nil when nothing was tried yet.
function M.mode(host)
  local key = M.key(host)
  if per_command[key] then return "per-command", per_command[key] end
  if sessions[key] and sessions[key].channel then return "session" end
end

--- close_all(): ends every session (the server's process ends with its input) and forgets
-- which hosts could not keep one: the end of a run (task.at_exit runs it, after Ctrl-C too).
function M.close_all()
  for key, session in pairs(sessions) do
    session:drop()
    sessions[key] = nil
  end
  for key in pairs(per_command) do per_command[key] = nil end
end

return M
